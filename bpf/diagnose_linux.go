//go:build linux && (amd64 || arm64)

package bpf

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// Capabilities that loading and attaching the probe needs (include/uapi/linux/capability.h).
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// verifierLogTail is how many of the verifier's last log lines an error carries.
const verifierLogTail = 20

// checkPrerequisites explains, before anything is loaded, what this host or
// process lacks: privileges, kernel BTF, a kernel with BPF ring buffers.
func checkPrerequisites() error {
	if err := checkCapabilities(); err != nil {
		return err
	}
	if _, err := btf.LoadKernelSpec(); err != nil {
		return fmt.Errorf("kernel BTF is not available (%w): the probes need a kernel built with CONFIG_DEBUG_INFO_BTF=y, which exposes /sys/kernel/btf/vmlinux (default in most distributions since 2020)", err)
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		if errors.Is(err, unix.EPERM) {
			// The capabilities are there (checked above): something else filters bpf().
			return fmt.Errorf("%w: bpf() was refused although this process has the capabilities it needs (%w): a seccomp profile or an LSM policy forbids it. "+
				"Container runtimes' default seccomp profiles allow bpf() only with CAP_SYS_ADMIN: run with a profile that allows bpf and perf_event_open, or --security-opt seccomp=unconfined",
				os.ErrPermission, err)
		}
		if errors.Is(err, ebpf.ErrNotSupported) {
			return fmt.Errorf("kernel too old: Linux %s has no BPF ring buffers; syscallhealth needs Linux 5.8 or later", kernelRelease())
		}
		return fmt.Errorf("probing for BPF ring buffer support: %w", err)
	}
	return nil
}

// HasCapability reports whether this process has capability c (include/uapi/linux/capability.h, e.g.
// unix.CAP_SYS_PTRACE) in its effective set.
func HasCapability(c uint) (bool, error) {
	effective, err := effectiveCapabilities()
	return effective&(1<<c) != 0, err
}

func effectiveCapabilities() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("reading this process's capabilities: %w", err)
	}
	return uint64(data[1].Effective)<<32 | uint64(data[0].Effective), nil
}

func checkCapabilities() error {
	effective, err := effectiveCapabilities()
	if err != nil {
		return err
	}
	has := func(c uint) bool { return effective&(1<<c) != 0 }
	if has(capSysAdmin) || (has(capBPF) && has(capPerfmon)) {
		return nil
	}
	var missing []string
	if !has(capBPF) {
		missing = append(missing, "CAP_BPF")
	}
	if !has(capPerfmon) {
		missing = append(missing, "CAP_PERFMON")
	}
	return fmt.Errorf("%w: loading the eBPF probes needs root, or CAP_BPF and CAP_PERFMON (missing: %s; CAP_SYS_ADMIN before Linux 5.8); run as root or grant them, e.g. `setcap cap_bpf,cap_perfmon,cap_sys_ptrace+ep <binary>` (CAP_SYS_PTRACE is optional: it reads other users' executables) or the container's capabilities list",
		os.ErrPermission, strings.Join(missing, ", "))
}

// helpersSince are the BPF helpers the programs call that kernels with ring buffers (5.8) may lack, with the
// release that added them: such a kernel rejects the program as calling "unknown#<number>".
var helpersSince = map[asm.BuiltinFunc]struct{ name, linux string }{
	asm.FnGetCurrentTaskBtf: {"bpf_get_current_task_btf", "5.11"},
	asm.FnTaskPtRegs:        {"bpf_task_pt_regs", "5.15"},
}

// unknownHelper finds the helper a verifier log rejects as unknown (older kernels: "invalid func unknown#158",
// newer: "unknown func bpf_task_pt_regs#175").
var unknownHelper = regexp.MustCompile(`(?:invalid func unknown|unknown func \w*)#(\d+)`)

// explainLoadError makes a load or attach error of program (attached with hook) actionable.
func explainLoadError(hook Hook, program string, err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		for _, line := range ve.Log {
			m := unknownHelper.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			n, _ := strconv.Atoi(m[1])
			if h, ok := helpersSince[asm.BuiltinFunc(n)]; ok {
				return fmt.Errorf("the %s program %s needs the BPF helper %s, which Linux %s lacks (it came with Linux %s): %w",
					hook, program, h.name, kernelRelease(), h.linux, err)
			}
		}
		log := ve.Log
		if len(log) > verifierLogTail {
			log = log[len(log)-verifierLogTail:]
		}
		return fmt.Errorf("the kernel's verifier rejected the %s program %s on Linux %s; please report this with the log below.\nLast %d lines of the verifier log:\n%s\n%w",
			hook, program, kernelRelease(), len(log), strings.Join(log, "\n"), err)
	}
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w (permission denied: run as root or with CAP_BPF and CAP_PERFMON; a seccomp profile or LSM policy may also forbid bpf())", err)
	}
	return err
}

// ensureTracefs makes sure tracefs is mounted, as the tracepoint hook needs
// it, mounting it at /sys/kernel/tracing when it is not.
func ensureTracefs() error {
	if tracefsMounted() {
		return nil
	}
	const mountPoint = "/sys/kernel/tracing"
	if err := unix.Mount("nodev", mountPoint, "tracefs", 0, ""); err != nil {
		return fmt.Errorf("tracefs is not mounted and mounting it at %s failed (%w): run `mount -t tracefs nodev %s` as root, or mount it into the container", mountPoint, err, mountPoint)
	}
	return nil
}

func tracefsMounted() bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			// Fields: id parent major:minor root mountpoint options... - fstype source superoptions
			_, post, ok := strings.Cut(s.Text(), " - ")
			if ok && strings.HasPrefix(post, "tracefs ") {
				return true
			}
		}
	}
	for _, p := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && (st.Type == unix.TRACEFS_MAGIC || st.Type == unix.DEBUGFS_MAGIC) {
			return true
		}
	}
	return false
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "(unknown release)"
	}
	return unix.ByteSliceToString(u.Release[:])
}
