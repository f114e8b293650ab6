#!/usr/bin/env bash
# Boots a kernel under qemu (software emulation) with an initramfs of busybox-static plus given files, runs one
# shell command in the guest as root and returns its output and exit status: the reusable harness of the kernel
# matrix (make test-kernels) and of anything else that needs another kernel (e.g. trying a hook on it).
#
# Usage: vm.sh -k VMLINUZ -a amd64|arm64 [-d DIR]... [-o OUTDIR] [-m MEM_MB] [-c CPUS] [-t TIMEOUT_S] -- COMMAND
#   -d DIR     copied into the guest's root (e.g. DIR/bin/x appears as /bin/x); repeatable
#   -o OUTDIR  what the command leaves in the guest's /out is brought back here
# The guest has /proc, /sys, /dev, tracefs, debugfs, the bpf fs, cgroup2 at /sys/fs/cgroup, a tmpfs /tmp and the
# loopback interface up; COMMAND runs with /bin/sh (busybox) in /. Its output goes to stdout; the exit status is
# COMMAND's, 124 when the guest timed out, 125 when it never reported one (kernel panic, boot failure).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${SYSCALLHEALTH_KERNEL_CACHE:-/var/cache/syscallhealth-kernels}"
kernel="" arch=amd64 outdir="" mem=1536 cpus=1 timeout=600 dirs=()
while getopts "k:a:d:o:m:c:t:" opt; do
	case $opt in
	k) kernel=$OPTARG ;; a) arch=$OPTARG ;; d) dirs+=("$OPTARG") ;; o) outdir=$OPTARG ;;
	m) mem=$OPTARG ;; c) cpus=$OPTARG ;; t) timeout=$OPTARG ;;
	*) sed -n '5,7p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = -- ] && shift
[ -n "$kernel" ] && [ $# -gt 0 ] || { sed -n '5,7p' "$0" >&2; exit 2; }
busybox="$cache/busybox-$arch"
[ -x "$busybox" ] || "$here/fetch.sh" >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/syscallhealth-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,proc,sys,dev,tmp,out,etc}
cp "$busybox" "$root/bin/busybox"
for d in "${dirs[@]}"; do cp -a "$d/." "$root/"; done
# COMMAND's words, each quoted for the guest's shell; one word is run as a shell command line.
if [ $# -eq 1 ]; then printf '%s\n' "$1"; else
	for w in "$@"; do printf "'%s' " "$(printf '%s' "$w" | sed "s/'/'\\\\''/g")"; done; echo
fi > "$root/command"
echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
echo "nobody:x:65534:65534:nobody:/:/bin/false" >> "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin HOME=/ TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ip link set lo up
hostname guest
echo "@@vm: booted in $(cut -d' ' -f1 /proc/uptime) s"
cd /
sh /command
rc=$?
if [ -n "$(ls -A /out)" ]; then
	echo "@@vm: out begin"
	tar -C /out -cz . | base64
	echo "@@vm: out end"
fi
echo "@@vm: exit $rc"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) > "$work/initrd"

# amd64 without cmpxchg16b: qemu 7.2's emulation of it (Debian 12) corrupts Linux 6.12's SLUB allocator, a
# double fault during boot (SYSCALLHEALTH_QEMU_CPU overrides the model). qboot instead of SeaBIOS: it boots
# sooner and writes no escape sequences to the console.
case $arch in
amd64) qemu=(qemu-system-x86_64 -accel tcg -cpu "${SYSCALLHEALTH_QEMU_CPU:-max,cx16=off}" -bios qboot.rom) console=ttyS0 ;;
arm64) qemu=(qemu-system-aarch64 -accel tcg -M virt -cpu max) console=ttyAMA0 ;;
*) echo "vm.sh: unknown architecture $arch" >&2; exit 2 ;;
esac
: > "$work/console"
# The console is the only channel: output, /out (base64 between markers) and the exit status. no_timer_check:
# on a loaded host the emulated timer misses the kernel's IO-APIC check, a panic at boot.
timeout --foreground -k 5 "$timeout" "${qemu[@]}" -m "$mem" -smp "$cpus" -nographic -no-reboot \
	-kernel "$kernel" -initrd "$work/initrd" -nic none \
	-append "console=$console panic=-1 quiet loglevel=4 no_timer_check rdinit=/init" \
	< /dev/null > "$work/console" 2>&1 &
qemu_pid=$!
# Show the guest's output as it comes (without the /out payload).
tail -n +1 -f --pid=$qemu_pid "$work/console" | sed -u '/^@@vm: out begin/,/^@@vm: out end/d; s/\r$//' &
tail_pid=$!
qemu_rc=0
wait $qemu_pid || qemu_rc=$?
wait $tail_pid 2>/dev/null || true
tr -d '\r' < "$work/console" > "$work/console.txt"
if [ -n "$outdir" ] && grep -q '^@@vm: out end' "$work/console.txt"; then
	mkdir -p "$outdir"
	sed -n '/^@@vm: out begin/,/^@@vm: out end/{/^@@vm:/d;p}' "$work/console.txt" | base64 -d | tar -C "$outdir" -xz
fi
status=$(sed -n 's/^@@vm: exit \([0-9]*\)$/\1/p' "$work/console.txt" | tail -n1)
if [ -n "$status" ]; then exit "$status"; fi
[ "$qemu_rc" = 124 ] && { echo "vm.sh: the guest did not finish within ${timeout}s" >&2; exit 124; }
echo "vm.sh: the guest reported no exit status (qemu exit $qemu_rc)" >&2
exit 125
