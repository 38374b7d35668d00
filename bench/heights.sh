#!/usr/bin/env bash
# Quark against the primesieve command at several heights. For each KIND
# (count, twins) and each height (0, 1e12, 1e15, 1e18 and the top, a range
# that ends at 2^64-1) it times, RUNS times and alternating the order
# (A B C, then C B A, ...):
#   A  `quark submit KIND LO HI --wait` on a local controller with ONE worker
#      started with --threads=2,
#   B  the same with TWO workers started with --threads=1 each,
#   C  `primesieve LO HI -c1 -t2 -q` (twins: -c2).
# The controllers (one for A, one for B, on loopback, in a temporary state
# dir) run for the whole script; the workers are started fresh for each
# measurement, so their peak RSS (VmHWM, read just before they are stopped)
# belongs to that height alone. Every answer of quark must equal primesieve's
# exactly, or the script stops with status 1.
#
# It prints one line per kind x height: the median wall seconds of A, B and C,
# the median of the per-run ratios A/C and B/C, the largest worker peak RSS
# seen for A and for B (for B the larger of its two workers) and primesieve's,
# in MiB. The details of each run go to stderr.
#
# Then a last run: set-up A with the worker started with --memory_limit=1536M,
# counting the primes of the top range (WIDTH_TOP times SCALE, ending at
# 2^64-1); PASS when the count equals primesieve's and the worker's peak RSS
# stayed below 1536 MiB (the flag's M is MiB); FAIL makes the status 1. Skipped (with a message) when
# quark-worker has no --memory_limit flag.
#
# Goals: a median ratio A/C and B/C of at most 1.02 at every height; the
# peak RSS of A's worker at most primesieve's with the same threads (-t2) plus
# 5% (B's workers have one thread each: their RSS is shown, not judged); the
# 1.5 GB run exact and within its limit. The last column says which goals a
# line misses.
#
# Usage: bench/heights.sh
#   RUNS        measurements of each set-up per kind and height (default 3)
#   KINDS       default "count twins"
#   HEIGHTS     default "0 1e12 1e15 1e18 top"; a height is LO, or "top"
#   WIDTH_0     length of the range at 0 (default 1e11: [0, 1e11])
#   WIDTH_1e12  at 1e12 (default 1e11: [1e12, 1e12+1e11])
#   WIDTH_1e15  at 1e15 (default 5e10)
#   WIDTH_1e18  at 1e18 (default 2e10)
#   WIDTH_TOP   at the top (default 1e10: [2^64-1-1e10, 2^64-1])
#               another height H takes WIDTH_H, with characters other than
#               letters, digits and _ made _ (e.g. WIDTH_2_60 for 2^60;
#               default 1e10)
#   SCALE       multiplies every width, e.g. SCALE=0.01 for a smoke run
#               (default 1)
#   BUILD_DIR   build directory (default: build-release). Built with
#               scripts/build.sh as Release, tests off, when the binaries are
#               missing; a Release build is brought up to date
#               incrementally; another build type is used as it is, with a
#               warning. SKIP_BUILD=1: never build.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh disable=SC1091  # plain `shellcheck` does not follow it
source scripts/lib.sh

runs=${RUNS:-3}
read -r -a kinds <<<"${KINDS:-count twins}"
read -r -a heights <<<"${HEIGHTS:-0 1e12 1e15 1e18 top}"
scale=${SCALE:-1}
build_dir=${BUILD_DIR:-build-release}
memory_limit_mib=1536

if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  quark_log "RUNS must be a positive integer, not '$runs'"
  exit 2
fi
for kind in "${kinds[@]}"; do
  case $kind in
    count | twins) ;;
    *)
      quark_log "unknown kind '$kind' in KINDS (count or twins)"
      exit 2
      ;;
  esac
done

command -v primesieve >/dev/null || scripts/deps.sh
command -v python3 >/dev/null || {
  quark_log "needs python3 (for numbers above 2^63)"
  exit 1
}
[[ -x /usr/bin/time ]] || {
  quark_log "needs /usr/bin/time (GNU time, for primesieve's peak RSS)"
  exit 1
}
bin="$repo/$build_dir/bin"
[[ "$build_dir" == /* ]] && bin="$build_dir/bin"
build_note=
if [[ ! -x "$bin/quark" || ! -x "$bin/quark-worker" || ! -x "$bin/quark-controller" ]]; then
  if [[ "${SKIP_BUILD:-0}" == 1 ]]; then
    quark_log "no quark binaries in $bin (and SKIP_BUILD=1)"
    exit 1
  fi
  BUILD_DIR=$build_dir BUILD_TYPE=Release scripts/build.sh -DQUARK_BUILD_TESTS=OFF >&2
elif grep -qx 'CMAKE_BUILD_TYPE:STRING=Release' "$build_dir/CMakeCache.txt" 2>/dev/null; then
  if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    # Incremental: rebuilds only what changed since the last run.
    SKIP_DEPS=1 BUILD_DIR=$build_dir scripts/build.sh >/dev/null
  fi
else
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
  build_note="warning: $build_dir is a ${build_type:-non-Release} build, used as it is: quark's times are not representative"
fi

run=$(mktemp -d "${TMPDIR:-/tmp}/quark-heights.XXXXXX")
controllers=()
workers=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if ((${#workers[@]} > 0)); then quark_stop 40 "${workers[@]}"; fi
  if ((${#controllers[@]} > 0)); then quark_stop 40 "${controllers[@]}"; fi
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# range HEIGHT WIDTH: prints "LO HI" in plain decimal: [HEIGHT, HEIGHT+WIDTH],
# or [2^64-1-WIDTH, 2^64-1] for "top", WIDTH multiplied by SCALE. Numbers as
# quark takes them: 1e12, 1.5e9, 10^12, 2^64-1, 1e12+1000.
range() {
  python3 - "$1" "$2" "$scale" <<'EOF'
import re, sys
from decimal import Decimal, ROUND_HALF_EVEN, getcontext

getcontext().prec = 60
TERM = re.compile(r"\s*(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)(?:\^(\d+))?\s*")

def num(text, what):
    pos, total, sign = 0, Decimal(0), 1
    while True:
        m = TERM.match(text, pos)
        if not m:
            sys.exit(f"heights.sh: bad number for {what}: {text!r}")
        value = Decimal(m.group(1))
        if m.group(2) is not None:
            value = value ** int(m.group(2))
        total += sign * value
        pos = m.end()
        if pos == len(text):
            return total
        if text[pos] not in "+-":
            sys.exit(f"heights.sh: bad number for {what}: {text!r}")
        sign = 1 if text[pos] == "+" else -1
        pos += 1

top = 2**64 - 1
height, width, scale = sys.argv[1:4]
w = num(width, "the width") * num(scale, "SCALE")
w = max(1, int(w.to_integral_value(rounding=ROUND_HALF_EVEN)))
if height == "top":
    lo, hi = max(0, top - w), top
else:
    h = num(height, "the height")
    if h != h.to_integral_value():
        sys.exit(f"heights.sh: height {height!r} is not an integer")
    lo = int(h)
    hi = lo + w
if not 0 <= lo <= hi <= top:
    sys.exit(f"heights.sh: [{lo}, {hi}] for height {height!r} is not below 2^64")
print(lo, hi)
EOF
}

# width_of HEIGHT: the unscaled width for HEIGHT, from WIDTH_<HEIGHT> or the
# default.
width_of() {
  local name default
  case $1 in
    top) name=WIDTH_TOP default=1e10 ;;
    *)
      name="WIDTH_${1//[^A-Za-z0-9_]/_}"
      case $1 in
        0) default=1e11 ;;
        1e12) default=1e11 ;;
        1e15) default=5e10 ;;
        1e18) default=2e10 ;;
        *) default=1e10 ;;
      esac
      ;;
  esac
  echo "${!name:-$default}"
}

# Every range first, so that a bad height fails before anything runs.
declare -A lo_of hi_of
for height in "${heights[@]}"; do
  read -r lo hi < <(range "$height" "$(width_of "$height")")
  [[ -n "${hi:-}" ]] || exit 2
  lo_of[$height]=$lo
  hi_of[$height]=$hi
done

# start_controller SETUP: starts a controller on free loopback ports; sets
# api_SETUP and control_SETUP. Picks other ports when it cannot bind.
start_controller() {
  local setup=$1 tries base pid
  for ((tries = 1; ; tries++)); do
    base=$(quark_pick_base)
    "$bin/quark-controller" --control="tcp://127.0.0.1:$base" \
      --collect="tcp://127.0.0.1:$((base + 1))" --api="tcp://127.0.0.1:$((base + 2))" \
      --http= --state_dir="$run/state-$setup" </dev/null >"$run/controller-$setup.log" 2>&1 &
    pid=$!
    controllers+=("$pid")
    if quark_wait_log "$pid" "$run/controller-$setup.log" 'controller ready' 15; then
      break
    fi
    quark_stop 10 "$pid"
    if ((tries >= 5)); then
      quark_log "the controller for set-up $setup did not start"
      exit 1
    fi
  done
  printf -v "control_$setup" '%s' "tcp://127.0.0.1:$base"
  printf -v "api_$setup" '%s' "tcp://127.0.0.1:$((base + 2))"
}

# start_workers SETUP THREADS NAME...: starts one worker per NAME on SETUP's
# controller, each with --threads=THREADS and $worker_extra, and waits until
# all are registered. Sets workers to their pids.
worker_extra=()
start_workers() {
  local setup=$1 threads=$2 name control_var="control_$1" api_var="api_$1"
  shift 2
  workers=()
  for name in "$@"; do
    "$bin/quark-worker" --controller="${!control_var}" --name="$name" \
      --threads="$threads" "${worker_extra[@]}" \
      </dev/null >"$run/worker-$name.log" 2>&1 &
    workers+=("$!")
  done
  # quark_wait_nodes, but giving up as soon as a worker exits.
  local deadline=$((SECONDS + 30)) pid json missing
  while :; do
    json=$("$bin/quark" --controller="${!api_var}" --timeout=2s --json nodes 2>/dev/null || true)
    missing=()
    for name in "$@"; do
      grep -Eq "\"name\": *\"$name\"" <<<"$json" || missing+=("$name")
    done
    ((${#missing[@]} == 0)) && return 0
    for pid in "${workers[@]}"; do
      if ! quark_alive "$pid"; then
        quark_log "worker $pid ($*) exited before registering; end of its log:"
        for name in "$@"; do tail -n 20 "$run/worker-$name.log" >&2 || true; done
        exit 1
      fi
    done
    if ((SECONDS >= deadline)); then
      quark_log "timed out after 30 s: not registered: ${missing[*]}"
      for name in "$@"; do tail -n 20 "$run/worker-$name.log" >&2 || true; done
      exit 1
    fi
    sleep 0.2
  done
}

# stop_workers: sets rss_mib to the largest peak RSS of the workers, then
# stops them.
stop_workers() {
  local pid kb max=0
  for pid in "${workers[@]}"; do
    kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    if [[ -z "$kb" ]]; then
      quark_log "worker $pid is gone before the end of the measurement"
      exit 1
    fi
    if ((kb > max)); then max=$kb; fi
  done
  quark_stop 40 "${workers[@]}"
  workers=()
  rss_mib=$(awk -v k="$max" 'BEGIN { printf "%.1f", k / 1024 }')
}

# time_it CMD...: runs CMD; sets wall to its wall seconds and result to the
# last line it printed. Exits with CMD's stderr when it fails.
TIMEFORMAT='%R'
time_it() {
  local status=0
  { time "$@" >"$run/out" 2>"$run/err"; } 2>"$run/time" || status=$?
  if ((status != 0)); then
    quark_log "failed (status $status): $*"
    cat "$run/err" >&2
    exit 1
  fi
  wall=$(tail -n 1 "$run/time")
  result=$(tail -n 1 "$run/out")
}

seq_no=0
# run_quark SETUP KIND LO HI: one measurement of set-up A or B; sets wall,
# result and rss_mib.
run_quark() {
  local setup=$1 kind=$2 lo=$3 hi=$4 api_var="api_$1"
  seq_no=$((seq_no + 1))
  case $setup in
    A) start_workers A 2 "a1-$seq_no" ;;
    B) start_workers B 1 "b1-$seq_no" "b2-$seq_no" ;;
  esac
  time_it "$bin/quark" --controller="${!api_var}" submit "$kind" "$lo" "$hi" --wait
  stop_workers
}

# run_primesieve KIND LO HI: one measurement of set-up C; sets wall, result
# and rss_mib.
run_primesieve() {
  local kind=$1 lo=$2 hi=$3 c=1
  [[ "$kind" == twins ]] && c=2
  time_it /usr/bin/time -f %M -o "$run/rss" primesieve "$lo" "$hi" "-c$c" -t2 -q
  rss_mib=$(awk 'END { printf "%.1f", $1 / 1024 }' "$run/rss")
}

median() {
  printf '%s\n' "$@" | sort -g |
    awk '{ v[NR] = $1 }
      END { printf "%.3f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
max_of() {
  printf '%s\n' "$@" | sort -g | tail -n 1
}

start_controller A
start_controller B

echo "quark A (1 worker, --threads=2), B (2 workers, --threads=1) vs C (primesieve -t2); RUNS=$runs SCALE=$scale"
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1); build: $bin"
[[ -n "$build_note" ]] && echo "$build_note"
# Other work on the machine skews the times: the load average says how busy it was.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
format='%-5s %20s %20s %8s %8s %8s %6s %6s %7s %7s %7s  %s\n'
# shellcheck disable=SC2059  # the format is ours
printf "$format" kind lo hi A_s B_s C_s A/C B/C A_MiB B_MiB C_MiB goals
declare -A answer_of
misses=0
for kind in "${kinds[@]}"; do
  for height in "${heights[@]}"; do
    lo=${lo_of[$height]}
    hi=${hi_of[$height]}
    a_walls=() b_walls=() c_walls=() ac=() bc=() a_rss=() b_rss=() c_rss=()
    for ((i = 1; i <= runs; i++)); do
      if ((i % 2)); then order=(A B C); else order=(C B A); fi
      declare -A res=()
      for setup in "${order[@]}"; do
        case $setup in
          A | B) run_quark "$setup" "$kind" "$lo" "$hi" ;;
          C) run_primesieve "$kind" "$lo" "$hi" ;;
        esac
        res[$setup]=$result
        case $setup in
          A) a_walls+=("$wall") a_rss+=("$rss_mib") ;;
          B) b_walls+=("$wall") b_rss+=("$rss_mib") ;;
          C) c_walls+=("$wall") c_rss+=("$rss_mib") ;;
        esac
      done
      expect=${answer_of["$kind $lo $hi"]:-${res[C]}}
      for setup in C A B; do
        if [[ "${res[$setup]}" != "$expect" ]]; then
          quark_log "MISMATCH: $kind [$lo, $hi] run $i: set-up $setup printed" \
            "'${res[$setup]}', primesieve printed '$expect'"
          exit 1
        fi
      done
      answer_of["$kind $lo $hi"]=$expect
      ac+=("$(awk -v a="${a_walls[-1]}" -v c="${c_walls[-1]}" 'BEGIN { printf "%.3f", a / c }')")
      bc+=("$(awk -v b="${b_walls[-1]}" -v c="${c_walls[-1]}" 'BEGIN { printf "%.3f", b / c }')")
      quark_log "$kind [$lo, $hi] run $i (${order[*]}): answer $expect;" \
        "A ${a_walls[-1]} s ${a_rss[-1]} MiB, B ${b_walls[-1]} s ${b_rss[-1]} MiB," \
        "C ${c_walls[-1]} s ${c_rss[-1]} MiB"
    done
    a_m=$(max_of "${a_rss[@]}")
    b_m=$(max_of "${b_rss[@]}")
    c_m=$(max_of "${c_rss[@]}")
    ac_med=$(median "${ac[@]}")
    bc_med=$(median "${bc[@]}")
    goals=$(awk -v ac="$ac_med" -v bc="$bc_med" -v a="$a_m" -v c="$c_m" 'BEGIN {
      m = ""
      if (ac > 1.02) m = m ",A/C"
      if (bc > 1.02) m = m ",B/C"
      if (a > c * 1.05) m = m ",A_MiB"
      print (m == "") ? "ok" : "missed:" substr(m, 2)
    }')
    [[ "$goals" == ok ]] || misses=$((misses + 1))
    # shellcheck disable=SC2059  # the format is ours
    printf "$format" "$kind" "$lo" "$hi" \
      "$(median "${a_walls[@]}")" "$(median "${b_walls[@]}")" "$(median "${c_walls[@]}")" \
      "$ac_med" "$bc_med" "$a_m" "$b_m" "$c_m" "$goals"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "answers: quark (A and B) equal to primesieve, exactly, in every run"
echo "goals (median A/C and B/C <= 1.02; A's worker RSS <= primesieve's + 5%):" \
  "$((${#kinds[@]} * ${#heights[@]} - misses)) of $((${#kinds[@]} * ${#heights[@]})) lines met them"

# The last run: set-up A under --memory_limit, counting near the top.
help=$("$bin/quark-worker" --helpfull 2>&1 || true)
if ! grep -q 'memory_limit' <<<"$help"; then
  echo "memory_limit run: skipped: quark-worker has no --memory_limit"
  exit 0
fi
read -r lo hi < <(range top "$(width_of top)")
[[ -n "${hi:-}" ]] || exit 2
expect=${answer_of["count $lo $hi"]:-}
if [[ -z "$expect" ]]; then
  run_primesieve count "$lo" "$hi"
  expect=$result
fi
worker_extra=("--memory_limit=${memory_limit_mib}M")
run_quark A count "$lo" "$hi"
verdict=PASS
why=
if [[ "$result" != "$expect" ]]; then
  verdict=FAIL why=" (quark printed '$result', primesieve '$expect')"
elif ! awk -v r="$rss_mib" -v l="$memory_limit_mib" 'BEGIN { exit !(r < l) }'; then
  verdict=FAIL why=" (peak RSS not below the limit)"
fi
echo "memory_limit run: A, worker --threads=2 --memory_limit=${memory_limit_mib}M," \
  "count [$lo, $hi]: $wall s, worker peak RSS $rss_mib MiB (limit $memory_limit_mib MiB)," \
  "answer $result: $verdict$why"
[[ "$verdict" == PASS ]]
