# shellcheck shell=bash
# The machine of the system test (tests/system/run.sh sources this): a
# minimal Debian bookworm root, debootstrapped once into a cache, copied
# afresh for each run and booted with systemd as PID 1 of new PID, mount,
# UTS, IPC, network and cgroup namespaces (tests/system/init.sh). Commands
# run inside through nsenter.
#
# State, set by sys_boot and read by sys_teardown:
#   SYS_WORK     the run's directory (the root, the console log), removed
#   SYS_ROOT     $SYS_WORK/root
#   SYS_CGROUP   the cgroup2 directory the namespaces live in, removed
#   SYS_UNSHARE  pid of `unshare`, whose child is the namespaces' systemd
#   SYS_INIT     that systemd's pid, as the host sees it
#   SYS_STATE    what systemd said once booted: running or degraded
# and by sys_cached_root:
#   SYS_TARBALL  the cached root

SYS_SUITE=bookworm
SYS_HOSTNAME=quark-sys
# What the root has besides minbase: systemd to boot, and what the packages
# depend on (sys_includes adds those from the .debs), since the network
# namespace inside has no way out to a mirror.
SYS_BASE_PACKAGES=(systemd systemd-sysv dbus)
# The environment of every command inside: nothing from the host's.
SYS_ENV=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb
  SYSTEMD_PAGER= SYSTEMD_COLORS=0 HOME=/root)

SYS_WORK=
SYS_ROOT=
SYS_CGROUP=
SYS_UNSHARE=
SYS_INIT=
# shellcheck disable=SC2034 # for the caller
SYS_STATE=
SYS_TARBALL=

sys_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

sys_say() { printf 'system: %s\n' "$*"; }
sys_die() {
  printf 'system: %s\n' "$*" >&2
  exit 1
}

# The Debian mirror for $SYS_SUITE among the host's apt sources (only
# Debian's archive may be reachable), else deb.debian.org;
# QUARK_SYSTEM_MIRROR wins.
sys_mirror() {
  if [[ -n "${QUARK_SYSTEM_MIRROR:-}" ]]; then
    echo "$QUARK_SYSTEM_MIRROR"
    return
  fi
  local targets
  # shellcheck disable=SC2016 # apt's format fields, not the shell's
  targets=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' 2>/dev/null \
    | awk -v suite="$SYS_SUITE" '$2 == suite && $3 == "deb" { print $1 }' | sort -u)
  local mirror
  mirror=$(grep -E '/debian/?$' <<<"$targets" | head -n 1)
  [[ -n "$mirror" ]] || mirror=$(head -n 1 <<<"$targets")
  echo "${mirror:-http://deb.debian.org/debian}"
}

# The packages the root needs: the base ones and every dependency of the
# .debs but theirs (the first of alternatives, without versions), sorted.
sys_includes() {
  local deb
  {
    printf '%s\n' "${SYS_BASE_PACKAGES[@]}"
    for deb in "$@"; do
      dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g'
    done
  } | grep -v -E '^(quark|quark-worker|quark-controller)?$' | sort -u
}

# Sets SYS_TARBALL to the cached root for these packages, making it when
# missing (debootstrap, a few minutes). Its name carries a hash of the
# package list, so new dependencies make a new one. debootstrap runs in a
# mount namespace of its own: the /proc and /sys it mounts in the new root
# go with it, even when it is killed.
sys_cached_root() {
  local cache=${QUARK_SYSTEM_CACHE:-/var/cache/quark-system}
  local arch includes hash
  arch=$(dpkg --print-architecture)
  includes=$(sys_includes "$@" | paste -s -d,)
  hash=$(printf '%s\n' "$includes" | sha256sum | cut -c1-12)
  SYS_TARBALL=$cache/$SYS_SUITE-$arch-$hash.tar
  mkdir -p "$cache"
  (
    # One maker at a time; the others wait and then find it made.
    flock 9
    [[ -s "$SYS_TARBALL" ]] && exit 0
    command -v debootstrap >/dev/null || sys_die "debootstrap is not installed (apt-get install debootstrap)"
    rm -rf --one-file-system "$cache"/make.*
    local mirror dir
    mirror=$(sys_mirror)
    dir=$(mktemp -d "$cache/make.XXXXXX")
    sys_say "debootstrap $SYS_SUITE ($arch) from $mirror into $SYS_TARBALL, with $includes"
    if ! unshare --mount debootstrap --variant=minbase --include="$includes" \
      "$SYS_SUITE" "$dir/root" "$mirror" >"$dir/debootstrap.log" 2>&1; then
      tail -n 20 "$dir/debootstrap.log"
      rm -rf --one-file-system "$dir"
      sys_die "debootstrap failed (its last lines above)"
    fi
    # Each run gets its own machine id, and the journal stays in /run.
    : >"$dir/root/etc/machine-id"
    rm -f "$dir/root/var/cache/apt/archives/"*.deb
    tar --numeric-owner -C "$dir/root" -cpf "$dir/root.tar" .
    rm -f "$cache/$SYS_SUITE-$arch-"*.tar
    mv "$dir/root.tar" "$SYS_TARBALL"
    rm -rf --one-file-system "$dir"
  ) 9>"$cache/lock" || exit 1
}

# Where the host mounts cgroup2: /sys/fs/cgroup (unified) or
# /sys/fs/cgroup/unified (hybrid).
sys_cgroup2() {
  findmnt -n -t cgroup2 -o TARGET | head -n 1
}

# Runs a command inside, as root, in the namespaces and root of its systemd.
# In the background with `wait`, so that a trapped signal interrupts the
# wait at once; its stdin is /dev/null.
sys_run() {
  nsenter -t "$SYS_INIT" -m -p -u -i -n -C -r -w "${SYS_ENV[@]}" "$@" &
  wait "$!"
}

# Gives the machine a LAN, as a Pi's eth0: a veth pair lan0/lan1 in its
# network namespace (which has only loopback otherwise), 10.78.0.1/24 on
# lan0, both up. The controller beacons on it, and its broadcasts come back
# to the worker on the same machine. Run with the host's `ip`, in that
# namespace alone: nothing of it reaches the host's network.
sys_lan() {
  local ip
  ip=$(command -v ip) || sys_die "ip (iproute2) is not installed"
  nsenter -t "$SYS_INIT" -n "$ip" link add lan0 type veth peer name lan1 \
    && nsenter -t "$SYS_INIT" -n "$ip" addr add 10.78.0.1/24 brd + dev lan0 \
    && nsenter -t "$SYS_INIT" -n "$ip" link set lan0 up \
    && nsenter -t "$SYS_INIT" -n "$ip" link set lan1 up
}

# Copies the cached root TARBALL to a new work directory and boots it; waits
# until systemd reports its state (running or degraded, in SYS_STATE), at
# most 120 s. Not in a subshell: it sets the state above.
sys_boot() {
  local tarball=$1
  SYS_WORK=$(mktemp -d "${QUARK_SYSTEM_WORK:-/var/tmp}/quark-system.XXXXXX")
  SYS_ROOT=$SYS_WORK/root
  mkdir "$SYS_ROOT"
  tar --numeric-owner -C "$SYS_ROOT" -xpf "$tarball"
  echo "$SYS_HOSTNAME" >"$SYS_ROOT/etc/hostname"
  : >"$SYS_WORK/console.log"

  local cgroup2
  cgroup2=$(sys_cgroup2)
  [[ -n "$cgroup2" ]] || sys_die "the host has no cgroup2 mounted (findmnt -t cgroup2)"
  SYS_CGROUP=$cgroup2/${SYS_WORK##*/}
  mkdir "$SYS_CGROUP"

  # The subshell moves itself into the new cgroup, which becomes the root of
  # the cgroup namespace that unshare makes. init.sh appends to the console
  # log as well.
  # shellcheck disable=SC2094
  (
    echo "$BASHPID" >"$SYS_CGROUP/cgroup.procs"
    exec unshare --pid --fork --kill-child=SIGKILL --mount --uts --ipc --net --cgroup \
      "$sys_here/init.sh" "$SYS_ROOT" "$SYS_WORK/console.log"
  ) </dev/null >>"$SYS_WORK/console.log" 2>&1 &
  SYS_UNSHARE=$!

  local deadline=$((SECONDS + 120)) state=
  SYS_STATE=
  while ((SECONDS < deadline)); do
    kill -0 "$SYS_UNSHARE" 2>/dev/null || break
    if [[ -z "$SYS_INIT" ]]; then
      SYS_INIT=$(awk '{ print $1 }' "/proc/$SYS_UNSHARE/task/$SYS_UNSHARE/children" 2>/dev/null)
    fi
    if [[ -n "$SYS_INIT" && "$(readlink "/proc/$SYS_INIT/exe" 2>/dev/null)" == */systemd ]]; then
      state=$(sys_run timeout 10 systemctl is-system-running --wait 2>/dev/null) || true
      [[ "$state" == running || "$state" == degraded ]] && break
    fi
    sleep 0.5
  done
  if [[ "$state" != running && "$state" != degraded ]]; then
    tail -n 30 "$SYS_WORK/console.log" >&2
    sys_die "systemd did not boot in 120 s (state '${state:-none}'; console above)"
  fi
  # shellcheck disable=SC2034 # for the caller
  SYS_STATE=$state
}

# Stops everything sys_boot started, whatever state it is in: kills the
# namespaces' systemd (the kernel then kills every process of its PID
# namespace, and the mount namespace with its mounts goes with the last of
# them), removes the cgroup and the work directory. Prints what it could
# not clean and returns non-zero then.
sys_teardown() {
  local rc=0
  if [[ -n "$SYS_UNSHARE" ]]; then
    [[ -z "$SYS_INIT" ]] || kill -KILL "$SYS_INIT" 2>/dev/null || true
    kill -KILL "$SYS_UNSHARE" 2>/dev/null || true
    wait "$SYS_UNSHARE" 2>/dev/null || true
  fi
  if [[ -n "$SYS_CGROUP" && -d "$SYS_CGROUP" ]]; then
    local deadline=$((SECONDS + 20)) left
    while :; do
      left=$(find "$SYS_CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null | wc -l)
      ((left == 0 || SECONDS >= deadline)) && break
      sleep 0.2
    done
    if ((left > 0)); then
      sys_say "teardown: $left process(es) still in $SYS_CGROUP" >&2
      rc=1
    else
      find "$SYS_CGROUP" -depth -type d -exec rmdir {} + || rc=1
    fi
  fi
  if [[ -n "$SYS_WORK" && -d "$SYS_WORK" ]]; then
    if findmnt -rn -o TARGET | grep -q -F "$SYS_WORK"; then
      sys_say "teardown: mounts left under $SYS_WORK; not removing it:" >&2
      findmnt -rn -o TARGET | grep -F "$SYS_WORK" >&2
      rc=1
    else
      rm -rf --one-file-system "$SYS_WORK" || rc=1
    fi
  fi
  return "$rc"
}
