#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30), one after the other, with the flags
# of the runs in README.md (-a debug assertions, 10 s per input, 2 GB of RSS). Each run starts
# from corpus/<target> (grown, not kept) and seeds/<target>. Exits non-zero when a target
# finds a crash, a hang or an out-of-memory (libFuzzer writes the input to artifacts/<target>/).
#
# Needs cargo-fuzz and a nightly toolchain (`cargo +nightly`); without nightly it falls back
# to the stable toolchain with RUSTC_BOOTSTRAP=1 (sanitizer flags are nightly-only otherwise).
# Extra arguments after SECONDS go to every `cargo fuzz run` before `--`. Each target's
# output goes to logs/<target>.log (not kept).
set -uo pipefail
cd "$(dirname "$0")"

SECONDS_EACH="${1:-30}"
shift || true
case "$SECONDS_EACH" in
  ''|*[!0-9]*) echo "usage: $0 [SECONDS] [cargo-fuzz options]" >&2; exit 2 ;;
esac

if cargo +nightly --version >/dev/null 2>&1; then
  CARGO=(cargo +nightly)
else
  export RUSTC_BOOTSTRAP=1
  CARGO=(cargo)
fi

targets=$(ls fuzz_targets/*.rs | xargs -n1 basename | sed 's/\.rs$//' | sort)
failed=()
for t in $targets; do
  echo "== fuzz $t for ${SECONDS_EACH}s ($(date -u +%H:%M:%S))"
  mkdir -p "corpus/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  log="logs/$t.log"
  mkdir -p logs
  if "${CARGO[@]}" fuzz run -a "$@" "$t" "corpus/$t" "${seeds[@]}" -- \
      -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units)' "$log" || true
  else
    failed+=("$t")
    tail -n 60 "$log"
    echo "!! $t failed (full log: fuzz/$log); the input is in fuzz/artifacts/$t/"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found failures in: ${failed[*]}"
  exit 1
fi
echo "fuzzing: every target ran ${SECONDS_EACH}s without a failure"
