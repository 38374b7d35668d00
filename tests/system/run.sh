#!/usr/bin/env bash
# The system test: Quark's .deb packages under a real systemd. Boots a
# minimal Debian bookworm root with systemd as PID 1 of its own namespaces
# (tests/system/lib.sh, init.sh), installs the packages there, and checks
# what only systemd can show: READY=1, a graceful stop, the watchdog, a
# controller restart, each with a job whose answer must be exact (primecount
# on the host gives the reference). One PASS or FAIL line per check; the
# journal of both units on failure. Everything it starts is gone when it
# exits, on failure too, and the host's /tmp is left as it was.
# docs/operations.md, "Testing under a real systemd".
#
# Usage: tests/system/run.sh              (as root; needs debootstrap,
#                                          unshare and nsenter, primecount)
#   BUILD_DIR           build whose packages are tested (default: build);
#                       scripts/package.sh brings them up to date first
#   PACKAGE_DIR         take the .debs from here as they are instead
#   QUARK_SYSTEM_CACHE  where the debootstrapped root is kept between runs
#                       (default: /var/cache/quark-system; the first run
#                       makes it, which takes a few minutes)
#   QUARK_SYSTEM_MIRROR Debian mirror for debootstrap (default: the host's
#                       apt sources' bookworm one)
#   QUARK_SYSTEM_WORK   where each run's copy of the root goes (default:
#                       /var/tmp)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
# shellcheck source=tests/system/lib.sh
source tests/system/lib.sh

# Jobs, sized for one worker with this machine's cores: the first is a
# plain exact answer; each of the others must still be running when the
# test acts on it (a few tasks of about 2 s each done, many left).
readonly JOB_PLAIN=(2e10 5e10)
readonly JOB_LONG_LO=1e11
readonly JOB_LONG_HI=3e11

passed=0
failed=0
job_id=
outcome=
tmp_marker=
tmp_before=()

pass() {
  echo "PASS: $*"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL: $*"
  failed=$((failed + 1))
}

# ------------------------------------------------------------ the machine

on_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  # A signal may come while a command's output goes to a file.
  exec 1>&3 2>&4
  if [[ -n "$SYS_INIT" ]] && ((failed > 0 || rc != 0)); then
    echo "== journal of quark-worker and quark-controller"
    sys_run timeout 30 journalctl --no-pager -o short-monotonic \
      -u quark-worker -u quark-controller 2>&1 | tail -n 300 || true
  fi
  if ((rc != 0)); then
    fail "stopped early (exit $rc): the checks after the last line above did not run"
  fi
  local cleaned=0
  sys_teardown || cleaned=$?
  if [[ -n "$SYS_WORK" ]]; then
    if ((cleaned == 0)); then
      pass "teardown: systemd and every process of its namespaces killed, no mount," \
        "cgroup or file of the run left"
    else
      fail "teardown: something was left (above)"
    fi
  fi
  check_host_tmp
  echo "system: $passed passed, $failed failed"
  if ((failed > 0 || rc != 0)); then
    exit 1
  fi
  exit 0
}

# Marks the host's /tmp before booting: a fresh directory and files, one
# dated back 60 days (boot-time and age-based cleaning would both remove
# them), and a list of what was already there 10 minutes ago.
mark_host_tmp() {
  tmp_marker=$(mktemp -d /tmp/quark-system-marker.XXXXXX)
  echo "quark system test" >"$tmp_marker/new"
  echo "quark system test" >"$tmp_marker/old"
  touch -d '-60 days' "$tmp_marker/old"
  mapfile -t tmp_before < <(find /tmp -mindepth 1 -maxdepth 1 ! -newermt '-10 minutes' -printf '%P\n')
}

check_host_tmp() {
  [[ -n "$tmp_marker" ]] || return 0
  local gone=() entry
  for entry in "$tmp_marker" "$tmp_marker/new" "$tmp_marker/old"; do
    [[ -e "$entry" ]] || gone+=("$entry")
  done
  for entry in "${tmp_before[@]}"; do
    [[ -e "/tmp/$entry" || -L "/tmp/$entry" ]] || gone+=("/tmp/$entry")
  done
  if ((${#gone[@]} == 0)); then
    pass "host /tmp untouched: the markers and all ${#tmp_before[@]} older entries are there"
  else
    fail "host /tmp: ${#gone[@]} entries gone: ${gone[*]:0:10}"
  fi
  rm -rf "$tmp_marker"
}

# ---------------------------------------------------------------- helpers

# Waits until a command succeeds: wait_for SECONDS COMMAND...
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# A unit's property: prop UNIT PROPERTY
prop() {
  sys_run systemctl show -P "$2" "$1"
}

running() {
  [[ "$(prop "$1" ActiveState)/$(prop "$1" SubState)" == active/running ]]
}

# The CLI inside; it gives up when the controller is silent for 30 s (a
# restart is shorter), the outer timeout when a job takes 10 minutes.
quark() {
  sys_run timeout 600 quark --timeout 30s "$@"
}

# Whether the worker's journal says the controller refused its key.
refused() {
  sys_run journalctl --no-pager -o cat -u quark-worker | grep -q 'refused this node'
}

# Whether `quark nodes` lists NODE: registered NODE
registered() {
  quark nodes | awk -v node="$1" '$1 == node { found = 1 } END { exit !found }'
}

# Exact count of primes in [LO, HI] on the host: primecount LO HI
reference() {
  local lo hi
  lo=$(primecount "$1-1") hi=$(primecount "$2")
  echo $((hi - lo))
}

# A field of `quark job ID`: job_field ID FIELD
job_field() {
  quark job "$1" | sed -n "s/^$2: //p"
}

# Whether job ID is running with at least 2 tasks done: mid_job ID
mid_job() {
  local tasks_done
  tasks_done=$(job_field "$1" tasks | awk '{ print $1 }')
  [[ "$(job_field "$1" state)" == running ]] && ((${tasks_done:-0} >= 2))
}

# Submits a long job and waits until some of its tasks are done and it is
# still running; sets job_id. Not in $(...), like every long wait here, so
# that a signal ends the run at once (bash runs traps between commands).
submit_mid_job() {
  job_id=
  local out=$SYS_WORK/submit.out
  quark submit count "$JOB_LONG_LO" "$JOB_LONG_HI" >"$out" || return 1
  job_id=$(sed -n 's/^job //p' "$out")
  [[ -n "$job_id" ]] && wait_for 120 mid_job "$job_id"
}

# Waits for a job and compares its result with primecount's: job_exact ID
# LO HI; sets outcome to "RESULT (expected REFERENCE)".
job_exact() {
  local out=$SYS_WORK/job.out result expected
  quark job "$1" --wait >"$out" || true
  result=$(cat "$out")
  expected=$(reference "$2" "$3")
  outcome="$result (expected $expected)"
  [[ "$result" == "$expected" ]]
}

journal_since() {
  sys_run journalctl --no-pager -o cat --since "@$2" -u "$1"
}

# Seconds since the epoch inside, a second early: for journalctl --since.
now() {
  echo $(($(sys_run date +%s) - 1))
}

# ----------------------------------------------------------------- checks

check_boot() {
  sys_cached_root "${debs[@]}"
  mark_host_tmp
  sys_boot "$SYS_TARBALL"
  if [[ "$SYS_STATE" == running ]]; then
    pass "boot: systemd is PID 1 of the namespaces and reached 'running'"
  else
    pass "boot: systemd reached '$SYS_STATE'; failed units:" \
      "$(sys_run systemctl --failed --no-legend --plain | awk '{ print $1 }' | paste -s -d' ')"
  fi
}

# The controller node that runs a worker too: the controller's package
# first, so that its controller.pub is there when the worker's postinst
# starts the worker.
check_install() {
  mkdir -p "$SYS_ROOT/root/debs"
  cp "${debs[@]}" "$SYS_ROOT/root/debs/"
  local inside=() deb
  for deb in "${debs[@]}"; do
    inside+=("/root/debs/${deb##*/}")
  done
  local log=$SYS_WORK/dpkg.log
  # debs: quark, quark-worker, quark-controller.
  if ! sys_run timeout 120 dpkg -i "${inside[0]}" "${inside[2]}" >"$log" 2>&1 \
    || ! sys_run timeout 120 dpkg -i "${inside[1]}" >>"$log" 2>&1; then
    cat "$log"
    fail "install: dpkg -i failed (above)"
    return 1
  fi
  local node pub_node enabled
  node=$(sys_run hostname)
  pub_node=$(sys_run grep -v '^#' /etc/quark/worker.pub | awk '{ print $1 }') || true
  enabled=$(sys_run systemctl is-enabled quark-worker quark-controller | paste -s -d' ')
  if [[ "$enabled" == "enabled enabled" ]] && sys_run test -s /etc/quark/controller.key \
    && sys_run test -s /etc/quark/controller.pub && sys_run test -s /etc/quark/worker.key \
    && [[ "$pub_node" == "$node" ]]; then
    pass "install: both units enabled, key pairs made, worker.pub names node '$node' (the host name)"
  else
    cat "$log"
    fail "install: units '$enabled', worker.pub names '$pub_node', host name '$node'"
    return 1
  fi
}

check_ready() {
  if wait_for 60 running quark-controller; then
    pass "ready: quark-controller active (running) after READY=1, started by its postinst"
  else
    fail "ready: quark-controller is $(prop quark-controller ActiveState)/$(prop quark-controller SubState)"
    return 1
  fi

  # Before its key is authorized the worker knocks and is refused: it must
  # not claim to be ready.
  if wait_for 60 refused && [[ "$(prop quark-worker ActiveState)" == activating ]]; then
    pass "ready: quark-worker stays 'activating' while the controller refuses its key" \
      "($(prop quark-worker StatusText))"
  else
    fail "ready: quark-worker before authorization is $(prop quark-worker ActiveState)," \
      "refused: $(refused && echo yes || echo no)"
    return 1
  fi

  sys_run sh -c 'grep -v "^#" /etc/quark/worker.pub >>/etc/quark/authorized_workers'
  if ! sys_run timeout 30 systemctl reload quark-controller; then
    fail "ready: systemctl reload quark-controller failed"
    return 1
  fi
  local node
  node=$(sys_run hostname)
  if wait_for 90 running quark-worker && registered "$node"; then
    pass "ready: quark-worker active (running) after READY=1 once authorized (reload)," \
      "registered as '$node'"
  else
    fail "ready: quark-worker is $(prop quark-worker ActiveState)/$(prop quark-worker SubState)" \
      "($(prop quark-worker StatusText))"
    return 1
  fi
}

check_job() {
  local id
  id=$(quark submit count "${JOB_PLAIN[@]}" | sed -n 's/^job //p')
  if job_exact "$id" "${JOB_PLAIN[@]}"; then
    pass "job: quark submit count ${JOB_PLAIN[*]} = $outcome"
  else
    fail "job: quark submit count ${JOB_PLAIN[*]} = $outcome"
  fi
}

check_stop() {
  local id pid since started elapsed
  if ! submit_mid_job; then
    fail "stop: could not get a job running mid-way"
    return
  fi
  id=$job_id
  pid=$(prop quark-worker MainPID)
  since=$(now)
  started=$SECONDS
  sys_run timeout 60 systemctl stop quark-worker || true
  elapsed=$((SECONDS - started))
  # Graceful: the worker said goodbye with every result acknowledged
  # ("left node=... unacked=0"), exited 0 before TimeoutStopSec, and the job
  # goes on without it.
  local result status state left
  result=$(prop quark-worker Result)
  status=$(prop quark-worker ExecMainStatus)
  state=$(job_field "$id" state)
  left=$(journal_since quark-worker "$since" | grep -c 'left node=.* unacked=0') || true
  if [[ "$result" == success && "$status" == 0 && "$state" == running ]] && ((left > 0)); then
    pass "stop: systemctl stop quark-worker mid-job: pid $pid left with every result acked," \
      "exit 0 after ${elapsed}s, result '$result', job $id still running"
  else
    fail "stop: mid-job stop: result '$result', exit status $status, after ${elapsed}s," \
      "'left ... unacked=0' logged: $left, job $id '$state'"
    journal_since quark-worker "$since" | tail -n 20
  fi
  if ! sys_run timeout 90 systemctl start quark-worker; then
    fail "stop: quark-worker did not start again"
    return 1
  fi
  if job_exact "$id" "$JOB_LONG_LO" "$JOB_LONG_HI"; then
    pass "stop: job $id after the stop and a new start: $outcome"
  else
    fail "stop: job $id after the stop and a new start: $outcome"
  fi
}

check_controller_restart() {
  local id worker_restarts worker_pid
  if ! submit_mid_job; then
    fail "controller restart: could not get a job running mid-way"
    return
  fi
  id=$job_id
  worker_restarts=$(prop quark-worker NRestarts)
  worker_pid=$(prop quark-worker MainPID)
  if ! sys_run timeout 60 systemctl restart quark-controller; then
    fail "controller restart: systemctl restart quark-controller failed"
    return 1
  fi
  if job_exact "$id" "$JOB_LONG_LO" "$JOB_LONG_HI"; then
    local note="the worker kept running"
    if [[ "$(prop quark-worker MainPID)" != "$worker_pid" ]] \
      || [[ "$(prop quark-worker NRestarts)" != "$worker_restarts" ]]; then
      note="the worker was restarted meanwhile"
    fi
    pass "controller restart: mid-job, job $id = $outcome; $note"
  else
    fail "controller restart: mid-job, job $id = $outcome"
  fi
}

# Whether the worker runs again, as another process than PID and after more
# than RESTARTS restarts: restarted PID RESTARTS
restarted() {
  running quark-worker && (($(prop quark-worker NRestarts) > $2)) \
    && [[ "$(prop quark-worker MainPID)" != "$1" ]]
}

# A 5 s watchdog (a drop-in) keeps the wait short; the worker pings every
# WatchdogSec/2 from its event loop, which SIGSTOP freezes.
check_watchdog() {
  sys_run mkdir -p /etc/systemd/system/quark-worker.service.d
  printf '[Service]\nWatchdogSec=5s\n' \
    >"$SYS_ROOT/etc/systemd/system/quark-worker.service.d/watchdog.conf"
  sys_run systemctl daemon-reload
  if ! sys_run timeout 90 systemctl restart quark-worker; then
    fail "watchdog: quark-worker did not restart with WatchdogSec=5s"
    return 1
  fi
  local id pid restarts since
  if ! submit_mid_job; then
    fail "watchdog: could not get a job running mid-way"
    return
  fi
  id=$job_id
  pid=$(prop quark-worker MainPID)
  restarts=$(prop quark-worker NRestarts)
  since=$(now)
  sys_run systemctl kill --kill-whom=main --signal=SIGSTOP quark-worker
  if wait_for 60 restarted "$pid" "$restarts" \
    && journal_since quark-worker "$since" | grep -q 'Watchdog timeout'; then
    pass "watchdog: worker pid $pid frozen (SIGSTOP) mid-job: watchdog timeout, killed," \
      "restarted as pid $(prop quark-worker MainPID), active (running) again"
  else
    fail "watchdog: after SIGSTOP of pid $pid: $(prop quark-worker ActiveState)," \
      "NRestarts $(prop quark-worker NRestarts) (was $restarts)"
    journal_since quark-worker "$since" | tail -n 20
    return 1
  fi
  if job_exact "$id" "$JOB_LONG_LO" "$JOB_LONG_HI"; then
    pass "watchdog: job $id after the restart = $outcome"
  else
    fail "watchdog: job $id after the restart = $outcome"
  fi
}

# ------------------------------------------------------------------- main

((EUID == 0)) || sys_die "run me as root (unshare, chroot, mounts)"
for tool in unshare nsenter findmnt primecount dpkg-deb; do
  command -v "$tool" >/dev/null || sys_die "$tool is not installed"
done

arch=$(dpkg --print-architecture)
if [[ -z "${PACKAGE_DIR:-}" ]]; then
  build_dir=${BUILD_DIR:-build}
  BUILD_DIR=$build_dir SKIP_DEPS=1 LINTIAN=0 scripts/package.sh >/dev/null \
    || sys_die "scripts/package.sh failed (BUILD_DIR=$build_dir)"
  PACKAGE_DIR=$build_dir/packages
fi
debs=()
for package in quark quark-worker quark-controller; do
  found=("$PACKAGE_DIR/${package}"_*_"$arch".deb)
  [[ -f "${found[0]}" ]] || sys_die "no ${package}_*_$arch.deb in $PACKAGE_DIR"
  debs+=("${found[0]}")
done

exec 3>&1 4>&2
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Runs each check, then prints how long each took.
times=()
for check in boot install ready job stop controller_restart watchdog; do
  started=$SECONDS
  "check_$check"
  times+=("$check $((SECONDS - started))")
done
echo "system: seconds per check: $(printf '%s, ' "${times[@]}" | sed 's/, $//')"
