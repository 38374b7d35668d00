#!/usr/bin/env bash
# Installs what is missing (scripts/deps.sh), configures with CMake and Ninja,
# and builds. Incremental: a second run only rebuilds what changed.
#
# Usage: scripts/build.sh [EXTRA CMAKE ARGS...]
#   BUILD_DIR   build directory (default: build, at the repository root)
#   BUILD_TYPE  CMAKE_BUILD_TYPE; by default RelWithDebInfo on the first
#               configure and left as it is afterwards
#   SKIP_DEPS=1 do not run scripts/deps.sh
# Executables land in $BUILD_DIR/bin.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}

if [[ "${SKIP_DEPS:-0}" != 1 ]]; then
  scripts/deps.sh
fi

cache="$build_dir/CMakeCache.txt"
if [[ -f "$cache" ]] && ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' "$cache"; then
  echo "build.sh: $build_dir was configured with another generator than Ninja;" \
    "remove it or set BUILD_DIR" >&2
  exit 1
fi

configure=(cmake -S . -B "$build_dir" -G Ninja)
if [[ -n "${BUILD_TYPE:-}" ]]; then
  configure+=("-DCMAKE_BUILD_TYPE=$BUILD_TYPE")
elif [[ ! -f "$cache" ]]; then
  configure+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi
if [[ ! -f "$build_dir/build.ninja" || -n "${BUILD_TYPE:-}" || $# -gt 0 ]]; then
  "${configure[@]}" "$@"
fi
# Ninja re-runs CMake by itself when a CMakeLists.txt changed.
cmake --build "$build_dir" -j "$(nproc)"
