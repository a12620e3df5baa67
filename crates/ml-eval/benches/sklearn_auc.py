"""scikit-learn's roc_auc_score on the same 10M vectors as benches/auc.rs.

~/.cache/ml-peers/venv/bin/python crates/ml-eval/benches/sklearn_auc.py
Rebuilds ml_core::dataset::unit_uniform (SplitMix64 finalizer) in numpy, prints the AUC (to check
it is the same vector) and the best of 5 wall-clock times of roc_auc_score, single process.
"""
import time
import numpy as np
from sklearn.metrics import roc_auc_score

N = 10_000_000
GOLD = np.uint64(0x9E3779B97F4A7C15)


def unit_uniform(seed, counter):
    z = np.uint64(seed) * GOLD + counter + GOLD
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


with np.errstate(over="ignore"):
    i = np.arange(N, dtype=np.uint64)
    u = unit_uniform(1, i)
    v = unit_uniform(2, i)
    w = 0.5 + unit_uniform(3, i)
y = (v < 0.2 + 0.6 * u).astype(np.float64)
for name, s, sw in (("continuous", u, None), ("ties_3dp", np.round(u * 1000.0) / 1000.0, None),
                    ("continuous_weighted", u, w)):
    auc = roc_auc_score(y, s, sample_weight=sw)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        roc_auc_score(y, s, sample_weight=sw)
        times.append(time.perf_counter() - t)
    print(f"{name}: roc_auc = {auc:.15f}  best {min(times):.3f} s  median {sorted(times)[2]:.3f} s")
