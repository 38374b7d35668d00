# Helpers shared by scripts/cluster.sh, scripts/demo.sh and bench/: starting
# the Quark binaries on loopback, waiting for them with a deadline, stopping
# them by pid. Source it; it defines functions only.
# shellcheck shell=bash

# quark_log MESSAGE...: one line on stderr, prefixed with the script's name.
quark_log() {
  echo "${0##*/}: $*" >&2
}

# quark_port_free PORT: true when nothing accepts connections on 127.0.0.1:PORT.
quark_port_free() {
  ! (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# quark_pick_base: prints a port P such that P to P+3 look free (control,
# collect, API; demo.sh's HTTP on P+3). Picks
# below Linux's ephemeral range (32768+) so outgoing connections do not race
# for it. Not race-free: callers retry when the controller fails to bind.
quark_pick_base() {
  local tries base
  for ((tries = 0; tries < 50; tries++)); do
    base=$((20000 + RANDOM % 12000))
    if quark_port_free "$base" && quark_port_free $((base + 1)) &&
      quark_port_free $((base + 2)) && quark_port_free $((base + 3)); then
      echo "$base"
      return 0
    fi
  done
  quark_log "found no free loopback ports"
  return 1
}

# quark_alive PID: true when PID runs one of our binaries (and is not a zombie).
quark_alive() {
  [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null &&
    grep -q 'quark' "/proc/$1/cmdline" 2>/dev/null
}

# quark_wait_log PID LOGFILE PATTERN SECONDS: waits until LOGFILE has a line
# matching the extended regex PATTERN. Fails when PID exits first or at the
# deadline.
quark_wait_log() {
  local pid=$1 log=$2 pattern=$3 deadline=$((SECONDS + $4))
  while ! grep -Eq -- "$pattern" "$log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      quark_log "process $pid exited before logging /$pattern/; end of $log:"
      tail -n 20 "$log" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      quark_log "timed out after $4 s waiting for /$pattern/ in $log"
      tail -n 20 "$log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
}

# quark_wait_nodes QUARK_BIN API_ENDPOINT SECONDS NAME...: polls
# `quark --json nodes` until every NAME is listed as connected, or fails at the deadline.
quark_wait_nodes() {
  local quark=$1 api=$2 seconds=$3 deadline=$((SECONDS + $3)) json name missing
  shift 3
  while :; do
    json=$("$quark" --controller="$api" --timeout=2s --json nodes 2>/dev/null || true)
    json=${json%%\"departed\"*}  # the connected nodes only, not those gone lately
    missing=()
    for name in "$@"; do
      grep -Eq "\"name\": *\"$name\"" <<<"$json" || missing+=("$name")
    done
    ((${#missing[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      quark_log "timed out after $seconds s: not registered: ${missing[*]}"
      quark_log "last 'quark --json nodes': ${json:-<nothing>}"
      return 1
    fi
    sleep 0.2
  done
}

# quark_cpu_ticks PID...: the CPU time (user + system, in clock ticks:
# getconf CLK_TCK a second) the processes used so far, summed: fields 14 and
# 15 of /proc/PID/stat, counted after the ")" that ends the command name.
quark_cpu_ticks() {
  local pid total=0 fields
  for pid in "$@"; do
    read -ra fields <<<"$(sed 's/.*) //' "/proc/$pid/stat")"
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}

# quark_release_build DIR: makes DIR a Release build of the three binaries
# (tests off) if it is not one, else brings it up to date; the benches run
# on it. DIR is relative to the repository unless absolute.
quark_release_build() {
  local dir=$1 bin
  bin="$dir/bin"
  if [[ ! -x "$bin/quark" || ! -x "$bin/quark-worker" || ! -x "$bin/quark-controller" ]] ||
    ! grep -qx 'CMAKE_BUILD_TYPE:STRING=Release' "$dir/CMakeCache.txt" 2>/dev/null; then
    BUILD_DIR=$dir BUILD_TYPE=Release scripts/build.sh -DQUARK_BUILD_TESTS=OFF >&2
  else
    # Incremental: rebuilds only what changed since the last run.
    SKIP_DEPS=1 BUILD_DIR=$dir scripts/build.sh >/dev/null
  fi
}

# quark_bench_setup NAME: a bench's run directory, $run (removed at exit),
# and $pids, the processes it starts (stopped at exit, by their pid).
quark_bench_setup() {
  run=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  pids=()
  trap quark_bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# shellcheck disable=SC2317  # called by the EXIT trap
quark_bench_cleanup() {
  if ((${#pids[@]} > 0)); then quark_stop 40 "${pids[@]}"; fi
  rm -rf "$run"
}

# quark_bench_controller BIN [FLAG...]: starts BIN/quark-controller with
# FLAGs on loopback ports from quark_pick_base (no --http), its state and log
# in $run, and waits until it is ready; sets $control, $api and
# $controller_pid, which it adds to $pids (quark_bench_setup first).
quark_bench_controller() {
  local bin=$1 base
  shift
  base=$(quark_pick_base)
  control="tcp://127.0.0.1:$base"
  api="tcp://127.0.0.1:$((base + 2))"
  "$bin/quark-controller" --control="$control" --http= \
    --collect="tcp://127.0.0.1:$((base + 1))" --api="$api" \
    --state_dir="$run/state" "$@" </dev/null >"$run/controller.log" 2>&1 &
  controller_pid=$!
  pids+=("$controller_pid")
  quark_wait_log "$controller_pid" "$run/controller.log" 'controller ready' 15
}

# quark_stop SECONDS PID...: SIGTERM to each live PID, waits up to SECONDS for
# all of them, then SIGKILL to those left. Only touches the PIDs given.
quark_stop() {
  local seconds=$1 deadline=$(($1 + SECONDS)) pid left
  shift
  for pid in "$@"; do
    if quark_alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  while :; do
    left=()
    for pid in "$@"; do
      # A zombie has an empty cmdline: it is gone, whoever reaps it.
      if quark_alive "$pid"; then left+=("$pid"); fi
    done
    ((${#left[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      quark_log "still running after $seconds s, sending SIGKILL: ${left[*]}"
      kill -KILL "${left[@]}" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  # Reap our own children so they leave no zombies; others are not ours.
  for pid in "$@"; do
    wait "$pid" 2>/dev/null || true
  done
}
