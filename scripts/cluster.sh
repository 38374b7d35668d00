#!/usr/bin/env bash
# A local Quark cluster on loopback, in the background: one controller and N
# workers, with their pids, logs and state in a run directory.
#
# Usage: scripts/cluster.sh start [N]   controller + N workers (default 2)
#        scripts/cluster.sh stop        graceful stop (SIGTERM), by pid
#        scripts/cluster.sh status      which processes run, and `quark nodes`
#
#   BUILD_DIR      where the binaries are: $BUILD_DIR/bin (default: build);
#                  `start` builds with scripts/build.sh when they are missing
#   QUARK_RUN_DIR  run directory (default: $BUILD_DIR/cluster)
#   QUARK_PORT     control port; collector and API use the next two
#                  (default 7700: the CLI's default endpoint then works)
#   QUARK_THREADS  --threads of each worker (default 0: all cores)
#
# The CLI: $BUILD_DIR/bin/quark --controller=tcp://127.0.0.1:$((QUARK_PORT+2)) ...
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

build_dir=${BUILD_DIR:-build}
bin="$build_dir/bin"
run_dir=${QUARK_RUN_DIR:-$build_dir/cluster}
# Above the workers' default --drain_timeout (30 s).
readonly stop_seconds=40

usage() {
  sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

pid_files() {
  compgen -G "$run_dir/*.pid" | sort || true
}

live_pids() {
  local file pid
  for file in $(pid_files); do
    pid=$(<"$file")
    if quark_alive "$pid"; then echo "$pid"; fi
  done
}

start() {
  local n=${1:-2} port=${QUARK_PORT:-7700} threads=${QUARK_THREADS:-0} i name pid
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { quark_log "N must be a positive integer, not '$n'"; exit 2; }
  if [[ -n "$(live_pids)" ]]; then
    quark_log "a cluster is already running from $run_dir (scripts/cluster.sh stop)"
    exit 1
  fi
  if [[ ! -x "$bin/quark-controller" || ! -x "$bin/quark-worker" || ! -x "$bin/quark" ]]; then
    BUILD_DIR=$build_dir scripts/build.sh
  fi
  mkdir -p "$run_dir/state"
  rm -f "$run_dir"/*.pid "$run_dir"/*.log
  local api="tcp://127.0.0.1:$((port + 2))"
  echo "QUARK_CONTROLLER=$api" >"$run_dir/env"

  nohup "$bin/quark-controller" --control="tcp://127.0.0.1:$port" \
    --collect="tcp://127.0.0.1:$((port + 1))" --api="$api" \
    --http="127.0.0.1:$((port + 80))" --state_dir="$run_dir/state" </dev/null >"$run_dir/controller.log" 2>&1 &
  pid=$!
  echo "$pid" >"$run_dir/controller.pid"
  quark_wait_log "$pid" "$run_dir/controller.log" 'controller ready' 15 || {
    rm -f "$run_dir/controller.pid"
    exit 1
  }
  quark_log "controller pid $pid on ports $port-$((port + 2))"

  local names=()
  for ((i = 1; i <= n; i++)); do
    name="local-$i"
    names+=("$name")
    nohup "$bin/quark-worker" --controller="tcp://127.0.0.1:$port" --name="$name" \
      --threads="$threads" </dev/null >"$run_dir/$name.log" 2>&1 &
    echo "$!" >"$run_dir/$name.pid"
  done
  for ((i = 1; i <= n; i++)); do
    quark_wait_log "$(<"$run_dir/local-$i.pid")" "$run_dir/local-$i.log" \
      "registered node=local-$i" 30 || exit 1
  done
  quark_log "workers ${names[*]} registered; logs in $run_dir"
  echo "export QUARK_CONTROLLER=$api   # then: $bin/quark nodes"
}

stop() {
  local workers=() controller=() file pid
  for file in $(pid_files); do
    pid=$(<"$file")
    quark_alive "$pid" || { rm -f "$file"; continue; }
    if [[ "$file" == */controller.pid ]]; then controller+=("$pid"); else workers+=("$pid"); fi
  done
  # Workers first, so they can hand their last results to the controller.
  if ((${#workers[@]} > 0)); then
    quark_log "stopping workers ${workers[*]}"
    quark_stop "$stop_seconds" "${workers[@]}"
  fi
  if ((${#controller[@]} > 0)); then
    quark_log "stopping controller ${controller[*]}"
    quark_stop "$stop_seconds" "${controller[@]}"
  fi
  rm -f "$run_dir"/*.pid
  quark_log "stopped; logs kept in $run_dir"
}

status() {
  local file pid name running=0
  if [[ -z "$(pid_files)" ]]; then
    echo "no cluster in $run_dir"
    return 1
  fi
  for file in $(pid_files); do
    pid=$(<"$file")
    name=$(basename "$file" .pid)
    if quark_alive "$pid"; then
      echo "$name: running, pid $pid"
      running=$((running + 1))
    else
      echo "$name: not running (pid $pid), see $run_dir/$name.log"
    fi
  done
  if [[ -f "$run_dir/controller.pid" ]] && quark_alive "$(<"$run_dir/controller.pid")"; then
    # shellcheck source=/dev/null
    source "$run_dir/env"
    echo
    "$bin/quark" --controller="$QUARK_CONTROLLER" nodes
  fi
  ((running > 0))
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac
