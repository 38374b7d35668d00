#!/usr/bin/env bash
# The first process of the system test's namespaces (tests/system/run.sh
# starts it under `unshare --pid --mount ...`): mounts what systemd needs in
# the root ROOT, then becomes systemd, PID 1 of the new PID namespace.
#
# Usage: init.sh ROOT CONSOLE
#   ROOT     the work root, a copy of the cached bookworm root
#   CONSOLE  a file outside ROOT that receives systemd's console output
#
# Every mount is made in this mount namespace, private to it: the host sees
# none of them, and they all go when the namespace's last process exits.
# systemd cleans the /tmp and /run it sees at boot, so both are tmpfs of
# their own here, never the host's. /dev is a tmpfs too, with only the
# host's harmless device nodes bound in, so that nothing inside can create
# or remove files in the host's /dev; /dev/shm is private (RemoveIPC=
# removes a user's files there). /proc is a new one, of the new PID
# namespace; /sys is the host's, read-only, with a cgroup2 of its own on
# /sys/fs/cgroup (the cgroup namespace's root: systemd's cgroups stay under
# the directory run.sh made for it).
set -euo pipefail

root=$1
console=$2

mount --make-rprivate /
# The root must be a mount point: the units' sandboxing (PrivateTmp= and
# the like) sets up their mount namespaces by moving mounts onto it.
mount --bind "$root" "$root"

mount -t proc -o nosuid,nodev,noexec proc "$root/proc"

mount --bind /sys "$root/sys"
mount -o remount,bind,ro,nosuid,nodev,noexec "$root/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"

mount -t tmpfs -o mode=0755,nosuid,size=16m dev "$root/dev"
for node in null zero full random urandom tty; do
  touch "$root/dev/$node"
  mount --bind "/dev/$node" "$root/dev/$node"
done
touch "$root/dev/console"
mount --bind "$console" "$root/dev/console"
mkdir -m 0755 "$root/dev/pts"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,nosuid,noexec devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mkdir -m 1777 "$root/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m shm "$root/dev/shm"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"

mount -t tmpfs -o mode=0755,nosuid,nodev,size=256m run "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=256m tmp "$root/tmp"

# Shared within this namespace (the host's mounts stay apart, made private
# above), as systemd makes / on a host and nspawn in a container: a unit's
# credentials are mounted in a child's namespace and reach systemd's by
# propagation.
mount --make-rshared "$root"

# systemd looks for `container` in its environment to know it is in one.
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin container=quark-system-test \
  chroot "$root" /lib/systemd/systemd </dev/null >>"$console" 2>&1
