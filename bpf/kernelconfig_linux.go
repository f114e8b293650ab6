//go:build linux && (amd64 || arm64)

package bpf

// configFlagIncludePaths mirrors health.h CONFIG_F_INCLUDE_PATHS.
const configFlagIncludePaths = 1

// kernelConfig is the config map value for opts (with defaults applied) and a
// ring buffer of ringSize bytes. Validate must have accepted opts.
func kernelConfig(opts Options, ringSize int) (*healthHealthConfig, error) {
	rules, err := compileRules(opts.Rules)
	if err != nil {
		return nil, err
	}
	rate, err := opts.RateLimit.kernelParams()
	if err != nil {
		return nil, err
	}
	cfg := &healthHealthConfig{
		EmitIntervalNs:   rate.emitIntervalNs,
		BurstToleranceNs: rate.burstToleranceNs,
		CgroupFilter:     opts.CgroupFilter,
		PidFilter:        opts.PIDFilter,
		// Storm guard from half the ring; wakeups from a quarter (measured: no
		// loss at ~500k events/s with a reader that also polls every 10 ms).
		StormThreshold:  uint32(ringSize / 2),
		WakeupThreshold: uint32(ringSize / 4),
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
