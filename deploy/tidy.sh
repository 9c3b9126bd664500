#!/usr/bin/env bash
# clang-tidy with the checked-in .clang-tidy over the given sources (default: every .cpp of the
# project's libraries and programs), using build/compile_commands.json. Slow: ~10 s a file.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [ $# -eq 0 ]; then
  mapfile -t files < <(git ls-files 'actors/*.cpp' 'src/*.cpp' 'messages/*.cpp')
else
  files=("$@")
fi
printf '%s\n' "${files[@]}" | xargs -P "${JOBS:-$(nproc)}" -n 1 clang-tidy -p "$BUILD_DIR" --quiet
