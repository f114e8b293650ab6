//go:build linux && (amd64 || arm64)

package bpf

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// configFlagIncludePaths mirrors health.h CONFIG_F_INCLUDE_PATHS.
const configFlagIncludePaths = 1

// kernelConfig is the config map value for opts (with defaults applied), a
// ring buffer of ringSize bytes and config slot. Validate must have accepted opts.
func kernelConfig(opts Options, ringSize int, slot uint32) (*healthHealthConfig, error) {
	rules, err := compileRules(opts.Rules)
	if err != nil {
		return nil, err
	}
	rate, err := opts.RateLimit.kernelParams()
	if err != nil {
		return nil, err
	}
	jiffy, err := jiffyNs()
	if err != nil {
		return nil, err
	}
	cfg := &healthHealthConfig{
		EmitIntervalNs:   rate.emitIntervalNs,
		BurstToleranceNs: rate.burstToleranceNs,
		ScopeFlags:       opts.Scope.kernelFlags(),
		ScopeInclude:     opts.Scope.Include.kernelMatch(),
		ScopeExclude:     opts.Scope.Exclude.kernelMatch(),
		Slot:             slot,
		PidFilter:        opts.PIDFilter,
		// Storm guard from half the ring; wakeups from a quarter (measured: no
		// loss at ~500k events/s with a reader that also polls every 10 ms).
		StormThreshold:  uint32(ringSize / 2),
		WakeupThreshold: uint32(ringSize / 4),
		JiffyNs:         jiffy,
	}
	if opts.IncludePaths {
		cfg.Flags |= configFlagIncludePaths
	}
	for _, r := range rules {
		kr := &cfg.Rules[r.nr]
		kr.Errnos = r.errnos
		kr.Watched = 1
		if r.allErrnos {
			kr.AllErrnos = 1
		}
		kr.Category = uint8(r.category)
		kr.ArgKind = uint8(r.arg)
		kr.ArgIndex = r.argIndex
	}
	return cfg, nil
}

// jiffyNs is the kernel's tick (1/HZ), the period of the jiffy counter the
// rate limit reads instead of the clock (track.h): the resolution of
// CLOCK_MONOTONIC_COARSE, which advances once per tick.
func jiffyNs() (uint64, error) {
	var res unix.Timespec
	if err := unix.ClockGetres(unix.CLOCK_MONOTONIC_COARSE, &res); err != nil {
		return 0, fmt.Errorf("reading the kernel's tick length (clock_getres CLOCK_MONOTONIC_COARSE): %w", err)
	}
	return uint64(res.Nano()), nil
}
