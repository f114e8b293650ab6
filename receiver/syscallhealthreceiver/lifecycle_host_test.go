//go:build !darwin && !windows

package syscallhealthreceiver

import (
	"testing"

	"go.opentelemetry.io/collector/component"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
)

// kernelProbeHost is the host of the generated lifecycle test (metadata.yaml tests::host): Start loads and
// attaches the kernel probes, which needs root.
func kernelProbeHost(t *testing.T) component.Host {
	testenv.RequireRoot(t, "the generated lifecycle test loads and attaches the kernel probes")
	return newMdatagenNopHost()
}
