package bpf

import (
	"slices"
	"strings"
	"testing"
)

func TestSyscallNameMapping(t *testing.T) {
	tables := []struct {
		arch   string
		table  syscallTable
		known  map[string]uint32
		absent []string
	}{
		{
			arch:  "amd64",
			table: x86_64Table,
			known: map[string]uint32{
				"read": 0, "write": 1, "open": 2, "mmap": 9, "pwrite64": 18, "writev": 20, "connect": 42,
				"accept": 43, "bind": 49, "listen": 50, "clone": 56, "fork": 57, "vfork": 58, "execve": 59,
				"truncate": 76, "ftruncate": 77, "mkdir": 83, "creat": 85, "accept4": 288, "fallocate": 285,
				"openat": 257, "mkdirat": 258, "execveat": 322, "clone3": 435, "openat2": 437,
			},
		},
		{
			arch:  "arm64",
			table: aarch64Table,
			known: map[string]uint32{
				"mkdirat": 34, "truncate": 45, "ftruncate": 46, "fallocate": 47, "openat": 56, "write": 64,
				"writev": 66, "pwrite64": 68, "bind": 200, "listen": 201, "accept": 202, "connect": 203,
				"mremap": 216, "clone": 220, "execve": 221, "mmap": 222, "accept4": 242, "execveat": 281,
				"clone3": 435, "openat2": 437,
			},
			absent: []string{"open", "creat", "mkdir", "fork", "vfork"},
		},
	}
	for _, tc := range tables {
		t.Run(tc.arch, func(t *testing.T) {
			for name, nr := range tc.known {
				if got := tc.table.name(nr); got != name {
					t.Errorf("name(%d) = %q, want %q", nr, got, name)
				}
				if got, ok := tc.table.number(name); !ok || got != nr {
					t.Errorf("number(%q) = %d, %v; want %d", name, got, ok, nr)
				}
			}
			for _, name := range tc.absent {
				if nr, ok := tc.table.number(name); ok {
					t.Errorf("number(%q) = %d, true; %s has no such syscall", name, nr, tc.arch)
				}
			}
			if got := tc.table.name(9999); got != "syscall_9999" {
				t.Errorf("name(9999) = %q", got)
			}
			// Every watched syscall that exists fits the kernel's rule table.
			for name := range watchedSyscalls {
				if nr, ok := tc.table.number(name); ok && nr >= maxSyscalls {
					t.Errorf("%s is %d, beyond the %d-entry rule table", name, nr, maxSyscalls)
				}
			}
			// Names are unique: a number maps back to itself.
			for nr, name := range tc.table.names {
				if name == "" {
					continue
				}
				if back, _ := tc.table.number(name); back != uint32(nr) {
					t.Errorf("%s: %q is both %d and %d", tc.arch, name, nr, back)
				}
			}
		})
	}

	// The exported functions use this build's table.
	for _, name := range []string{"openat", "connect", "clone3", "mmap"} {
		nr, ok := SyscallByName(name)
		if !ok {
			t.Fatalf("SyscallByName(%q) not found on this architecture", name)
		}
		if got := SyscallName(nr); got != name {
			t.Errorf("SyscallName(SyscallByName(%q)) = %q", name, got)
		}
	}
	if _, ok := SyscallByName("no_such_syscall"); ok {
		t.Error(`SyscallByName("no_such_syscall") found`)
	}
	if got := SyscallName(1 << 20); got != "syscall_1048576" {
		t.Errorf("SyscallName(1<<20) = %q", got)
	}

	categories := map[string]Category{
		"openat": CategoryFile, "write": CategoryFile, "fallocate": CategoryFile, "mkdirat": CategoryFile,
		"mmap": CategoryMemory, "mremap": CategoryMemory,
		"connect": CategoryNetwork, "bind": CategoryNetwork, "accept4": CategoryNetwork,
		"clone": CategoryProcess, "clone3": CategoryProcess, "execve": CategoryProcess,
		"read": CategoryUnknown, "brk": CategoryUnknown, "": CategoryUnknown,
	}
	for name, want := range categories {
		if got := SyscallCategory(name); got != want {
			t.Errorf("SyscallCategory(%q) = %s, want %s", name, got, want)
		}
	}
}

func TestDefaultRules(t *testing.T) {
	rules := DefaultRules()
	if !slices.IsSortedFunc(rules, func(a, b Rule) int { return strings.Compare(a.Syscall, b.Syscall) }) {
		t.Error("DefaultRules is not sorted by syscall")
	}
	byName := map[string]Rule{}
	for _, r := range rules {
		if _, ok := SyscallByName(r.Syscall); !ok {
			t.Errorf("default rule for %q, which this architecture lacks", r.Syscall)
		}
		if r.AllErrnos || len(r.Errnos) == 0 {
			t.Errorf("default rule %q should list its errnos", r.Syscall)
		}
		byName[r.Syscall] = r
	}
	want := map[string][]Errno{
		"openat":  {eNOSPC, eDQUOT, eMFILE, eNFILE, eACCES, ePERM, eROFS, eIO},
		"write":   {eNOSPC, eDQUOT, eIO, eROFS, eFBIG},
		"mmap":    {eNOMEM},
		"connect": {eCONNREFUSED, eTIMEDOUT, eNETUNREACH, eHOSTUNREACH, eADDRNOTAVAIL},
		"bind":    {eADDRINUSE, eACCES, eADDRNOTAVAIL},
		"clone":   {eAGAIN, eNOMEM},
		"execve":  {eNOMEM, e2BIG, eACCES},
	}
	for name, errnos := range want {
		if got := byName[name].Errnos; !slices.Equal(got, errnos) {
			t.Errorf("default errnos of %s = %v, want %v", name, got, errnos)
		}
	}
	for _, never := range []struct {
		syscall string
		errno   Errno
	}{{"write", eAGAIN}, {"writev", eAGAIN}, {"connect", 115 /* EINPROGRESS */}} {
		if slices.Contains(byName[never.syscall].Errnos, never.errno) {
			t.Errorf("%s must not report %s by default", never.syscall, never.errno)
		}
	}
	if _, ok := byName["brk"]; ok {
		t.Error("brk never fails with an errno and must not be watched")
	}
	// Rules are copies: changing one leaves the defaults alone.
	byName["openat"].Errnos[0] = 1
	if watchedSyscalls["openat"].errnos[0] != eNOSPC {
		t.Error("DefaultRules shares its errno slices with the watched table")
	}
}
