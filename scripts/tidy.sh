#!/usr/bin/env bash
# Runs clang-tidy-14 with the checks in .clang-tidy over the project's
# sources that are not tests (cli, common, controller, worker, bench, fuzz;
# their headers through HeaderFilterRegex), using a build's
# compile_commands.json, and fails on any finding. docs/testing.md explains.
#
# Usage: scripts/tidy.sh [FILE.cc...]     default: every such source the
#                                          build compiles
#   BUILD_DIR  the build whose compile database is used (default: build);
#              built with scripts/build.sh first when it has none, as the
#              generated protobuf headers must exist
#   TIDY_JOBS  clang-tidy processes at once (default: nproc)
#   SKIP_DEPS=1  do not run scripts/deps.sh
# The last line printed starts with "tidy:" and sums up the run.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}
[[ "$build_dir" == /* ]] || build_dir="$repo/$build_dir"
jobs=${TIDY_JOBS:-$(nproc)}

if [[ "${SKIP_DEPS:-0}" != 1 ]]; then
  scripts/deps.sh
fi
if [[ ! -f "$build_dir/compile_commands.json" ]]; then
  SKIP_DEPS=1 BUILD_DIR="$build_dir" scripts/build.sh
fi

# The sources the build compiles, less the tests and the generated code.
if (($# > 0)); then
  files=("$@")
else
  mapfile -t files < <(python3 - "$build_dir/compile_commands.json" "$repo" <<'PY'
import json, os, sys
repo = sys.argv[2] + "/"
seen = set()
for entry in json.load(open(sys.argv[1])):
    path = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
    rel = path[len(repo):] if path.startswith(repo) else None
    if rel and rel.split("/")[0] in ("cli", "common", "controller", "worker", "bench", "fuzz"):
        seen.add(rel)
print("\n".join(sorted(seen)))
PY
  )
fi
if ((${#files[@]} == 0)); then
  echo "tidy: no sources found in $build_dir/compile_commands.json" >&2
  exit 1
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$SECONDS
# One output file per source; -Wno-unknown-warning-option: the database may
# come from a GCC build, whose warning flags clang does not all know.
# shellcheck disable=SC2016 # the sh -c script expands its own arguments
printf '%s\n' "${files[@]}" |
  xargs -P "$jobs" -I{} sh -c \
    'clang-tidy-14 -p "$1" --quiet --extra-arg=-Wno-unknown-warning-option "$2" \
       >"$3/$(echo "$2" | tr / _).log" 2>&1 || echo "$2" >>"$3/failed"' \
    sh "$build_dir" {} "$out" || true

# clang-tidy prints a header finding once per source that includes it.
findings=$(cat "$out"/*.log | grep -E '^/.*: (error|warning): ' | sort -u || true)
count=0
if [[ -n "$findings" ]]; then
  count=$(wc -l <<<"$findings")
  cat "$out"/*.log | grep -v -E '^[0-9]+ warnings? generated|^Suppressed|^Use -header-filter' || true
fi
if [[ -s "$out/failed" ]] && ((count == 0)); then
  echo "tidy: clang-tidy failed without a finding on:" >&2
  cat "$out/failed" >&2
  count=$(wc -l <"$out/failed")
fi
echo "tidy: ${#files[@]} files, $count finding(s) ($((SECONDS - start)) s)"
((count == 0))
