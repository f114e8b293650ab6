//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// microResults holds ns per call: [configuration][case] -> one value per rep.
type microResults map[string]map[string][]float64

// runMicro measures every syscall case under every configuration, interleaved (see interleaved).
func (b *bench) runMicro() (microResults, error) {
	res := microResults{}
	err := b.interleaved("micro", func(cfg configuration) error {
		for _, c := range syscallCases {
			ns, err := b.runWorkerProcess(c.name)
			if err != nil {
				return fmt.Errorf("%s under %s: %w", c.name, cfg.name, err)
			}
			if res[cfg.name] == nil {
				res[cfg.name] = map[string][]float64{}
			}
			res[cfg.name][c.name] = append(res[cfg.name][c.name], ns)
		}
		return nil
	})
	return res, err
}

// interleaved runs measure under every configuration, b.reps times: each rep attaches the configurations in a
// rotated order, so slow drift of the machine spreads over all of them.
func (b *bench) interleaved(section string, measure func(configuration) error) error {
	for rep := range b.reps {
		for i := range configurations {
			cfg := configurations[(i+rep)%len(configurations)]
			stop, err := cfg.start(b)
			if err != nil {
				return err
			}
			err = measure(cfg)
			if stopErr := stop(); err == nil && stopErr != nil {
				err = fmt.Errorf("stopping %s: %w", cfg.name, stopErr)
			}
			if err != nil {
				return err
			}
			b.logf("%s rep %d/%d: %s done", section, rep+1, b.reps, cfg.name)
		}
	}
	return nil
}

// runWorkerProcess runs one case in a child process of this binary and returns its ns per call.
func (b *bench) runWorkerProcess(name string, extra ...string) (float64, error) {
	cmd := exec.Command(b.self, append([]string{"worker", "-case", name}, extra...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
}
