#!/usr/bin/env bash
# Counts the primes in [0, 1e11] on a local Quark cluster (a controller and
# one worker with 2 threads, on loopback) and with `primesieve 1e11 -t2`,
# alternating which goes first, RUNS times each, and prints the wall time of
# every pair and the median ratio quark / primesieve. Goal: <= 1.05. It also
# prints the CPU time of each side (for quark: controller, worker and CLI),
# which other load on the machine disturbs much less than the wall time.
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
quark_release_build "$build_dir"

quark_bench_setup quark-bench
quark_bench_controller "$bin"
"$bin/quark-worker" --controller="$control" --name=bench --threads="$threads" \
  </dev/null >"$run/worker.log" 2>&1 &
worker_pid=$!
pids+=("$worker_pid")
quark_wait_nodes "$bin/quark" "$api" 30 bench

# CPU seconds (user + system) used so far by the controller and the worker.
ticks=$(getconf CLK_TCK)
daemons_cpu() {
  awk -v t="$(quark_cpu_ticks "$controller_pid" "$worker_pid")" -v hz="$ticks" \
    'BEGIN { printf "%.3f", t / hz }'
}

# time_it CMD...: runs CMD; sets wall to its wall time, cpu to the CPU time
# of CMD and its children, and result to the last line it printed.
TIMEFORMAT='%R %U %S'
time_it() {
  { time "$@" >"$run/out"; } 2>"$run/time"
  read -r wall user sys <"$run/time"
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')
  result=$(tail -n 1 "$run/out")
}

run_quark() {
  local before after
  before=$(daemons_cpu)
  time_it "$bin/quark" --controller="$api" submit count "$hi" --wait
  after=$(daemons_cpu)
  check quark "$result"
  q_wall=$wall
  # The sieving happens in the daemons; add the CLI's own share.
  q_cpu=$(awk -v a="$after" -v b="$before" -v c="$cpu" 'BEGIN { printf "%.2f", a - b + c }')
}

run_primesieve() {
  time_it primesieve "$hi" "-t$threads" -q
  check primesieve "$result"
  p_wall=$wall
  p_cpu=$cpu
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
printf '%-4s %8s %12s %8s   %8s %12s %8s\n' run quark_s primesieve_s ratio \
  quark_cpu primesieve_cpu ratio
ratios=()
cpu_ratios=()
for ((i = 1; i <= runs; i++)); do
  if ((i % 2)); then
    run_quark
    run_primesieve
  else
    run_primesieve
    run_quark
  fi
  ratio=$(awk -v q="$q_wall" -v p="$p_wall" 'BEGIN { printf "%.3f", q / p }')
  cpu_ratio=$(awk -v q="$q_cpu" -v p="$p_cpu" 'BEGIN { printf "%.3f", q / p }')
  ratios+=("$ratio")
  cpu_ratios+=("$cpu_ratio")
  printf '%-4s %8s %12s %8s   %8s %12s %8s\n' "$i" "$q_wall" "$p_wall" "$ratio" \
    "$q_cpu" "$p_cpu" "$cpu_ratio"
done
median() {
  printf '%s\n' "$@" | sort -g |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "count: $expect (both, every run)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median CPU-time ratio quark/primesieve: $(median "${cpu_ratios[@]}")"
echo "median wall-time ratio quark/primesieve: $(median "${ratios[@]}") (goal <= 1.05)"
