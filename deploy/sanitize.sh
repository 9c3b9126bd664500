#!/usr/bin/env bash
# The sanitizer lane: a second build with AddressSanitizer and UndefinedBehaviorSanitizer
# (CONTD_SANITIZE=ON) that runs every test labelled `unit` (all but the integration tests): the
# unit tests, the deterministic actor tests, the fuzz corpus replay and the layering check.
# Dependencies are those of deploy/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SANITIZE_BUILD_DIR:-build-sanitize}
JOBS=${JOBS:-$(nproc)}
# -O0 -g1: the quickest compile that still gives the reports file and line (the lane runs small
# tests; compile time is what it costs).
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" \
  -DCONTD_SANITIZE=ON
# Only what those tests need: the programs, benchmarks and integration tests are not built.
cmake --build "$BUILD_DIR" -j "$JOBS" --target unit_tests
supp="$PWD/deploy/ubsan.supp"
cd "$BUILD_DIR"
# A leak, an out-of-bounds access or undefined behaviour aborts the test with a report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$supp}
# -L unit: the integration tests are not built here (their placeholders carry no label).
ctest --output-on-failure -j "${TEST_JOBS:-2}" -L unit "$@"
