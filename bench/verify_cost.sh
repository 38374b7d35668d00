#!/usr/bin/env bash
# What verification costs (docs/security.md, "Verification"): the same count
# job on a local cluster (a controller and two workers of --threads=1, on
# loopback), submitted with --verify=none and with the default
# --verify=sample, alternating which goes first, RUNS times each. Prints, for
# every pair, the CPU time of the controller and the workers together (from
# /proc: sieving, copies for verification, and the controller's primecount
# cross-check), the job's task time (what its results took on the nodes,
# copies included), the numbers the nodes sieved (copies included: the work
# itself, which the machine's other load does not disturb) and the wall
# time, then the median ratios sample / none.
# Goal: CPU within the sampled fraction plus 1% (1.06 at the default 0.05).
#
# A warm-up job with --verify=none first takes each worker's first results,
# which are always checked, so that the pairs measure a cluster in its
# steady state.
#
# Usage: bench/verify_cost.sh
#   RUNS        pairs to measure (default 3)
#   LO, HI      the range (default 1e12 and 1e12+3e11: a count that the
#               controller also checks with primecount)
#   FRACTION    the controller's --verify_fraction (default 0.05)
#   TASK_SECONDS  the controller's --task_seconds (default 0.25: some 250
#               tasks a job, so that the share drawn is near the fraction)
#   BUILD_DIR   Release build directory (default: build-release; built with
#               scripts/build.sh, tests off, when the binaries are missing)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

runs=${RUNS:-3}
lo=${LO:-1e12}
hi=${HI:-1e12+3e11}
fraction=${FRACTION:-0.05}
task_seconds=${TASK_SECONDS:-0.25}
build_dir=${BUILD_DIR:-build-release}

bin="$repo/$build_dir/bin"
[[ "$build_dir" == /* ]] && bin="$build_dir/bin"
quark_release_build "$build_dir"

quark_bench_setup quark-verify-cost
quark_bench_controller "$bin" --verify_fraction="$fraction" \
  --task_seconds="$task_seconds"
for name in w1 w2; do
  "$bin/quark-worker" --controller="$control" --name="$name" --threads=1 \
    --state_dir="$run/$name" </dev/null >"$run/$name.log" 2>&1 &
  pids+=("$!")
done
quark_wait_nodes "$bin/quark" "$api" 30 w1 w2

hz=$(getconf CLK_TCK)
# Numbers the nodes have sieved so far (their sessions last the whole run).
sieved() {
  "$bin/quark" --controller="$api" --json nodes |
    python3 -c 'import json,sys; print(sum(int(n.get("numbers_done", 0)) for n in json.load(sys.stdin).get("nodes", [])))'
}
# run_job MODE: submits the job with --verify=MODE and waits; sets cpu (the
# daemons' CPU seconds), wall, count and verified (its tasks checked, of all).
run_job() {
  local before after start json sieved_before
  sieved_before=$(sieved)
  before=$(quark_cpu_ticks "${pids[@]}")
  start=$(date +%s%3N)
  json=$("$bin/quark" --controller="$api" --json submit count "$lo" "$hi" \
    --verify="$1" --wait)
  wall=$(awk -v ms=$(($(date +%s%3N) - start)) 'BEGIN { printf "%.2f", ms / 1000 }')
  after=$(quark_cpu_ticks "${pids[@]}")
  numbers=$(($(sieved) - sieved_before))
  cpu=$(awk -v t=$((after - before)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
  count=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["count"])' <<<"$json")
  task_s=$(python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["task_seconds"])' <<<"$json")
  verified=$(python3 -c '
import json, sys
j = json.load(sys.stdin)
v = j.get("verification", {})
print("%s of %s, %s" % (v.get("tasks_verified", "0"), j["tasks_done"],
                        v.get("cross_check", "no cross-check")))' <<<"$json")
}

echo "quark submit count $lo $hi --verify=none   vs   --verify=sample" \
  "(--verify_fraction=$fraction --task_seconds=$task_seconds)"
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/quark" --controller="$api" submit count 0 1e9 --verify=none --wait >/dev/null
printf '%-4s %9s %9s %7s   %9s %9s %7s   %7s   %8s %8s   %s\n' run none_cpu samp_cpu ratio \
  none_task samp_task ratio sieved none_s samp_s "sample: tasks verified, cross-check"
ratios=()
task_ratios=()
work_ratios=()
for ((i = 1; i <= runs; i++)); do
  if ((i % 2)); then
    run_job none
    n_cpu=$cpu n_wall=$wall n_count=$count n_task=$task_s n_numbers=$numbers
    run_job sample
  else
    run_job sample
    s_cpu=$cpu s_wall=$wall s_count=$count s_verified=$verified s_task=$task_s
    s_numbers=$numbers
    run_job none
    n_cpu=$cpu n_wall=$wall n_count=$count n_task=$task_s n_numbers=$numbers
    cpu=$s_cpu wall=$s_wall count=$s_count verified=$s_verified task_s=$s_task
    numbers=$s_numbers
  fi
  if [[ "$count" != "$n_count" ]]; then
    quark_log "sample counted $count, none $n_count"
    exit 1
  fi
  ratio=$(awk -v s="$cpu" -v n="$n_cpu" 'BEGIN { printf "%.3f", s / n }')
  task_ratio=$(awk -v s="$task_s" -v n="$n_task" 'BEGIN { printf "%.3f", s / n }')
  work_ratio=$(awk -v s="$numbers" -v n="$n_numbers" 'BEGIN { printf "%.3f", s / n }')
  ratios+=("$ratio")
  task_ratios+=("$task_ratio")
  work_ratios+=("$work_ratio")
  printf '%-4s %9s %9s %7s   %9s %9s %7s   %7s   %8s %8s   %s\n' "$i" "$n_cpu" "$cpu" \
    "$ratio" "$n_task" "$task_s" "$task_ratio" "$work_ratio" "$n_wall" "$wall" "$verified"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "count: $count"
echo "median ratio sample / none: CPU of the daemons $(median "${ratios[@]}")," \
  "task time $(median "${task_ratios[@]}"), numbers sieved $(median "${work_ratios[@]}")" \
  "(goal <= $(awk -v f="$fraction" 'BEGIN { printf "%.2f", 1 + f + 0.01 }'))"
