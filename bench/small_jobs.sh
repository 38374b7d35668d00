#!/usr/bin/env bash
# A small job end to end: `quark submit count HI --wait` on a local cluster
# (scripts/cluster.sh: a controller and one worker on loopback) against the
# whole `primesieve HI -q` process, in blocks of CALLS calls of each,
# alternating which goes first, RUNS blocks each. Prints the mean time per
# call of every block, the median ratio quark / primesieve (goal: under 3)
# and, to show where the time goes, `quark --version` (the CLI's start and
# exit alone) and `quark jobs` (one request to the controller).
#
# Usage: bench/small_jobs.sh
#   RUNS        blocks to measure (default 5)
#   CALLS       calls per block (default 50)
#   HI          the range's upper end (default 1e5: the MPI tutorial's)
#   BUILD_DIR   build directory (default: build; built with scripts/build.sh
#               when the binaries are missing)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

runs=${RUNS:-5}
calls=${CALLS:-50}
hi=${HI:-1e5}
build_dir=${BUILD_DIR:-build}
bin="$build_dir/bin"

command -v primesieve >/dev/null || scripts/deps.sh
run=$(mktemp -d "${TMPDIR:-/tmp}/quark-small.XXXXXX")
started=0
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if ((started)); then
    QUARK_RUN_DIR=$run BUILD_DIR=$build_dir scripts/cluster.sh stop >/dev/null || true
  fi
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port=$(quark_pick_base)
export QUARK_RUN_DIR=$run QUARK_PORT=$port BUILD_DIR=$build_dir
started=1
scripts/cluster.sh start 1 >/dev/null
export QUARK_CONTROLLER="tcp://127.0.0.1:$((port + 2))"

expect=$(primesieve "$hi" -q)
got=$("$bin/quark" submit count "$hi" --wait)
if [[ "$got" != "$expect" ]]; then
  quark_log "quark printed '$got', primesieve '$expect'"
  exit 1
fi

# per_call CMD...: runs CMD `calls` times; prints the mean milliseconds per call.
TIMEFORMAT=%R
per_call() {
  local seconds i
  seconds=$({ time for ((i = 0; i < calls; i++)); do "$@" >/dev/null || exit 1; done; } 2>&1)
  awk -v s="$seconds" -v n="$calls" 'BEGIN { printf "%.2f", 1000 * s / n }'
}

median() {
  printf '%s\n' "$@" | sort -g |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "quark submit count $hi --wait   vs   primesieve $hi -q   ($calls calls a block)"
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-4s %9s %14s %7s %12s %11s\n' run quark_ms primesieve_ms ratio version_ms jobs_ms
ratios=()
for ((r = 1; r <= runs; r++)); do
  if ((r % 2)); then
    q=$(per_call "$bin/quark" submit count "$hi" --wait)
    p=$(per_call primesieve "$hi" -q)
  else
    p=$(per_call primesieve "$hi" -q)
    q=$(per_call "$bin/quark" submit count "$hi" --wait)
  fi
  v=$(per_call "$bin/quark" --version)
  j=$(per_call "$bin/quark" jobs)
  ratio=$(awk -v q="$q" -v p="$p" 'BEGIN { printf "%.2f", q / p }')
  ratios+=("$ratio")
  printf '%-4s %9s %14s %7s %12s %11s\n' "$r" "$q" "$p" "$ratio" "$v" "$j"
done
echo "answer: $expect (both)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median ratio quark/primesieve: $(median "${ratios[@]}") (goal < 3)"
