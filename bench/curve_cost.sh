#!/usr/bin/env bash
# What CurveZMQ costs: one controller and one worker (2 threads) on loopback,
# plain and then with CURVE keys, each timing `quark submit count 0 HI
# --wait` RUNS times; prints "MODE ANSWER SECONDS" lines. Both modes must
# print the same answer.
#
# Usage: bench/curve_cost.sh
#   BUILD_DIR    where bin/ is (default: build)
#   HI           upper end of the count (default: 5e10)
#   RUNS         runs per mode (default: 3)
#   CTL_EXTRA    more controller flags, e.g. --task_seconds=0.01 for many
#                small tasks (more messages per second)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$repo/${BUILD_DIR:-build}/bin"
[[ "${BUILD_DIR:-}" == /* ]] && bin="$BUILD_DIR/bin"
hi=${HI:-5e10}
runs=${RUNS:-3}
read -r -a ctl_extra <<<"${CTL_EXTRA:-}"

dir=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

run_mode() {
  local mode=$1 port=$2
  local ctl=(--http= --state_dir="$dir/$mode/state" --control="tcp://127.0.0.1:$port"
    --collect="tcp://127.0.0.1:$((port + 1))" --api="tcp://127.0.0.1:$((port + 2))"
    --log_level=warning "${ctl_extra[@]}")
  local wrk=(--controller="tcp://127.0.0.1:$port" --name=b1 --threads=2
    --log_level=warning)
  mkdir -p "$dir/$mode"
  if [[ "$mode" == curve ]]; then
    "$bin/quark" keygen controller --dir "$dir/$mode" >/dev/null
    "$bin/quark" keygen b1 --dir "$dir/$mode" >/dev/null
    grep -v '^#' "$dir/$mode/b1.pub" >"$dir/$mode/authorized_workers"
    ctl+=(--key="$dir/$mode/controller.key"
      --authorized_workers="$dir/$mode/authorized_workers")
    wrk+=(--key="$dir/$mode/b1.key" --controller_key="$dir/$mode/controller.pub")
  fi
  "$bin/quark-controller" "${ctl[@]}" 2>"$dir/$mode/controller.err" &
  local controller=$!
  pids+=("$controller")
  sleep 0.3
  "$bin/quark-worker" "${wrk[@]}" 2>"$dir/$mode/worker.err" &
  local worker=$!
  pids+=("$worker")
  sleep 1
  local i start end answer
  for ((i = 0; i < runs; i++)); do
    start=$(date +%s.%N)
    answer=$("$bin/quark" --controller="tcp://127.0.0.1:$((port + 2))" \
      submit count 0 "$hi" --wait)
    end=$(date +%s.%N)
    echo "$mode $answer $(echo "$end - $start" | bc)"
  done
  kill "$worker" "$controller"
  wait "$worker" "$controller" || true
}

base=$((7900 + RANDOM % 30 * 3))
run_mode plain "$base"
run_mode curve "$((base + 3))"
