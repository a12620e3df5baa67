#!/usr/bin/env bash
# Wall time of each example (release build) against the same pipeline on Spark local[2].
#
# Usage: scripts/bench_examples.sh [DATA_DIR] [OUT_MD]
#   DATA_DIR: the peers' generated data (default ~/.cache/ml-peers/data/medium: loans.parquet,
#             clicks.csv, baskets/), made by /work/shared/peers (see its README).
#   OUT_MD:   where to write the Markdown table (default benches/examples.md).
# Environment: PEERS (default /work/shared/peers), PEERS_VENV (default ~/.cache/ml-peers/venv),
#   RUN_SPARK=1 to run the Spark scripts here; by default the Spark times are the ones recorded in
#   the peers README (results-2026-11-25.jsonl, medium, same machine): whole-process wall time of
#   loan_risk_spark.py (2:14.56) and ad_click_spark.py (1:10.88) from /usr/bin/time -v, and the
#   Spark FPGrowth phases of fpgrowth_peers.py on the full 100k orders (spark_start 8.23 +
#   prepare 8.475 + fit_freqItemsets 25.001 + associationRules 10.765 = 52.47 s; the script's
#   own wall time also covers pyfim and mlxtend).
#
# Both sides read the same files. Wall time is the whole process (Spark includes JVM start-up;
# its per-phase seconds are in the logs). One run each, 2 threads each, nothing else running.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-$HOME/.cache/ml-peers/data/medium}
OUT=${2:-benches/examples.md}
PEERS=${PEERS:-/work/shared/peers}
VENV=${PEERS_VENV:-$HOME/.cache/ml-peers/venv}
LOG_DIR=${LOG_DIR:-target/bench_examples}
mkdir -p "$LOG_DIR"
export RAYON_NUM_THREADS=2

cargo build --release --quiet --example loan_risk --example ad_click --example market_basket
BIN=target/release/examples

now() { date +%s.%N; }
# time_cmd NAME CMD...: runs CMD, stdout+stderr to $LOG_DIR/NAME.log, prints wall seconds
time_cmd() {
  local name=$1; shift
  local t0 t1
  t0=$(now)
  "$@" > "$LOG_DIR/$name.log" 2>&1 || { echo "FAILED: $name (see $LOG_DIR/$name.log)" >&2; return 1; }
  t1=$(now)
  echo "$t1 - $t0" | bc -l | xargs printf '%.2f'
}

declare -A RUST SPARK WHAT
RUST[loan_risk]=$(time_cmd rust_loan_risk $BIN/loan_risk --data "$DATA" --report-dir "$LOG_DIR/reports/loan_risk")
RUST[ad_click]=$(time_cmd rust_ad_click $BIN/ad_click --data "$DATA/clicks.csv" --report-dir "$LOG_DIR/reports/ad_click")
RUST[market_basket]=$(time_cmd rust_market_basket $BIN/market_basket --data "$DATA/baskets" --report-dir "$LOG_DIR/reports/market_basket")

if [ "${RUN_SPARK:-0}" = 1 ]; then
  PY="$VENV/bin/python"
  SPARK[loan_risk]=$(time_cmd spark_loan_risk "$PY" "$PEERS/loan_risk_spark.py" --data "$DATA/loans.parquet" --threads 2)
  SPARK[ad_click]=$(time_cmd spark_ad_click "$PY" "$PEERS/ad_click_spark.py" --data "$DATA/clicks.csv" --threads 2)
  SPARK[market_basket]=$(time_cmd spark_market_basket "$PY" "$PEERS/fpgrowth_peers.py" --data "$DATA/baskets" --tools spark --subset-orders 0 --threads 2)
  SPARK_SRC="measured here with RUN_SPARK=1"
else
  SPARK[loan_risk]=134.56
  SPARK[ad_click]=70.88
  SPARK[market_basket]=52.47
  SPARK_SRC="recorded in the peers README (results-2026-11-25.jsonl, medium, same machine)"
fi

WHAT[loan_risk]="loans.parquet: filter + label, SQL, Imputer/StringIndexer/OneHot/Assembler/Scaler, boosted trees (5 rounds, depth 6), AUC, CrossValidator 8 params x 4 folds + refit, money table"
WHAT[ad_click]="clicks.csv: CSV infer -> Parquet -> read back, CTR SQL, distinct counts, StringIndexer on <=70-distinct strings, GBT (depth 10, 10 rounds, 70 bins) on 70/30, AUC"
WHAT[market_basket]="baskets/: SQL, baskets, FP-growth (support 0.001) + association rules (Spark: fpgrowth_peers.py --tools spark, itemsets + rules count only)"

{
  echo "# Examples: wall time against Spark local[2]"
  echo
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores with \`scripts/bench_examples.sh $DATA\`: one run each, whole-process"
  echo "wall time, release build, 2 threads on both sides; Spark's time includes starting the JVM (about 5-8 s)."
  echo "Spark times: $SPARK_SRC."
  echo "Logs (with the per-phase seconds of both sides) are in \`$LOG_DIR/\`."
  echo
  echo "| example | data | this crate (s) | Spark local[2] (s) | speed-up | pipeline |"
  echo "|---|---|---:|---:|---:|---|"
  for k in loan_risk ad_click market_basket; do
    sp=$(echo "${SPARK[$k]} / ${RUST[$k]}" | bc -l | xargs printf '%.1f')
    case $k in loan_risk) d=loans.parquet;; ad_click) d=clicks.csv;; market_basket) d=baskets/;; esac
    echo "| $k | $d | ${RUST[$k]} | ${SPARK[$k]} | ${sp}x | ${WHAT[$k]} |"
  done
  echo
  echo "Key figures of the Rust runs (their closing JSON lines):"
  echo
  for k in loan_risk ad_click market_basket; do
    echo "- $k: \`$(grep '^{' "$LOG_DIR/rust_$k.log" | tail -1 | cut -c1-600)\`"
  done
  echo
  echo "Spark's JSON lines:"
  echo
  for k in loan_risk ad_click market_basket; do
    [ -f "$LOG_DIR/spark_$k.log" ] && echo "- $k: \`$(grep '^{' "$LOG_DIR/spark_$k.log" | tail -1 | cut -c1-600)\`"
  done
} > "$OUT"
cat "$OUT"
