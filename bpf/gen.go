package bpf

// The committed outputs (health_{x86,arm64}_bpfel.{go,o}) are rebuilt by `make generate`
// with a pinned clang; building the module needs no clang. -mcpu=v3 (jmp32, alu32) needs Linux 5.1,
// below the 5.8 that ring buffers require anyway; the programs use no atomics newer than an add
// whose result is unused (compare-and-swap and fetching atomics need 5.12).
//go:generate go tool bpf2go -tags linux -target amd64,arm64 -type health_event -type health_config -type syscall_rule -type tracking_key -type tracking_value -type probe_stats -type connect_attempt -type scope_key -type scope_match health syscallhealth.bpf.c -- -nostdinc -Iinclude -Wall -Werror -mcpu=v3
