#!/bin/sh
# Runs inside a matrix guest (vm.sh): the kernel tests matching $1 (a go test -run pattern), then the built
# collector end to end on real failures. Everything the host checks is left in /out.
export SYSCALLHEALTH_TRIGGER=/bin/syscallhealth-trigger
trigger=$SYSCALLHEALTH_TRIGGER

echo "@@guest: kernel tests"
cd /tmp
set -o pipefail
# Not "rate limit refills": it relies on 100 ms pauses between failures, which emulation stretches.
/bin/bpf.test -test.v -test.count=1 -test.timeout=8m -test.run "$1" -test.skip 'TestDetectECONNREFUSED/rate_limit_refills' 2>&1 | tee /out/kernel-tests.txt
echo $? > /out/kernel-tests.rc
cd /

echo "@@guest: collector"
mkdir -p /tmp/full /tmp/private /out/triggers
mount -t tmpfs -o size=1m tmpfs /tmp/full
echo "root only" > /tmp/private/secret
chmod 600 /tmp/private/secret
chmod 755 /tmp /tmp/private
/bin/otelcol-syscallhealth --config=/etc/collector.yaml > /out/collector.log 2>&1 &
collector=$!
i=0
until grep -q "Everything is ready" /out/collector.log; do
	i=$((i + 1))
	if [ $i -gt 240 ] || ! kill -0 $collector 2>/dev/null; then
		echo "the collector did not become ready:"; tail -n 30 /out/collector.log; exit 1
	fi
	sleep 0.5
done
# Each scenario in a process of its own, at once; they linger so the receiver can read /proc.
run() { name=$1; shift; "$trigger" "$@" -linger 3s > /out/triggers/$name.json 2> /out/triggers/$name.err & }
run enospc enospc -n 6 -dir /tmp/full
run emfile emfile -n 7
run econnrefused econnrefused -n 5
run eaddrinuse eaddrinuse -n 4
run eacces eacces -n 3 -path /tmp/private/secret
run econnrefused-async econnrefused -n 3 -mode nonblocking
for job in $(jobs -p); do [ "$job" = "$collector" ] || wait "$job"; done
# Two collection intervals (1 s) after the last failure, then a clean shutdown flushes everything.
sleep 4
kill -TERM $collector
wait $collector
echo $? > /out/collector.rc
tail -n 5 /out/collector.log

# A kernel without BTF (hidden here: an empty directory over /sys/kernel/btf) must stop the collector with a
# message naming what is missing and what to do.
echo "@@guest: collector without BTF"
mount -t tmpfs -o size=1m tmpfs /sys/kernel/btf
/bin/otelcol-syscallhealth --config=/etc/collector.yaml --set=exporters::file::path=/tmp/nobtf.json > /out/collector-nobtf.log 2>&1
echo $? > /out/collector-nobtf.rc
umount /sys/kernel/btf
grep -i btf /out/collector-nobtf.log | tail -n 3
