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

// runMicro measures every syscall case under every configuration, interleaved: each rep attaches the
// configurations in a rotated order, so slow drift of the machine spreads over all of them.
func (b *bench) runMicro() (microResults, error) {
	res := microResults{}
	for rep := range b.reps {
		for i := range configurations {
			cfg := configurations[(i+rep)%len(configurations)]
			stop, err := cfg.start(b)
			if err != nil {
				return nil, err
			}
			for _, c := range syscallCases {
				ns, err := b.runWorkerProcess(c.name)
				if err != nil {
					stop()
					return nil, fmt.Errorf("%s under %s: %w", c.name, cfg.name, err)
				}
				if res[cfg.name] == nil {
					res[cfg.name] = map[string][]float64{}
				}
				res[cfg.name][c.name] = append(res[cfg.name][c.name], ns)
			}
			if err := stop(); err != nil {
				return nil, fmt.Errorf("stopping %s: %w", cfg.name, err)
			}
			b.logf("micro rep %d/%d: %s done", rep+1, b.reps, cfg.name)
		}
	}
	return res, nil
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
