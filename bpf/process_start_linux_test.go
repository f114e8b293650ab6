//go:build linux && (amd64 || arm64)

package bpf

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// nsLastPID is the last PID the kernel handed out in this PID namespace (CONFIG_CHECKPOINT_RESTORE):
// writing p-1 makes the next fork get p, if no other fork on the machine comes first.
const nsLastPID = "/proc/sys/kernel/ns_last_pid"

// waitingFailer is a shell that waits for a line on its stdin, then fails write(2) with ENOSPC n times
// and exits, so that its start time can be read from /proc while it waits.
type waitingFailer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startFailer(t *testing.T, n int) waitingFailer {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "read go; "+strings.Repeat("echo x > /dev/full 2>/dev/null; ", n)+"exit 0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return waitingFailer{cmd, stdin}
}

// run lets the shell fail and waits for its exit.
func (f waitingFailer) run(t *testing.T) {
	t.Helper()
	_, _ = f.stdin.Write([]byte("go\n"))
	_ = f.stdin.Close()
	if err := f.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// startFailerWithPID starts a failer as PID pid by way of ns_last_pid, retrying while another fork on
// this busy machine takes the PID first.
func startFailerWithPID(t *testing.T, pid, n int) waitingFailer {
	t.Helper()
	for range 500 {
		if err := os.WriteFile(nsLastPID, []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Fatal(err)
		}
		f := startFailer(t, n)
		if f.cmd.Process.Pid == pid {
			return f
		}
		_ = f.cmd.Process.Kill()
		_ = f.cmd.Wait()
	}
	t.Fatalf("no child got PID %d in 500 forks", pid)
	return waitingFailer{}
}

// startTicks is field 22 of /proc/<pid>/stat: the process's start in clock ticks (USER_HZ, 100) after boot.
func startTicks(t *testing.T, pid int) uint64 {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	ticks, err := strconv.ParseUint(fields[22-3], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return ticks
}

// A process that is given the PID of one that failed and exited has series of its own: each process's
// count is exact, and each carries its own start time, which is the one /proc shows.
func TestReusedPIDStartsNewSeries(t *testing.T) {
	if _, err := os.Stat(nsLastPID); errors.Is(err, os.ErrNotExist) {
		t.Skip("the kernel has no " + nsLastPID + " (CONFIG_CHECKPOINT_RESTORE) to give a PID to a new process")
	}
	p := loadProbe(t, Options{Rules: writeENOSPCRules})
	log := collectEvents(t, p)
	write := mustSyscall(t, "write")
	const n, m = 3, 5

	first := startFailer(t, n)
	pid := first.cmd.Process.Pid
	firstTicks := startTicks(t, pid)
	first.run(t)
	second := startFailerWithPID(t, pid, m)
	secondTicks := startTicks(t, pid)
	second.run(t)

	last := log.waitFor(t, "the second process's last failure", func(ev Event) bool {
		return ev.PID == uint32(pid) && ev.ErrorCount == m
	})
	counts, err := p.Counts()
	if err != nil {
		t.Fatal(err)
	}
	byStart := map[uint64]uint64{}
	for _, c := range counts {
		if c.Key.PID == uint32(pid) && c.Key.Syscall == write && c.Key.Errno == eNOSPC {
			byStart[c.Key.ProcessStartNs] = c.Count
		}
	}
	if len(byStart) != 2 {
		t.Fatalf("PID %d has series %v (by process start ns), want one per process", pid, byStart)
	}
	firstStart := uint64(0)
	for start, count := range byStart {
		if start != last.ProcessStartNs {
			firstStart = start
			if count != n {
				t.Errorf("the first process's count is %d, want %d", count, n)
			}
		} else if count != m {
			t.Errorf("the second process's count is %d, want %d", count, m)
		}
	}
	if firstStart/1e7 != firstTicks || last.ProcessStartNs/1e7 != secondTicks {
		t.Errorf("the processes started at %d and %d ns by the kernel, at %d and %d ticks by /proc",
			firstStart, last.ProcessStartNs, firstTicks, secondTicks)
	}
	if last.ProcessStartNs <= firstStart {
		t.Errorf("the second process's start %d is not after the first's %d", last.ProcessStartNs, firstStart)
	}
}
