#!/usr/bin/env bash
# Side-by-side benchmark: elastic-net logistic regression on 50k x 2048 dense features,
# regParam 0.05, elasticNetParam 0.3, 2 threads; each tool in its own process.
#
#   scripts/bench_logreg.sh [DATA.parquet]
#
# Data: lr_peers.make_data(62500, 2048, seed 7) with its fixed 80/20 split (is_test), so about
# 50,000 training rows; written once to $PEERS_DATA/lr_50k/lr.parquet (about 1 GB).
# Prints one JSON line per tool: ours (examples/train_logreg.rs, 20 iterations, then 100),
# Spark local[2] (maxIter 20) and scikit-learn saga (tol 1e-4, its objective in Spark's form).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PEERS_VENV:-$HOME/.cache/ml-peers/venv}/bin/python
DATA=${1:-${PEERS_DATA:-$HOME/.cache/ml-peers/data}/lr_50k/lr.parquet}
if [ ! -f "$DATA" ]; then
  mkdir -p "$(dirname "$DATA")"
  (cd /work/shared/peers && "$PY" - "$DATA" <<'PYEOF'
import sys
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
from lr_peers import make_data
X, y, t = make_data(62500, 2048, 7)
pq.write_table(pa.table({"label": y, "is_test": t.astype(np.int8),
    "features": pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), X.shape[1])}), sys.argv[1])
PYEOF
  )
fi
cargo build --release --example train_logreg
for it in 20 100; do
  echo "# ours, max-iter $it" >&2
  ./target/release/examples/train_logreg --train "$DATA" --label label --split-col is_test \
    --max-iter "$it" --reg 0.05 --elastic-net 0.3 --threads 2 | tail -1
done
echo "# spark local[2], maxIter 20" >&2
nice "$PY" scripts/logreg_peer_bench.py --tool spark --data "$DATA" --threads 2 --max-iter 20
echo "# sklearn saga, tol 1e-4" >&2
nice "$PY" scripts/logreg_peer_bench.py --tool sklearn --data "$DATA" --threads 2 --tol 1e-4
