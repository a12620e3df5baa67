#!/usr/bin/env bash
# Side-by-side GBDT benchmark: ml-tree (release example) vs XGBoost hist vs LightGBM on the peers
# harness's medium *_features.parquet, each run in its own process under /usr/bin/time -v.
# Settings as gbdt_peers.py: 100 rounds, eta 0.1, max_depth 6, max_bin 256, 2 threads.
#
#   scripts/bench_gbdt.sh            # data from ${PEERS_DATA:-~/.cache/ml-peers/data}/medium
#   SIZE=small THREADS=2 scripts/bench_gbdt.sh
#
# Each dataset is measured REPEAT times (default 3), the tools taking turns (ours, XGBoost,
# LightGBM, ours, ...), so a slow spell on a shared machine hits every tool alike. Before
# that, WARMUP rounds (default 1) of every tool are run and not reported: the first process
# after an idle spell runs up to 1.6x slower on the shared 2-vCPU machine.
# Prints a Markdown table: median train s and predict s (with the range over the repeats),
# AUC, peak RSS (GNU time's maximum resident set), and the ratios of XGBoost's medians to ours.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-medium}
THREADS=${THREADS:-2}
DATA=${PEERS_DATA:-$HOME/.cache/ml-peers/data}/$SIZE
PEERS=${PEERS_DIR:-/work/shared/peers}
PY=${PEERS_PY:-$HOME/.cache/ml-peers/venv/bin/python}
OUT=${OUT:-$(mktemp -d /tmp/bench_gbdt.XXXXXX)}
DATASETS=${DATASETS:-loans clicks}
REPEAT=${REPEAT:-3}
WARMUP=${WARMUP:-1}
# GBDT_BIN: an already built binary of examples/train_gbdt.rs (code in crates/ml-examples, e.g.
# one built at another commit for a before/after table); default: build the root example.
if [ -n "${GBDT_BIN:-}" ]; then
  BIN=$GBDT_BIN
else
  cargo build --release --example train_gbdt >&2
  BIN=${CARGO_TARGET_DIR:-target}/release/examples/train_gbdt
fi
for ds in $DATASETS; do
  f=$DATA/${ds}_features.parquet
  [ -f "$f" ] || { echo "missing $f (run the peers harness's gen_data.py features)" >&2; exit 1; }
  # Rounds 1..WARMUP are warm-up (files named warmup-*), then the reported ones.
  for round in $(seq $((WARMUP + REPEAT))); do
    if [ "$round" -le "$WARMUP" ]; then rep="warmup-$round"; else rep=$((round - WARMUP)); fi
    /usr/bin/time -v -o "$OUT/ours-$ds-$rep.time" "$BIN" --train "$f" --test "$f" --split-col is_test \
      --label label --num-round 100 --eta 0.1 --max-depth 6 --max-bin 256 --threads "$THREADS" \
      | tail -n 1 > "$OUT/ours-$ds-$rep.json"
    if [ -x "$PY" ]; then
      for tool in xgboost lightgbm; do
        (cd "$PEERS" && /usr/bin/time -v -o "$OUT/$tool-$ds-$rep.time" "$PY" gbdt_peers.py --in-process \
          --data "$f" --tools "$tool" --threads "$THREADS" --size "$SIZE") | tail -n 1 > "$OUT/$tool-$ds-$rep.json" || true
      done
    fi
  done
done
python3 - "$OUT" "$REPEAT" $DATASETS <<'PY'
import json, os, re, statistics, sys
out, repeat, datasets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def rss(p):
    try:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(p).read())
        return int(m.group(1)) // 1024 if m else None
    except OSError:
        return None
def runs(tool, ds):
    rows = []
    for rep in range(1, repeat + 1):
        p = os.path.join(out, f"{tool}-{ds}-{rep}.json")
        if not os.path.exists(p) or not open(p).read().strip():
            continue
        r = json.loads(open(p).read())
        if tool == "ours":
            tr, pr = r["train_s"], r["predict_s"]
        else:
            tr, pr = r["seconds"]["train"], r["seconds"]["predict"]
        rows.append((tr, pr, r["auc"], rss(os.path.join(out, f"{tool}-{ds}-{rep}.time"))))
    return rows
def cell(v):
    m = statistics.median(v)
    return f"{m:.3f} ({min(v):.3f}-{max(v):.3f})" if len(v) > 1 else f"{m:.3f}"
print(f"Medians of {repeat} runs per tool (range in brackets).\n")
print("| dataset | tool | train s | predict s | AUC | peak RSS MB |")
print("|---|---|---|---|---|---|")
med = {}
for ds in datasets:
    for tool in ["ours", "xgboost", "lightgbm"]:
        rows = runs(tool, ds)
        if not rows:
            continue
        tr, pr = [r[0] for r in rows], [r[1] for r in rows]
        med[(tool, ds)] = (statistics.median(tr), statistics.median(pr))
        name = "ml-tree" if tool == "ours" else tool
        mem = [r[3] for r in rows if r[3] is not None]
        print(f"| {ds} | {name} | {cell(tr)} | {cell(pr)} | {rows[0][2]} | {max(mem) if mem else None} |")
print("\n| dataset | XGBoost / ml-tree train | XGBoost / ml-tree predict | LightGBM / ml-tree train |")
print("|---|---|---|---|")
for ds in datasets:
    o, x, l = med.get(("ours", ds)), med.get(("xgboost", ds)), med.get(("lightgbm", ds))
    if o and x and l:
        print(f"| {ds} | {x[0] / o[0]:.2f}x | {x[1] / o[1]:.2f}x | {l[0] / o[0]:.2f}x |")
print("\nXGBoost's time over ours, run by run (train / predict):\n")
for ds in datasets:
    o, x = runs("ours", ds), runs("xgboost", ds)
    pairs = [f"{b[0] / a[0]:.2f}x / {b[1] / a[1]:.2f}x" for a, b in zip(o, x)]
    if pairs:
        print(f"- {ds}: " + ", ".join(pairs))
print(f"\n(raw outputs in {out})")
PY
