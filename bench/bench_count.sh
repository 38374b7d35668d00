#!/usr/bin/env bash
# Counts the primes in [0, 1e11] on a local Quark cluster (a controller and
# one worker with 2 threads, on loopback) and with `primesieve 1e11 -t2`,
# alternating which goes first, RUNS times each, and prints the wall time of
# every pair and the median ratio quark / primesieve. Goal: <= 1.05.
#
# Usage: bench/bench_count.sh
#   RUNS        pairs to measure (default 5)
#   HI          upper bound of the range (default 1e11)
#   THREADS     worker --threads and primesieve -t (default 2)
#   BUILD_DIR   Release build directory (default: build-release; built with
#               scripts/build.sh, tests off, when the binaries are missing)
#   EXPECT      the count both must print (default: 4118054813 when HI=1e11,
#               else whatever primesieve prints)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

runs=${RUNS:-5}
hi=${HI:-1e11}
threads=${THREADS:-2}
build_dir=${BUILD_DIR:-build-release}
expect=${EXPECT:-}
if [[ -z "$expect" && "$hi" == 1e11 ]]; then expect=4118054813; fi

command -v primesieve >/dev/null || scripts/deps.sh
bin="$repo/$build_dir/bin"
[[ "$build_dir" == /* ]] && bin="$build_dir/bin"
if [[ ! -x "$bin/quark" || ! -x "$bin/quark-worker" || ! -x "$bin/quark-controller" ]] ||
  ! grep -qx 'CMAKE_BUILD_TYPE:STRING=Release' "$build_dir/CMakeCache.txt" 2>/dev/null; then
  BUILD_DIR=$build_dir BUILD_TYPE=Release scripts/build.sh -DQUARK_BUILD_TESTS=OFF >&2
else
  # Incremental: rebuilds only what changed since the last run.
  SKIP_DEPS=1 BUILD_DIR=$build_dir scripts/build.sh >/dev/null
fi

run=$(mktemp -d "${TMPDIR:-/tmp}/quark-bench.XXXXXX")
pids=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if ((${#pids[@]} > 0)); then quark_stop 40 "${pids[@]}"; fi
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

base=$(quark_pick_base)
control="tcp://127.0.0.1:$base"
api="tcp://127.0.0.1:$((base + 2))"
"$bin/quark-controller" --control="$control" --collect="tcp://127.0.0.1:$((base + 1))" \
  --api="$api" --state_dir="$run/state" </dev/null >"$run/controller.log" 2>&1 &
pids+=("$!")
quark_wait_log "$!" "$run/controller.log" 'controller ready' 15
"$bin/quark-worker" --controller="$control" --name=bench --threads="$threads" \
  </dev/null >"$run/worker.log" 2>&1 &
pids+=("$!")
quark_wait_nodes "$bin/quark" "$api" 30 bench

now_ns() { date +%s%N; }

# time_it CMD...: runs CMD; sets timed_seconds to its wall time and
# timed_result to the last line it printed.
time_it() {
  local start end out
  start=$(now_ns)
  out=$("$@")
  end=$(now_ns)
  timed_seconds=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }')
  timed_result=$(tail -n 1 <<<"$out")
}

run_quark() {
  time_it "$bin/quark" --controller="$api" submit count "$hi" --wait
  check quark "$timed_result"
  q_s=$timed_seconds
}

run_primesieve() {
  time_it primesieve "$hi" "-t$threads" -q
  check primesieve "$timed_result"
  p_s=$timed_seconds
}

check() {
  local who=$1 got=$2
  if [[ -z "$expect" ]]; then expect=$got; fi
  if [[ "$got" != "$expect" ]]; then
    quark_log "$who printed '$got', expected $expect"
    exit 1
  fi
}

echo "quark submit count $hi --wait   vs   primesieve $hi -t$threads"
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
# Other work on the machine skews both columns: the load average says how busy it was.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-4s %10s %12s %8s\n' run quark_s primesieve_s ratio
ratios=()
for ((i = 1; i <= runs; i++)); do
  if ((i % 2)); then
    run_quark
    run_primesieve
  else
    run_primesieve
    run_quark
  fi
  ratio=$(awk -v q="$q_s" -v p="$p_s" 'BEGIN { printf "%.3f", q / p }')
  ratios+=("$ratio")
  printf '%-4s %10s %12s %8s\n' "$i" "$q_s" "$p_s" "$ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g |
  awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "count: $expect"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median ratio quark/primesieve: $median (goal <= 1.05)"
