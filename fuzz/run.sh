#!/usr/bin/env bash
# Builds and runs a libFuzzer target of fuzz/ for a while.
#
#   fuzz/run.sh TARGET SECONDS    TARGET: zbus_request, entrypoint_lexer, container_validate
#   fuzz/run.sh all SECONDS       each target in turn, SECONDS each
#
# Configures a clang build directory with CONTD_FUZZ=ON (CONTD_FUZZ_BUILD, default build-fuzz/)
# and builds with ninja -j1 (CONTD_FUZZ_JOBS to change). The fuzzer starts from a scratch copy of
# fuzz/corpus/TARGET and writes what it finds to the scratch directory (CONTD_FUZZ_SCRATCH,
# default build-fuzz/fuzz-scratch/TARGET): new inputs to new/, crashes to artifacts/. fuzz/corpus
# is never written; the merge command to keep the new inputs is printed at the end.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
all_targets=(zbus_request entrypoint_lexer container_validate)

usage() {
  local IFS='|'
  echo "usage: $0 {all|${all_targets[*]}} SECONDS" >&2
  exit 2
}
[[ $# -eq 2 && $2 =~ ^[0-9]+$ ]] || usage
if [[ $1 == all ]]; then
  targets=("${all_targets[@]}")
else
  [[ " ${all_targets[*]} " == *" $1 "* ]] || usage
  targets=("$1")
fi
seconds=$2

build=${CONTD_FUZZ_BUILD:-$root/build-fuzz}
scratch_root=${CONTD_FUZZ_SCRATCH:-$build/fuzz-scratch}
if ! grep -qs '^CONTD_FUZZ:BOOL=ON$' "$build/CMakeCache.txt"; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCONTD_FUZZ=ON
fi
ninja -C "$build" -j"${CONTD_FUZZ_JOBS:-1}" "${targets[@]/#/fuzz_}"

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
failed=()
for t in "${targets[@]}"; do
  scratch=$scratch_root/$t
  rm -rf "$scratch/seed"
  mkdir -p "$scratch/seed" "$scratch/new" "$scratch/artifacts"
  cp "$root/fuzz/corpus/$t/." "$scratch/seed/" -R
  echo "== fuzz_$t for ${seconds}s (new inputs: $scratch/new)"
  # libFuzzer writes new inputs into the first directory only.
  if ! "$build/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$scratch/artifacts/" \
      "$scratch/new" "$scratch/seed"; then
    failed+=("$t")
  fi
done

# -use_counters=0: an input is kept only for a new edge, not for a new hit count of a known one,
# which keeps the saved corpus a fraction of the size.
echo
echo "To keep the new inputs that add coverage (then commit fuzz/corpus):"
for t in "${targets[@]}"; do
  echo "  $build/bin/fuzz_$t -merge=1 -use_counters=0 $root/fuzz/corpus/$t $scratch_root/$t/new"
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "FAILED: ${failed[*]} (crashing inputs in $scratch_root/<target>/artifacts/)" >&2
  exit 1
fi
