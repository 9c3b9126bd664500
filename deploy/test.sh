#!/usr/bin/env bash
# The whole test suite: install dependencies, configure, build, run every test (ctest, with a
# timeout per test). Integration tests start their own redis-server and containerd under a
# temporary directory; they never touch system instances.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j "$JOBS"
cd "$BUILD_DIR"
ctest --output-on-failure -j "${TEST_JOBS:-2}" "$@"
