//go:build !amd64 && !arm64

package bpf

// No syscall table for this architecture: every number is named "syscall_<nr>".
var nativeSyscalls = newSyscallTable(nil)
