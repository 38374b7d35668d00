#!/usr/bin/env bash
# The system test: Quark's .deb packages under a real systemd. Boots a
# minimal Debian bookworm root with systemd as PID 1 of its own namespaces
# (tests/system/lib.sh, init.sh), installs the packages there, and checks
# what only systemd can show: a node joining with a token as a user joins
# it (`quark token create`, `quark-worker join TOKEN`, and a token on the
# boot partition), READY=1, a graceful stop, the watchdog, a controller
# restart, each with a job whose answer must be exact (primecount on the
# host gives the reference), a node set up by hand with its own key, and
# what the packages leave after a purge. One PASS or FAIL line per check; the
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
token=

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

# A fresh join token from the controller (`quark token create ARGS...`,
# the token on the first line of its output); sets token.
new_token() {
  local out=$SYS_WORK/token.out
  token=
  quark token create "$@" >"$out" 2>"$out.err" || return 1
  token=$(head -n 1 "$out")
  [[ "$token" == qk1_* ]]
}

# The public key in the worker's state directory (its worker.pub), or "".
worker_pub() {
  sys_run sh -c 'grep -v "^#" /var/lib/quark-worker/worker.pub 2>/dev/null' \
    | awk '{ print $2 }' || true
}

# Whether `quark nodes` lists NODE as connected (not lost or left lately): registered NODE
registered() {
  quark nodes | awk -v node="$1" '$1 == node && $2 ~ /^(active|draining|drained)$/ { found = 1 }
    END { exit !found }'
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

# Milliseconds since START, a value of $EPOCHREALTIME: ms_since START
ms_since() {
  local now=${EPOCHREALTIME/./} then=${1/./}
  echo $(((now - then) / 1000))
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
  if ! sys_lan; then
    fail "boot: could not give the machine its LAN (lan0, 10.78.0.1/24)"
    return 1
  fi
  if [[ "$SYS_STATE" == running ]]; then
    pass "boot: systemd is PID 1 of the namespaces and reached 'running'; LAN lan0 10.78.0.1/24"
  else
    pass "boot: systemd reached '$SYS_STATE'; LAN lan0 10.78.0.1/24; failed units:" \
      "$(sys_run systemctl --failed --no-legend --plain | awk '{ print $1 }' | paste -s -d' ')"
  fi
}

# The controller node that runs a worker too, the controller's package
# first. The worker's package makes no key (the worker makes its own when
# it first starts) and, with nothing to join with yet, leaves the worker
# stopped and says how to join.
check_install() {
  mkdir -p "$SYS_ROOT/root/debs"
  cp "${debs[@]}" "$SYS_ROOT/root/debs/"
  local inside=() deb
  for deb in "${debs[@]}"; do
    inside+=("/root/debs/${deb##*/}")
  done
  local log=$SYS_WORK/dpkg.log
  # As on Raspberry Pi OS, which runs avahi-daemon: the controller's
  # package advertises it there.
  mkdir -p "$SYS_ROOT/etc/avahi/services"
  # debs: quark, quark-worker, quark-controller.
  if ! sys_run timeout 120 dpkg -i "${inside[0]}" "${inside[2]}" >"$log" 2>&1 \
    || ! sys_run timeout 120 dpkg -i "${inside[1]}" >>"$log" 2>&1; then
    cat "$log"
    fail "install: dpkg -i failed (above)"
    return 1
  fi
  local enabled state told
  enabled=$(sys_run systemctl is-enabled quark-worker quark-controller | paste -s -d' ')
  state=$(prop quark-worker ActiveState)
  told=$(grep -c 'has not joined a Quark cluster yet.*sudo quark-worker join TOKEN' "$log") || true
  if [[ "$enabled" == "enabled enabled" ]] && sys_run test -s /etc/quark/controller.key \
    && sys_run test -s /etc/quark/controller.pub && ! sys_run test -e /etc/quark/worker.key \
    && [[ "$state" == inactive ]] && ((told == 1)); then
    pass "install: both units enabled, the controller's key pair made, no worker key;" \
      "the worker left '$state' with word of how to join"
  else
    cat "$log"
    fail "install: units '$enabled', worker '$state', how-to-join message $told time(s)," \
      "worker.key $(sys_run test -e /etc/quark/worker.key && echo made || echo 'not made')"
    return 1
  fi
  check_avahi
}

# The mDNS advertisement: well-formed XML, _quark._tcp on the control port,
# TXT records of the enroll port and the controller's key.
check_avahi() {
  local file=$SYS_ROOT/etc/avahi/services/quark.service key
  key=$(grep -v '^#' "$SYS_ROOT/etc/quark/controller.pub" | awk '{ print $2 }')
  local read
  read=$(python3 - "$file" <<'END' 2>&1
import sys
import xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
text = lambda tag: [n.firstChild.data for n in doc.getElementsByTagName(tag)]
print(" ".join(text("type") + text("port") + text("txt-record")))
END
  ) || true
  if [[ "$read" == "_quark._tcp 7700 enroll=7703 key=$key" ]]; then
    pass "install: /etc/avahi/services/quark.service advertises _quark._tcp on 7700," \
      "TXT enroll=7703 and the controller's key"
  else
    fail "install: /etc/avahi/services/quark.service reads '$read'"
  fi
}

check_ready() {
  if wait_for 60 running quark-controller; then
    pass "ready: quark-controller active (running) after READY=1, started by its postinst"
  else
    fail "ready: quark-controller is $(prop quark-controller ActiveState)/$(prop quark-controller SubState)"
    return 1
  fi
  if [[ "$(prop quark-worker ActiveState)" == failed ]]; then
    fail "ready: quark-worker failed before joining ($(prop quark-worker Result))"
    return 1
  fi

  # As a user joins a node: a token from the controller, then
  # `quark-worker join` as root, which saves it and restarts the unit; the
  # worker finds the controller by its beacon on lan0.
  if ! new_token; then
    fail "ready: quark token create: $(cat "$SYS_WORK/token.out" "$SYS_WORK/token.out.err")"
    return 1
  fi
  local out=$SYS_WORK/join.out rc=0 started=$EPOCHREALTIME
  sys_run timeout 120 quark-worker join "$token" >"$out" 2>&1 || rc=$?
  local elapsed node
  elapsed=$(ms_since "$started")
  node=$(sys_run hostname)
  if ((rc == 0)) && grep -q '^joined: the node is part of the cluster' "$out" \
    && running quark-worker && registered "$node"; then
    pass "ready: quark-worker join TOKEN: '$(tail -n 1 "$out")' after ${elapsed} ms;" \
      "active (running) after READY=1, registered as '$node'"
    # What the operator sees.
    sed 's/^/      | /' "$out"
  else
    cat "$out"
    fail "ready: quark-worker join TOKEN exit $rc after ${elapsed} ms; the worker is" \
      "$(prop quark-worker ActiveState)/$(prop quark-worker SubState) ($(prop quark-worker StatusText))"
    return 1
  fi
  # Its own key, for it alone; the token, used, gone from its disk.
  local mode
  mode=$(sys_run stat -c '%U %a' /var/lib/quark-worker /var/lib/quark-worker/worker.key \
    | paste -s -d' ') || true
  if [[ "$mode" == "quark 700 quark 600" ]] && [[ -n "$(worker_pub)" ]] \
    && ! sys_run test -e /var/lib/quark-worker/join-token; then
    pass "ready: the worker made its own key in /var/lib/quark-worker (quark, 0700; worker.key 0600)," \
      "the used token removed"
  else
    fail "ready: /var/lib/quark-worker and its worker.key: '$mode'; join-token" \
      "$(sys_run test -e /var/lib/quark-worker/join-token && echo left || echo removed)"
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

# A token on the boot partition, as on an SD card prepared on another
# machine: the node's state wiped (a new card), the token put in
# /boot/firmware/quark-join, the unit started: its ExecStartPre= takes the
# token and removes the file, and the node joins again with a new key,
# under its name (the old key's node is not connected).
check_boot_token() {
  local old_key node
  old_key=$(worker_pub)
  node=$(sys_run hostname)
  if ! sys_run timeout 60 systemctl stop quark-worker; then
    fail "boot token: systemctl stop quark-worker failed"
    return 1
  fi
  sys_run sh -c 'rm -rf /var/lib/quark-worker/*'
  if ! new_token --uses 1; then
    fail "boot token: quark token create: $(cat "$SYS_WORK/token.out" "$SYS_WORK/token.out.err")"
    return 1
  fi
  mkdir -p "$SYS_ROOT/boot/firmware"
  printf '%s\n' "$token" >"$SYS_ROOT/boot/firmware/quark-join"
  local since started=$EPOCHREALTIME
  since=$(now)
  sys_run systemctl start --no-block quark-worker
  local new_key joined_ms=
  wait_for 60 running quark-worker && joined_ms=$(ms_since "$started")
  if [[ -n "$joined_ms" ]] && registered "$node" \
    && ! sys_run test -e /boot/firmware/quark-join; then
    new_key=$(worker_pub)
    if [[ -n "$new_key" && "$new_key" != "$old_key" ]] \
      && journal_since quark-worker "$since" | grep -q 'removed /boot/firmware/quark-join'; then
      pass "boot token: /boot/firmware/quark-join taken and removed by ExecStartPre=," \
        "joined again with a new key: active (running) ${joined_ms} ms after the start" \
        "(polled every 0.5 s), registered as '$node'"
    else
      fail "boot token: joined, but the key is $([[ "$new_key" == "$old_key" ]] && echo the old one || echo new)," \
        "'removed /boot/firmware/quark-join' logged: $(journal_since quark-worker "$since" | grep -c 'removed /boot')"
    fi
  else
    fail "boot token: the worker is $(prop quark-worker ActiveState)/$(prop quark-worker SubState)" \
      "($(prop quark-worker StatusText)); quark-join" \
      "$(sys_run test -e /boot/firmware/quark-join && echo left || echo removed)"
    journal_since quark-worker "$since" | tail -n 20
    return 1
  fi
}

# A node set up by hand, as before join tokens (docs/security.md): its own
# `quark keygen` key in /etc/quark/worker.key (root:quark 0640, which the
# worker, as quark, reads itself: the unit has no LoadCredential=), its line
# in authorized_workers, `key` and `controller_key` in worker.conf. The
# package installed again over it (the upgrade path of its postinst) keeps
# its key and settings and restarts it: it registers with that key.
check_manual_key() {
  local name=hand-1
  if ! sys_run timeout 60 systemctl stop quark-worker; then
    fail "manual key: systemctl stop quark-worker failed"
    return 1
  fi
  if ! {
    sys_run sh -c 'rm -rf /var/lib/quark-worker/* /tmp/keys && mkdir /tmp/keys' \
      && sys_run quark keygen "$name" --dir /tmp/keys >/dev/null \
      && sys_run install -o root -g quark -m 640 "/tmp/keys/$name.key" /etc/quark/worker.key \
      && sys_run install -m 644 "/tmp/keys/$name.pub" /etc/quark/worker.pub \
      && sys_run sh -c 'grep -v "^#" /etc/quark/worker.pub >>/etc/quark/authorized_workers' \
      && sys_run timeout 30 systemctl reload quark-controller
  }; then
    fail "manual key: could not set the node up by hand"
    return 1
  fi
  printf 'name = %s\nkey = worker.key\ncontroller_key = /etc/quark/controller.pub\n' "$name" \
    >>"$SYS_ROOT/etc/quark/worker.conf"
  local key log=$SYS_WORK/dpkg-again.log
  key=$(grep -v '^#' "$SYS_ROOT/etc/quark/worker.pub" | awk '{ print $2 }')
  if ! sys_run timeout 120 dpkg -i "/root/debs/${debs[1]##*/}" >"$log" 2>&1; then
    cat "$log"
    fail "manual key: dpkg -i quark-worker again failed (above)"
    return 1
  fi
  local listed=
  if wait_for 60 running quark-worker; then
    listed=$(quark nodes | awk -v node="$name" '$1 == node && $2 == "active" { print }')
  fi
  if [[ -n "$listed" && "$listed" == *"${key:0:12}"* ]] \
    && sys_run grep -qx 'key = worker.key' /etc/quark/worker.conf \
    && ! sys_run test -e /var/lib/quark-worker/worker.key; then
    pass "manual key: the package installed again restarted the hand-set node;" \
      "registered as '$name' with its /etc/quark/worker.key (${key:0:12}...), worker.conf kept"
  else
    cat "$log"
    fail "manual key: the worker is $(prop quark-worker ActiveState)/$(prop quark-worker SubState)" \
      "($(prop quark-worker StatusText)); listed as '$listed', key ${key:0:12}"
    return 1
  fi
}

# apt purge of both daemons' packages: the worker's state (its key and
# enrollment) and the controller's, and the mDNS advertisement, gone.
check_purge() {
  local log=$SYS_WORK/purge.log left=()
  if ! sys_run timeout 120 dpkg --purge quark-worker quark-controller >"$log" 2>&1; then
    cat "$log"
    fail "purge: dpkg --purge quark-worker quark-controller failed (above)"
    return 1
  fi
  local path
  for path in /var/lib/quark-worker /var/lib/quark /etc/avahi/services/quark.service \
    /etc/quark/controller.key /etc/quark/worker.key; do
    ! sys_run test -e "$path" || left+=("$path")
  done
  if ((${#left[@]} == 0)) && ! sys_run systemctl --quiet is-active quark-worker quark-controller; then
    pass "purge: both daemons stopped; their state, keys and the mDNS advertisement removed"
  else
    cat "$log"
    fail "purge: left ${left[*]:-nothing}; active: $(sys_run systemctl is-active quark-worker quark-controller | paste -s -d' ')"
  fi
}

# ------------------------------------------------------------------- main

((EUID == 0)) || sys_die "run me as root (unshare, chroot, mounts)"
for tool in unshare nsenter findmnt primecount dpkg-deb ip python3; do
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
for check in boot install ready job stop controller_restart watchdog boot_token manual_key purge; do
  started=$SECONDS
  "check_$check"
  times+=("$check $((SECONDS - started))")
done
echo "system: seconds per check: $(printf '%s, ' "${times[@]}" | sed 's/, $//')"
