#!/usr/bin/env python3
"""Trains XGBoost and ml-tree with the same parameters on the same generated data, for each of
the regression losses of issue 16 (reg:absoluteerror, reg:pseudohubererror,
reg:quantileerror with three alphas, count:poisson, reg:tweedie, reg:gamma), and compares the
test-set metrics, and each side's model scored by the other (exported to / imported from
XGBoost's JSON format, within 1e-5 relative); then continued training: XGBoost trains 50 rounds, ml-tree imports that model
(`--xgb-model-in`) and adds 50, against XGBoost's own 50 more.

    ~/.cache/ml-peers/venv/bin/python scripts/xgb_losses_check.py [--rows 20000] [--rounds 100]

ml-tree runs through `cargo run --release -p ml-tree --example fit_csv` (or the binary named
by FIT_CSV_BIN). Both get: hist, max_depth 6, eta 0.1, max_bin 256, lambda 1, 2 threads, the
loss's parameters at XGBoost's defaults (quantile_alpha [0.1, 0.5, 0.9]). The metrics are
computed here, the same code for both: RMSE and MAE for every loss, the pinball loss per alpha
for quantiles, XGBoost's negative log-likelihoods for Poisson, Tweedie (rho 1.5) and gamma.
A loss passes when its own metric (mae, mphe, quantile, poisson-nloglik, tweedie-nloglik,
gamma-nloglik) is within --tol (default 1%) of XGBoost's. Exits 0 with "SKIP" without xgboost.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import xgboost as xgb
    from scipy.special import gammaln
except ImportError as e:  # pragma: no cover
    print(f"SKIP: xgboost/numpy/scipy not available ({e}); "
          "run with ~/.cache/ml-peers/venv/bin/python")
    sys.exit(0)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALPHAS = [0.1, 0.5, 0.9]


def features(rng, n):
    X = rng.normal(size=(n, 6))
    X[:, 3] = np.floor(rng.random(n) * 10)
    X[rng.random(n) < 0.1, 2] = np.nan
    f = (X[:, 0] - 0.5 * X[:, 1] ** 2 + np.where(np.isnan(X[:, 2]), 0.5, X[:, 2])
         + 0.1 * X[:, 3] + 0.3 * X[:, 4] * X[:, 5])
    return X, f


def labels(kind, rng, f):
    n = len(f)
    if kind == "real":  # skewed, heavy-tailed noise
        return f + rng.standard_t(3, size=n) + rng.exponential(1.0, size=n)
    if kind == "count":
        return rng.poisson(np.exp(0.5 * f)).astype(float)
    if kind == "tweedie":  # compound Poisson-gamma: many exact zeros
        lam = np.exp(0.4 * f)
        k = rng.poisson(lam)
        return np.array([rng.gamma(2.0, 1.0, size=c).sum() if c else 0.0 for c in k])
    if kind == "positive":
        return rng.gamma(2.0, np.exp(0.5 * f) / 2.0)
    raise ValueError(kind)


def pinball(y, p, a):
    d = y - p
    return float(np.mean(np.where(d >= 0, a * d, (a - 1) * d)))


def metrics(obj, y, p):
    """Test metrics of predictions p (n, or n x alphas)."""
    out = {}
    if obj == "reg:quantileerror":
        for j, a in enumerate(ALPHAS):
            out[f"pinball@{a}"] = pinball(y, p[:, j], a)
        out["quantile"] = float(np.mean([out[f"pinball@{a}"] for a in ALPHAS]))
        p = p[:, 1]
    out["rmse"] = float(np.sqrt(np.mean((y - p) ** 2)))
    out["mae"] = float(np.mean(np.abs(y - p)))
    if obj == "reg:pseudohubererror":
        out["mphe"] = float(np.mean(np.sqrt(1 + (p - y) ** 2) - 1))
    if obj == "count:poisson":
        q = np.maximum(p, 1e-16)
        out["poisson-nloglik"] = float(np.mean(gammaln(y + 1) + q - np.log(q) * y))
    if obj == "reg:tweedie":
        r = 1.5
        out["tweedie-nloglik"] = float(np.mean(-y * p ** (1 - r) / (1 - r) + p ** (2 - r) / (2 - r)))
    if obj == "reg:gamma":
        q = np.maximum(p, 1e-6)
        out["gamma-nloglik"] = float(np.mean(y / q + np.log(q)))
    return out


MAIN = {"reg:absoluteerror": "mae", "reg:pseudohubererror": "mphe", "reg:quantileerror": "quantile",
        "count:poisson": "poisson-nloglik", "reg:tweedie": "tweedie-nloglik",
        "reg:gamma": "gamma-nloglik"}

CASES = [("reg:absoluteerror", "real"), ("reg:pseudohubererror", "real"),
         ("reg:quantileerror", "real"), ("count:poisson", "count"),
         ("reg:tweedie", "tweedie"), ("reg:gamma", "positive")]


def write_csv(path, y, X):
    with open(path, "w") as f:
        f.write("label," + ",".join(f"x{j}" for j in range(X.shape[1])) + "\n")
        for yi, row in zip(y, X):
            f.write(repr(float(yi)) + "," + ",".join("" if np.isnan(v) else repr(float(v)) for v in row) + "\n")


def ours(prefix, tmp, train, test, params, extra=()):
    out = os.path.join(tmp, "pred.csv")
    cmd = prefix + [train, test, out] + [f"{k}={v}" for k, v in params.items()] + list(extra)
    subprocess.run(cmd, cwd=ROOT, check=True)
    p = np.loadtxt(out, delimiter=",", ndmin=2)
    return p[:, 0] if p.shape[1] == 1 else p


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--tol", type=float, default=0.01)
    args = ap.parse_args()
    prefix = ([os.environ["FIT_CSV_BIN"]] if os.environ.get("FIT_CSV_BIN")
              else ["cargo", "run", "--quiet", "--release", "-p", "ml-tree", "--example", "fit_csv", "--"])
    tmp = tempfile.mkdtemp(prefix="xgb_losses_check.")
    common = {"tree_method": "hist", "max_depth": 6, "eta": 0.1, "max_bin": 256, "lambda": 1.0,
              "nthread": 2, "seed": 0}
    print(f"xgboost {xgb.__version__}; {args.rows} training rows, {args.rows // 4} test rows, "
          f"{args.rounds} rounds, max_depth 6, eta 0.1")
    failed = []
    for case, (obj, kind) in enumerate(CASES):
        rng = np.random.default_rng(case + 1)
        X, f = features(rng, args.rows + args.rows // 4)
        y = labels(kind, rng, f)
        Xtr, ytr, Xte, yte = X[:args.rows], y[:args.rows], X[args.rows:], y[args.rows:]
        train, test = os.path.join(tmp, "train.csv"), os.path.join(tmp, "test.csv")
        write_csv(train, ytr, Xtr)
        write_csv(test, yte, Xte)
        params = dict(common, objective=obj)
        if obj == "reg:quantileerror":
            params["quantile_alpha"] = ALPHAS
        dtr = xgb.DMatrix(Xtr.astype(np.float32), label=ytr)
        booster = xgb.train(params, dtr, num_boost_round=args.rounds)
        theirs = booster.predict(xgb.DMatrix(Xte.astype(np.float32)))
        ours_params = {k: v for k, v in params.items() if k not in ("tree_method", "nthread")}
        ours_params["num_round"] = args.rounds
        ours_params["n_threads"] = 2
        if "quantile_alpha" in ours_params:
            ours_params["quantile_alpha"] = "[" + ",".join(map(str, ALPHAS)) + "]"
        exported = os.path.join(tmp, "ours.xgb.json")
        mine = ours(prefix, tmp, train, test, ours_params, ["--model-out", exported])
        # Our model exported to XGBoost's JSON format and scored by XGBoost.
        back = xgb.Booster(model_file=exported).predict(xgb.DMatrix(Xte.astype(np.float32)))
        export_diff = float(np.max(np.abs(back.reshape(mine.shape) - mine) / np.maximum(1.0, np.abs(mine))))
        if export_diff > 1e-5:
            failed.append(f"{obj} export")
        # XGBoost's model imported here and scored by us.
        theirs_path = os.path.join(tmp, "theirs.json")
        booster.save_model(theirs_path)
        imported = ours(prefix, tmp, train, test, {}, ["--xgb-model-in", theirs_path, "--score-only"])
        import_diff = float(np.max(np.abs(imported.reshape(theirs.shape) - theirs)
                                   / np.maximum(1.0, np.abs(theirs))))
        if import_diff > 1e-5:
            failed.append(f"{obj} import")
        mt, mo = metrics(obj, yte, theirs), metrics(obj, yte, mine)
        base = [json.load(open(f))["learner"]["learner_model_param"]["base_score"]
                for f in (theirs_path, exported)]
        key = MAIN[obj]
        rel = (mo[key] - mt[key]) / abs(mt[key])
        ok = abs(rel) <= args.tol
        if not ok:
            failed.append(obj)
        print(f"\n{obj} ({kind} labels): {'OK' if ok else 'FAIL'} ({key} {rel:+.2%}); "
              f"our model scored by XGBoost: max relative difference {export_diff:.2g}; "
              f"XGBoost's scored here: {import_diff:.2g}")
        print(f"  base_score: xgboost {base[0]}, ml-tree {base[1]}")
        print(f"  {'metric':<18}{'xgboost':>12}{'ml-tree':>12}{'diff':>9}")
        for m in mt:
            d = (mo[m] - mt[m]) / abs(mt[m]) if mt[m] else 0.0
            print(f"  {m:<18}{mt[m]:>12.5f}{mo[m]:>12.5f}{d:>+9.2%}")
        if obj == "count:poisson":
            # Continued training: XGBoost's 50-round model imported here plus 50 rounds of ours,
            # against XGBoost's own 50 more.
            half = args.rounds // 2
            b50 = xgb.train(params, dtr, num_boost_round=half)
            path = os.path.join(tmp, "b50.json")
            b50.save_model(path)
            b100 = xgb.train(params, dtr, num_boost_round=args.rounds - half, xgb_model=b50)
            cont_params = dict(ours_params, num_round=args.rounds - half)
            mine_c = ours(prefix, tmp, train, test, cont_params, ["--xgb-model-in", path])
            tc = metrics(obj, yte, b100.predict(xgb.DMatrix(Xte.astype(np.float32))))[key]
            oc = metrics(obj, yte, mine_c)[key]
            rel = (oc - tc) / abs(tc)
            ok = abs(rel) <= args.tol
            if not ok:
                failed.append("continued count:poisson")
            print(f"  continued from XGBoost's {half}-round model, {args.rounds - half} more: "
                  f"{key} xgboost {tc:.5f}, ml-tree {oc:.5f} ({rel:+.2%}) {'OK' if ok else 'FAIL'}")
    if failed:
        print(f"\nFAIL: {', '.join(failed)} beyond {args.tol:.0%}")
        sys.exit(1)
    print(f"\nOK: every loss within {args.tol:.0%} of XGBoost")


if __name__ == "__main__":
    main()
