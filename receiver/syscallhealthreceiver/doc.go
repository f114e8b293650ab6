//go:generate go tool -modfile=../../tools/go.mod mdatagen metadata.yaml

// Package syscallhealthreceiver turns failed syscalls, observed in the Linux kernel with eBPF, into OTLP log
// records (one per reported failure) and exact cumulative sum metrics (the in-kernel counts), with process and
// container resource attributes.
package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"
