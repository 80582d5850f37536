#!/bin/sh
# boot-systemd.sh ROOT [CGROUP_PROCS_FILE...]
# Boots ROOT's systemd as PID 1 of a new PID, mount, UTS and IPC namespace (lib/booted.ts runs it;
# nothing here is ever run on the host's own init). The network namespace stays the host's: the
# repository server the tests run listens on the host's 127.0.0.1.
#
# Outside: moves itself into the cgroups named (one cgroup.procs file per hierarchy, made by
# booted.ts), so that systemd takes that cgroup as its root and creates its units below it, then
# execs unshare, which mounts a fresh /proc for the new PID namespace at ROOT/proc and runs this
# script again as PID 1 of it ("--inside"). Inside: /sys is the host's, read-only but for the cgroup
# hierarchies under it; /proc/sys read-only (sysctls are not namespaced: a booted unit must not
# change the host's); a minimal /dev (null, zero, full, random, urandom, tty bound from the host,
# a private devpts instance, shm; /dev/console is /dev/null); tmpfs on /run and /tmp. Then
# systemd is exec'ed in a chroot with `container=driveclient-e2e`, which tells it (and
# systemd-detect-virt) that it is in a container: no kernel, console or device set-up of its own.
# Its own output goes to this script's stdout and stderr.
set -eu
if [ "${2:-}" != --inside ]; then
    R=${1:?usage: boot-systemd.sh ROOT [CGROUP_PROCS_FILE...]}
    shift
    for procs in "$@"; do
        echo $$ >"$procs"
    done
    exec unshare --pid --fork --kill-child --mount --uts --ipc --propagation private \
        --mount-proc="$R/proc" sh "$0" "$R" --inside
fi

R=$1
mount --rbind /sys "$R/sys"
mount -o remount,bind,ro "$R/sys"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
if [ -e "$R/proc/sysrq-trigger" ]; then
    mount --bind "$R/proc/sysrq-trigger" "$R/proc/sysrq-trigger"
    mount -o remount,bind,ro "$R/proc/sysrq-trigger"
fi

mount -t tmpfs -o mode=0755,nosuid,size=16m dev "$R/dev"
for node in null zero full random urandom tty; do
    : >"$R/dev/$node"
    mount --bind "/dev/$node" "$R/dev/$node"
done
: >"$R/dev/console"
mount --bind /dev/null "$R/dev/console"
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"

mount -t tmpfs -o mode=0755,nosuid,nodev run "$R/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$R/tmp"

exec chroot "$R" /usr/bin/env -i container=driveclient-e2e /lib/systemd/systemd
