#!/usr/bin/env bash
# Side-by-side GBDT benchmark: ml-tree (release example) vs XGBoost hist vs LightGBM on the peers
# harness's medium *_features.parquet, each run in its own process under /usr/bin/time -v.
# Settings as gbdt_peers.py: 100 rounds, eta 0.1, max_depth 6, max_bin 256, 2 threads.
#
#   scripts/bench_gbdt.sh            # data from ${PEERS_DATA:-~/.cache/ml-peers/data}/medium
#   SIZE=small THREADS=2 scripts/bench_gbdt.sh
#
# Prints a Markdown table: train s, predict s, AUC, peak RSS (GNU time's maximum resident set).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-medium}
THREADS=${THREADS:-2}
DATA=${PEERS_DATA:-$HOME/.cache/ml-peers/data}/$SIZE
PEERS=${PEERS_DIR:-/work/shared/peers}
PY=${PEERS_PY:-$HOME/.cache/ml-peers/venv/bin/python}
OUT=${OUT:-$(mktemp -d /tmp/bench_gbdt.XXXXXX)}
DATASETS=${DATASETS:-loans clicks}
# GBDT_BIN: an already built binary of examples/train_gbdt.rs (e.g. ml-tree's copy,
# `cargo build --release -p ml-tree --example train_gbdt_tree`); default: build the root example.
if [ -n "${GBDT_BIN:-}" ]; then
  BIN=$GBDT_BIN
else
  cargo build --release --example train_gbdt >&2
  BIN=target/release/examples/train_gbdt
fi
for ds in $DATASETS; do
  f=$DATA/${ds}_features.parquet
  [ -f "$f" ] || { echo "missing $f (run the peers harness's gen_data.py features)" >&2; exit 1; }
  /usr/bin/time -v -o "$OUT/ours-$ds.time" "$BIN" --train "$f" --test "$f" --split-col is_test \
    --label label --num-round 100 --eta 0.1 --max-depth 6 --max-bin 256 --threads "$THREADS" \
    | tail -n 1 > "$OUT/ours-$ds.json"
  if [ -x "$PY" ]; then
    for tool in xgboost lightgbm; do
      (cd "$PEERS" && /usr/bin/time -v -o "$OUT/$tool-$ds.time" "$PY" gbdt_peers.py --in-process \
        --data "$f" --tools "$tool" --threads "$THREADS" --size "$SIZE") | tail -n 1 > "$OUT/$tool-$ds.json" || true
    done
  fi
done
python3 - "$OUT" $DATASETS <<'PY'
import json, os, re, sys
out, datasets = sys.argv[1], sys.argv[2:]
def rss(p):
    try:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(p).read())
        return int(m.group(1)) // 1024 if m else None
    except OSError:
        return None
print("| dataset | tool | train s | predict s | AUC | peak RSS MB |")
print("|---|---|---|---|---|---|")
for ds in datasets:
    for tool in ["ours", "xgboost", "lightgbm"]:
        p = os.path.join(out, f"{tool}-{ds}.json")
        if not os.path.exists(p) or not open(p).read().strip():
            continue
        r = json.loads(open(p).read())
        if tool == "ours":
            tr, pr, auc = r["train_s"], r["predict_s"], r["auc"]
        else:
            tr, pr, auc = r["seconds"]["train"], r["seconds"]["predict"], r["auc"]
        name = "ml-tree" if tool == "ours" else tool
        print(f"| {ds} | {name} | {tr:.3f} | {pr:.3f} | {auc} | {rss(os.path.join(out, f'{tool}-{ds}.time'))} |")
print(f"\n(raw outputs in {out})")
PY
