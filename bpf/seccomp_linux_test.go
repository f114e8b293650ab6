//go:build linux && (amd64 || arm64)

package bpf

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
)

// seccompChildEnv marks the child process of TestLoadExplainsSeccompRefusal.
const seccompChildEnv = "SYSCALLHEALTH_SECCOMP_CHILD"

// TestLoadExplainsSeccompRefusal: with every capability but a seccomp filter that refuses bpf() (as
// container runtimes' default profiles do without CAP_SYS_ADMIN), Load says that a seccomp profile or
// LSM policy forbids bpf() and how to allow it, instead of a bare "operation not permitted". The filter
// is installed in a child process, where it stays until the process exits.
func TestLoadExplainsSeccompRefusal(t *testing.T) {
	if os.Getenv(seccompChildEnv) == "1" {
		refuseBPFSyscall(t)
		_, err := Load(Options{})
		fmt.Printf("Load: %v\n", err)
		return
	}
	testenv.RequireRoot(t, "the child keeps root's capabilities under a seccomp filter that refuses bpf()")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadExplainsSeccompRefusal$", "-test.v")
	cmd.Env = append(os.Environ(), seccompChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{
		"bpf() was refused although this process has the capabilities it needs",
		"a seccomp profile or an LSM policy forbids it",
		"--security-opt seccomp=unconfined",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the error does not say %q:\n%s", want, out)
		}
	}
}

// refuseBPFSyscall installs, on every thread, a seccomp filter that fails bpf(2) with EPERM and
// allows everything else.
func refuseBPFSyscall(t *testing.T) {
	const (
		offsetNr = 0 // struct seccomp_data: int nr
		ldAbsW   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK     = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		retK     = unix.BPF_RET | unix.BPF_K
	)
	filter := []unix.SockFilter{
		{Code: ldAbsW, K: offsetNr},
		{Code: jeqK, Jt: 0, Jf: 1, K: unix.SYS_BPF},
		{Code: retK, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: retK, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); errno != 0 {
		t.Fatalf("installing the seccomp filter: %v", errno)
	}
}
