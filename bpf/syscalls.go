package bpf

import (
	"strconv"
	"sync"
)

// syscallTable names the syscalls of one architecture by number.
type syscallTable struct {
	names  []string
	byName func() map[string]uint32
}

func newSyscallTable(names []string) syscallTable {
	return syscallTable{
		names: names,
		byName: sync.OnceValue(func() map[string]uint32 {
			m := make(map[string]uint32, len(names))
			for nr, name := range names {
				if name != "" {
					m[name] = uint32(nr)
				}
			}
			return m
		}),
	}
}

func (t syscallTable) name(nr uint32) string {
	if int64(nr) < int64(len(t.names)) && t.names[nr] != "" {
		return t.names[nr]
	}
	return "syscall_" + strconv.FormatUint(uint64(nr), 10)
}

func (t syscallTable) number(name string) (uint32, bool) {
	nr, ok := t.byName()[name]
	return nr, ok
}

var (
	x86_64Table  = newSyscallTable(withUnifiedSyscalls(x86_64Syscalls[:]))
	aarch64Table = newSyscallTable(withUnifiedSyscalls(aarch64Syscalls[:]))
)

// withUnifiedSyscalls completes an architecture's own names (numbers below firstUnifiedSyscall) with the
// unified ones.
func withUnifiedSyscalls(archNames []string) []string {
	names := make([]string, firstUnifiedSyscall+len(unifiedSyscalls))
	copy(names[:firstUnifiedSyscall], archNames)
	copy(names[firstUnifiedSyscall:], unifiedSyscalls[:])
	return names
}

// SyscallName returns the name of syscall nr on the architecture this program
// was built for (that of the kernel it runs on), or "syscall_<nr>" when unknown.
func SyscallName(nr uint32) string { return nativeSyscalls.name(nr) }

// SyscallByName returns the number of the named syscall on this architecture;
// false when it does not exist here (open, creat, mkdir, fork and vfork do not on arm64).
func SyscallByName(name string) (uint32, bool) { return nativeSyscalls.number(name) }

// SyscallCategory returns the category of a syscall of the watched-syscall
// table, CategoryUnknown for any other name.
func SyscallCategory(name string) Category {
	if w, ok := watchedSyscalls[name]; ok {
		return w.category
	}
	return CategoryUnknown
}
