//go:build linux

package e2e

import (
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/trigger"
	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
)

// Connects whose failure only shows after connect() returned EINPROGRESS:
// a Go client (net.Dial), an explicit non-blocking client over IPv6, and
// non-blocking connects timing out in the trigger's own network namespace.
// The collector must count each exactly once, in the same series as a
// blocking client's failure, and mark its records syscallhealth.async.
func TestCollectorReportsAsyncConnectFailures(t *testing.T) {
	requireCollector(t)
	work := t.TempDir()
	triggerPath := triggertest.Build(t)

	async := func(r trigger.Result) map[string]any {
		return map[string]any{
			"network.peer.address":  r.Address,
			"network.peer.port":     int64(r.Port),
			"network.local.address": r.Address,
			"syscallhealth.async":   true,
		}
	}
	cases := []failureCase{
		{name: "ECONNREFUSED Go dial", args: []string{"econnrefused", "-n", "6", "-mode", trigger.ModeDial}, failures: 6,
			category: "network", severity: severityWarn, errno: unix.ECONNREFUSED, attrs: async},
		{name: "ETIMEDOUT non-blocking", args: []string{"etimedout", "-n", "3", "-mode", trigger.ModeNonblocking}, failures: 3,
			category: "network", severity: severityWarn, errno: unix.ETIMEDOUT, attrs: async},
	}
	if l, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		l.Close()
		cases = append(cases, failureCase{name: "ECONNREFUSED non-blocking IPv6", args: []string{"econnrefused", "-n", "4", "-mode", trigger.ModeNonblocking, "-address", "::1"},
			failures: 4, category: "network", severity: severityWarn, errno: unix.ECONNREFUSED, attrs: async})
	} else {
		t.Logf("no IPv6 loopback, the IPv6 case is left out: %v", err)
	}

	output := filepath.Join(work, "output.json")
	collector := startCollector(t, "testdata/config.yaml", output)
	run := runCases(t, collector, triggerPath, output, cases)
	logs, points := run.logs, run.points

	for i, c := range cases {
		r := run.results[i]
		t.Run(c.name, func(t *testing.T) {
			// Exact count, one record per failure, process resource, async attributes.
			checkCase(t, c, r, triggerPath, logs, points, run.started, run.ended)
			// The source port of each failed connect, as the client saw it.
			ports := map[int64]bool{}
			for _, lr := range recordsOf(logs, r) {
				port, _ := lr.record.Attributes().AsRaw()["network.local.port"].(int64)
				assert.NotZero(t, port, "network.local.port")
				assert.False(t, ports[port], "source port %d on two records", port)
				ports[port] = true
				if r.LocalPorts != nil {
					assert.Contains(t, r.LocalPorts, int(port), "a source port the trigger used")
				}
			}
			// connect's EINPROGRESS is progress, not failure: no series of it, nor of anything but the real errno.
			for _, p := range points {
				if p.name == "syscallhealth.failures" {
					pid, _ := p.resource.Get("process.pid")
					attrs := p.point.Attributes().AsRaw()
					if pid.Int() == int64(r.PID) && attrs["syscallhealth.syscall.name"] == "connect" {
						assert.Equal(t, r.Errno, attrs["error.type"], "the only connect series of the process")
					}
				}
			}
			assert.True(t, slices.ContainsFunc(logs, func(lr logRecord) bool {
				return strings.HasPrefix(lr.record.Body().AsString(), "connect to ")
			}), "the body names the destination")
		})
	}
	collector.stop(t)
}
