#!/bin/sh
# PID 1 of a test-bed host, before systemd: builds the host's private view of the machine, then
# execs systemd. Runs inside fresh pid, mount, uts, ipc and net namespaces (mounts are private).
# Usage: host-init.sh NAME STATE_DIR CGROUP_DIR PRIVATE_DIRS COW(0|1) BIN_DIR|"" [stage2]
set -eu
name=$1 S=$2 CG=$3 PRIVATE=$4 COW=$5 BIN=$6
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

if [ "${7:-}" != stage2 ]; then
    # Move this (the host's) PID 1 into its own cgroup from inside the pid namespace, so the
    # launcher stays outside; then root a cgroup namespace there. systemd sees the cgroup as /.
    echo 0 > "$CG/cgroup.procs"
    exec unshare --cgroup -- sh "$0" "$@" stage2
fi

# The binaries the hosts run live where cargo built them, possibly under /tmp, /run or /dev,
# which are all covered below: hold that directory on a mount of its own (read-only) before
# anything is covered, and move the mount into the private /run once that exists.
if [ -n "$BIN" ]; then
    mount --bind -o ro "$BIN" "$S/bin"
fi

# R is the root the host will see: the machine's / or a copy-on-write overlay of it.
R=
if [ "$COW" = 1 ]; then
    mkdir -p "$S/cow"
    mount -t tmpfs -o mode=0755 tb-cow "$S/cow"
    mkdir -p "$S/cow/upper" "$S/cow/work" "$S/cow/root"
    mount -t overlay -o "lowerdir=/,upperdir=$S/cow/upper,workdir=$S/cow/work" tb-root "$S/cow/root"
    R=$S/cow/root
fi

# Per-host files, bound before /tmp (where S lives) is covered.
mkdir -p "$S/fs"
for d in $PRIVATE; do
    mkdir -p "$S/fs$d" "$R$d"
    mount --bind "$S/fs$d" "$R$d"
done
mount --bind "$S/hostname" "$R/etc/hostname"
mount --bind "$S/machine-id" "$R/etc/machine-id"
units=$S/units

# A fresh read-only sysfs shows only this netns' links; cgroup2 is rooted at CG.
[ -z "$R" ] && umount -R /sys
mount -t sysfs -o ro sysfs "$R/sys"
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
if [ -n "$R" ]; then
    mount -t proc proc "$R/proc"
fi
# kernel.* and vm.* are machine-wide: read-only; net.* is per netns: writable.
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount --bind "$R/proc/sys/net" "$R/proc/sys/net"
mount -o remount,bind,rw "$R/proc/sys/net"
[ -e "$R/proc/sysrq-trigger" ] && mount --bind -o ro /dev/null "$R/proc/sysrq-trigger"

# Hide sysinit's wants and all generators: only journald, dbus and our units boot.
for d in /usr/lib/systemd/system/sysinit.target.wants /etc/systemd/system/sysinit.target.wants \
         /usr/lib/systemd/system-generators /usr/local/lib/systemd/system-generators \
         /etc/systemd/system-generators; do
    [ -d "$R$d" ] && mount -t tmpfs -o ro,mode=0755 tb-empty "$R$d"
done

# Private /run (D-Bus socket, journal, runtime units). Drop the machine's netns mounts first,
# or this mount namespace would pin every named netns of the machine.
umount -R -l /run/netns 2>/dev/null || true
mount -t tmpfs -o mode=0755,size=64m tb-run "$R/run"
mkdir -p "$R/run/systemd/system" "$R/run/systemd/system.conf.d" "$R/run/systemd/journald.conf.d" \
    "$R/run/haagent-testbed/bin"    # BIN_DIR in lib.rs
if [ -n "$BIN" ]; then
    mount --move "$S/bin" "$R/run/haagent-testbed/bin"
fi
cat > "$R/run/systemd/system/tb-host.target" <<UNIT
[Unit]
Description=Test-bed host (minimal boot target)
Requires=dbus.socket
Wants=systemd-journald.service dbus.service
After=systemd-journald.service dbus.service
AllowIsolate=yes
UNIT
cat > "$R/run/systemd/system.conf.d/tb.conf" <<CONF
[Manager]
DefaultTimeoutStopSec=10s
DefaultLimitCORE=0
CONF
cat > "$R/run/systemd/journald.conf.d/tb.conf" <<CONF
[Journal]
Storage=volatile
ReadKMsg=no
CONF
if [ -d "$units" ]; then
    cp -a "$units/." "$R/run/systemd/system/"
fi
# Files the bed wants in every host's /run (helper scripts).
if [ -d "$S/run" ]; then
    cp -a "$S/run/." "$R/run/"
fi

# Private /dev: the machine's console, shm and kmsg stay out.
[ -z "$R" ] && umount -R -l /dev
mount -t tmpfs -o mode=0755,size=4m tb-dev "$R/dev"
for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
    set -- $n
    mknod -m 666 "$R/dev/$1" c "$2" "$3"
done
mkdir -p "$R/dev/net" "$R/dev/pts" "$R/dev/shm" "$R/dev/mqueue"
mknod -m 666 "$R/dev/net/tun" c 10 200
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777 tb-shm "$R/dev/shm"
mount -t mqueue mqueue "$R/dev/mqueue"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
touch "$R/dev/console"
mount --bind "$R/dev/null" "$R/dev/console"

mount -t tmpfs -o mode=1777 tb-tmp "$R/tmp"
mount -t tmpfs -o mode=1777 tb-vartmp "$R/var/tmp"

if [ -n "$R" ]; then
    mkdir -p "$R/.tb-old-root"
    cd "$R"
    pivot_root . .tb-old-root
    cd /
    umount -l /.tb-old-root
    rmdir /.tb-old-root 2>/dev/null || true
fi

# Credentials need shared propagation inside the host (systemd moves a ramfs into place).
mount --make-rshared /
exec setpriv --bounding-set -sys_module,-sys_time,-sys_rawio -- \
    env -i container=other PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    /lib/systemd/systemd --system --unit=tb-host.target
