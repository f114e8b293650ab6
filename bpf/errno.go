package bpf

// The table of UAPI errnos is generated from the kernel headers that libbpf-dev's linux-libc-dev installs.
//go:generate go run ./internal/errnogen/main.go -o errno_table.go /usr/include/asm-generic/errno-base.h /usr/include/asm-generic/errno.h

import (
	"strconv"
	"strings"
	"sync"
)

// Errno is a positive Linux errno, as a failed syscall returned it negated.
type Errno uint16

type errnoInfo struct {
	name        string
	description string
}

// Name returns the errno's symbolic name, such as "ENOSPC", or "errno_<n>" when unknown.
func (e Errno) Name() string {
	if info, ok := lookupErrno(e); ok {
		return info.name
	}
	return "errno_" + strconv.Itoa(int(e))
}

// Description returns the strerror text, such as "No space left on device",
// or "Unknown error <n>" as glibc says when unknown.
func (e Errno) Description() string {
	if info, ok := lookupErrno(e); ok {
		return info.description
	}
	return "Unknown error " + strconv.Itoa(int(e))
}

// Listable reports whether a rule can select e by name: the kernel's per-syscall errno bitmap holds
// errnos 1-255; the kernel-internal ones above (512-530) are reported only with AllErrnos.
func (e Errno) Listable() bool { return e >= 1 && e <= maxRuleErrno }

// String returns Name, so errnos print by name.
func (e Errno) String() string { return e.Name() }

func lookupErrno(e Errno) (errnoInfo, bool) {
	if info, ok := uapiErrnos[e]; ok {
		return info, true
	}
	info, ok := kernelInternalErrnos[e]
	return info, ok
}

var errnosByName = sync.OnceValue(func() map[string]Errno {
	m := make(map[string]Errno)
	for _, table := range []map[Errno]errnoInfo{uapiErrnos, kernelInternalErrnos} {
		for e, info := range table {
			m[info.name] = e
		}
	}
	for _, aliases := range []map[string]Errno{uapiAliases, otherAliases} {
		for name, e := range aliases {
			m[name] = e
		}
	}
	return m
})

// ErrnoByName returns the errno named name ("ENOSPC", case-insensitive; the
// aliases EWOULDBLOCK, EDEADLOCK and ENOTSUP and the "errno_<n>" form of Name
// are accepted too).
func ErrnoByName(name string) (Errno, bool) {
	upper := strings.ToUpper(strings.TrimSpace(name))
	if e, ok := errnosByName()[upper]; ok {
		return e, true
	}
	if digits, ok := strings.CutPrefix(upper, "ERRNO_"); ok {
		n, err := strconv.ParseUint(digits, 10, 16)
		if err == nil && n >= 1 && n <= maxErrno {
			return Errno(n), true
		}
	}
	return 0, false
}

// maxErrno is the largest errno a syscall can return (include/linux/err.h MAX_ERRNO).
const maxErrno = 4095
