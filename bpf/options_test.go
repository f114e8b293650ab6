package bpf

import (
	"math"
	"os"
	"strings"
	"testing"
)

// gcraAllows is the kernel's bucket rule (track_failure in track.h),
// restated to check what the Go-side parameters mean.
func gcraAllows(p rateLimitParams, tat *uint64, now uint64) bool {
	t := max(*tat, now)
	if t-now > p.burstToleranceNs {
		return false
	}
	*tat = t + p.emitIntervalNs
	return true
}

func TestRateLimiting(t *testing.T) {
	arithmetic := []struct {
		limit               RateLimit
		interval, tolerance uint64
	}{
		{RateLimit{EventsPerSecond: 10, Burst: 20}, 100_000_000, 1_900_000_000},
		{RateLimit{EventsPerSecond: 1, Burst: 1}, 1_000_000_000, 0},
		{RateLimit{EventsPerSecond: 3, Burst: 2}, 333_333_333, 333_333_333},
		{RateLimit{EventsPerSecond: 0.5, Burst: 3}, 2_000_000_000, 4_000_000_000},
		{RateLimit{EventsPerSecond: MaxEventsPerSecond, Burst: 5}, 1000, 4000},
		{RateLimit{EventsPerSecond: 2e6 / 3, Burst: 1}, 1500, 0},
		{RateLimit{EventsPerSecond: 3e5, Burst: 1}, 3333, 0}, // 3333.3 ns rounds to 3333
		{RateLimit{EventsPerSecond: 1e-3, Burst: 1 << 20}, 1_000_000_000_000, (1<<20 - 1) * 1_000_000_000_000},
	}
	for _, a := range arithmetic {
		p, err := a.limit.kernelParams()
		if err != nil {
			t.Errorf("%+v: %v", a.limit, err)
			continue
		}
		if p.emitIntervalNs != a.interval || p.burstToleranceNs != a.tolerance {
			t.Errorf("%+v -> interval %d tolerance %d; want %d, %d", a.limit, p.emitIntervalNs, p.burstToleranceNs, a.interval, a.tolerance)
		}
	}

	for _, bad := range []struct {
		limit RateLimit
		field string
	}{
		{RateLimit{EventsPerSecond: 0, Burst: 5}, "RateLimit.EventsPerSecond"},
		{RateLimit{EventsPerSecond: -1, Burst: 5}, "RateLimit.EventsPerSecond"},
		{RateLimit{EventsPerSecond: math.NaN(), Burst: 5}, "RateLimit.EventsPerSecond"},
		{RateLimit{EventsPerSecond: math.Inf(1), Burst: 5}, "RateLimit.EventsPerSecond"},
		{RateLimit{EventsPerSecond: 2e6, Burst: 5}, "RateLimit.EventsPerSecond"},
		{RateLimit{EventsPerSecond: 10, Burst: 0}, "RateLimit.Burst"},
		{RateLimit{EventsPerSecond: 1e-12, Burst: 1}, "RateLimit.EventsPerSecond"},
		{RateLimit{EventsPerSecond: 1e-6, Burst: math.MaxUint32}, "RateLimit"},
	} {
		if _, err := bad.limit.kernelParams(); err == nil || !strings.Contains(err.Error(), bad.field) {
			t.Errorf("%+v: error %v, want one naming %s", bad.limit, err, bad.field)
		}
	}

	// The documented rule: a full bucket passes Burst events at once, then one per interval.
	p, err := RateLimit{EventsPerSecond: 10, Burst: 20}.kernelParams()
	if err != nil {
		t.Fatal(err)
	}
	var tat uint64
	now := uint64(5_000_000_000)
	passed := 0
	for range 100 { // 100 failures in the same instant
		if gcraAllows(p, &tat, now) {
			passed++
		}
	}
	if passed != 20 {
		t.Errorf("a burst of 100 at once passed %d events, want the burst size 20", passed)
	}
	// 50 ms later nothing has refilled; 100 ms after the burst, one token has.
	if gcraAllows(p, &tat, now+50_000_000) {
		t.Error("an event passed 50 ms after an exhausted burst at 10/s")
	}
	if !gcraAllows(p, &tat, now+100_000_000) {
		t.Error("no event passed 100 ms after an exhausted burst at 10/s")
	}
	// A steady 100 failures/s for 10 s passes the rate (100 events) plus what the bucket held.
	tat, passed = 0, 0
	for i := range 1000 {
		if gcraAllows(p, &tat, now+uint64(i)*10_000_000) {
			passed++
		}
	}
	if passed < 100+19 || passed > 100+20 {
		t.Errorf("10 s at 100 failures/s passed %d events, want 119-120 (rate 10/s + burst 20)", passed)
	}
	// After a long quiet period the bucket is full again, never fuller.
	passed = 0
	for range 100 {
		if gcraAllows(p, &tat, now+3600_000_000_000) {
			passed++
		}
	}
	if passed != 20 {
		t.Errorf("after an hour of quiet a burst passed %d events, want 20", passed)
	}

	// The zero RateLimit means the default, 10/s burst 20.
	if got := (Options{}).withDefaults().RateLimit; got != (RateLimit{EventsPerSecond: 10, Burst: 20}) {
		t.Errorf("default rate limit = %+v", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	page := os.Getpagesize()
	valid := []Options{
		{},
		{RingBufferSize: page},
		{RingBufferSize: 4 << 20, TrackingMapSize: 1},
		{Rules: []Rule{{Syscall: "openat", AllErrnos: true}}},
		{Rules: []Rule{{Syscall: "openat", Errnos: []Errno{2, 255}}}, PIDFilter: 1, IncludePaths: true},
		{Scope: Scope{Include: ScopeMatch{UIDs: []uint32{0, 1, 2, 3, 4, 5, 6, 7}, Executables: []string{"nginx", strings.Repeat("x", 31)}, Cgroups: []uint64{1, 2}},
			Exclude: ScopeMatch{Cgroups: []uint64{3}}, Workloads: WorkloadsContainers, Containers: []uint64{4}}},
	}
	for _, o := range valid {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	invalid := []struct {
		opts  Options
		field string
	}{
		{Options{Rules: []Rule{}}, "Rules"},
		{Options{Rules: []Rule{{Syscall: "no_such_syscall", AllErrnos: true}}}, "Rules[0].Syscall"},
		{Options{Rules: []Rule{{Syscall: "openat", AllErrnos: true}, {Syscall: "openat", AllErrnos: true}}}, "Rules[1].Syscall"},
		{Options{Rules: []Rule{{Syscall: "openat"}}}, "Rules[0].Errnos"},
		{Options{Rules: []Rule{{Syscall: "openat", Errnos: []Errno{0}}}}, "Rules[0].Errnos"},
		{Options{Rules: []Rule{{Syscall: "openat", Errnos: []Errno{256}}}}, "Rules[0].Errnos"},
		{Options{RateLimit: RateLimit{EventsPerSecond: 10}}, "RateLimit.Burst"},
		{Options{RateLimit: RateLimit{Burst: 3}}, "RateLimit.EventsPerSecond"},
		{Options{RingBufferSize: 3 * page}, "RingBufferSize"},
		{Options{RingBufferSize: page / 2}, "RingBufferSize"},
		{Options{RingBufferSize: -page}, "RingBufferSize"},
		{Options{RingBufferSize: 512 << 20}, "RingBufferSize"},
		{Options{TrackingMapSize: -1}, "TrackingMapSize"},
		{Options{TrackingMapSize: 1<<20 + 1}, "TrackingMapSize"},
		{Options{Scope: Scope{Include: ScopeMatch{UIDs: make([]uint32, 9)}}}, "Scope.Include.UIDs"},
		{Options{Scope: Scope{Exclude: ScopeMatch{Executables: make([]string, 9)}}}, "Scope.Exclude.Executables"},
		{Options{Scope: Scope{Exclude: ScopeMatch{Executables: []string{"bin/sh"}}}}, "Scope.Exclude.Executables[0]"},
		{Options{Scope: Scope{Include: ScopeMatch{Executables: []string{""}}}}, "Scope.Include.Executables[0]"},
		{Options{Scope: Scope{Include: ScopeMatch{Executables: []string{strings.Repeat("x", 32)}}}}, "Scope.Include.Executables[0]"},
		{Options{Scope: Scope{Workloads: 3}}, "Scope.Workloads"},
		{Options{Scope: Scope{Workloads: WorkloadsHost, Containers: manyCgroups(maxScopeCgroups + 1)}}, "Scope:"},
	}
	for _, tc := range invalid {
		err := tc.opts.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.field) {
			t.Errorf("%+v: error %v, want one starting with %s", tc.opts, err, tc.field)
		}
	}

	// Rules compile into the kernel's bitmaps and context kinds.
	rules, err := compileRules([]Rule{
		{Syscall: "openat", Errnos: []Errno{eNOSPC, eACCES, 200}},
		{Syscall: "connect", AllErrnos: true},
		{Syscall: "read", Errnos: []Errno{eIO}},
	})
	if err != nil {
		t.Fatal(err)
	}
	openat, _ := SyscallByName("openat")
	if r := rules[0]; r.nr != openat || r.errnos != [4]uint64{1<<28 | 1<<13, 0, 0, 1 << (200 - 192)} ||
		r.allErrnos || r.category != CategoryFile || r.arg != argPath || r.argIndex != 1 {
		t.Errorf("openat compiled to %+v", r)
	}
	if r := rules[1]; !r.allErrnos || r.errnos != [4]uint64{} || r.category != CategoryNetwork || r.arg != argSockaddrPeer {
		t.Errorf("connect compiled to %+v", r)
	}
	if r := rules[2]; r.category != CategoryUnknown || r.arg != argNone {
		t.Errorf("a syscall outside the watched table compiled to %+v", r)
	}
}

func manyCgroups(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	return ids
}
