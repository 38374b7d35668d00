#!/usr/bin/env bash
# The Quark demo on one machine: installs what is missing, builds, starts a
# controller and two workers on loopback, counts the primes up to 1e10 with
# `quark submit count 1e10 --wait` (455052511), shows `quark nodes`, and stops
# everything it started. Exits with the CLI's exit code.
#
# Usage: scripts/demo.sh
#   QUARK_PORT  control port to use; collector and API take the next two
#               (default: free ports picked at random)
#   BUILD_DIR   build directory (default: build)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

build_dir=${BUILD_DIR:-build}
BUILD_DIR=$build_dir scripts/build.sh
bin="$repo/$build_dir/bin"
[[ "$build_dir" == /* ]] && bin="$build_dir/bin"

run=$(mktemp -d "${TMPDIR:-/tmp}/quark-demo.XXXXXX")
pids=()
rc=1
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if ((${#pids[@]} > 0)); then
    quark_log "stopping ${pids[*]}"
    quark_stop 40 "${pids[@]}"
  fi
  if ((rc != 0)); then
    for log in "$run"/*.log; do
      [[ -f "$log" ]] || continue
      echo "--- end of $log" >&2
      tail -n 15 "$log" >&2
    done
  fi
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- controller, on free ports (a few tries: another process may take them)
start_controller() {
  local base=$1
  api="tcp://127.0.0.1:$((base + 2))"
  control="tcp://127.0.0.1:$base"
  "$bin/quark-controller" --control="$control" \
    --collect="tcp://127.0.0.1:$((base + 1))" --api="$api" \
    --http="127.0.0.1:$((base + 3))" --state_dir="$run/state" </dev/null >"$run/controller.log" 2>&1 &
  controller_pid=$!
  if quark_wait_log "$controller_pid" "$run/controller.log" 'controller ready' 15; then
    pids+=("$controller_pid")
    return 0
  fi
  quark_stop 5 "$controller_pid"
  return 1
}

started=0
for ((try = 0; try < 5; try++)); do
  base=${QUARK_PORT:-$(quark_pick_base)}
  if start_controller "$base"; then
    started=1
    break
  fi
  [[ -z "${QUARK_PORT:-}" ]] || break
done
((started)) || { quark_log "could not start the controller"; exit 1; }
quark_log "controller on $control, API on $api"

# --- two workers, splitting the cores between them
threads=$(($(nproc) / 2))
((threads >= 1)) || threads=1
names=(demo-1 demo-2)
for name in "${names[@]}"; do
  "$bin/quark-worker" --controller="$control" --name="$name" --threads="$threads" \
    </dev/null >"$run/$name.log" 2>&1 &
  pids+=("$!")
done
quark_wait_nodes "$bin/quark" "$api" 30 "${names[@]}"
quark_log "workers ${names[*]} registered (--threads=$threads each)"

# --- the search
export QUARK_CONTROLLER=$api
export PATH="$bin:$PATH"
echo "\$ quark submit count 1e10 --wait"
rc=0
quark submit count 1e10 --wait || rc=$?
echo "\$ quark nodes"
quark nodes || true
exit "$rc"
