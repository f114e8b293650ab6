//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import "sync/atomic"

// dropCounters count the failure events the receiver itself lost, by reason, for
// syscallhealth.events.dropped. The kernel counts ring buffer overflows itself (bpf.Stats).
type dropCounters struct {
	malformed     atomic.Uint64 // undecodable ring buffer records
	consumerError atomic.Uint64 // log records the next consumer rejected
	backpressure  atomic.Uint64 // log records dropped because the pending batch was full
	shutdown      atomic.Uint64 // events left in the ring when Shutdown ran out of time
}
