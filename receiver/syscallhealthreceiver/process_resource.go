//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

// hostInfo is the part of every resource that describes the machine.
type hostInfo struct {
	name string
}

// processResource is the resource of one process, for its log records and its metrics alike, so both
// signals of a process join on identical attributes. Unknown attributes are left out.
func processResource(rb *metadata.ResourceBuilder, host hostInfo, p *processInfo) pcommon.Resource {
	rb.SetProcessPid(int64(p.PID))
	if p.PPID != 0 {
		rb.SetProcessParentPid(int64(p.PPID))
	}
	if p.ExecutableName != "" {
		rb.SetProcessExecutableName(p.ExecutableName)
	}
	if p.ExecutablePath != "" {
		rb.SetProcessExecutablePath(p.ExecutablePath)
	}
	if len(p.CommandArgs) > 0 {
		rb.SetProcessCommandArgs(stringsToAny(p.CommandArgs))
	}
	if p.CreationTime != "" {
		rb.SetProcessCreationTime(p.CreationTime)
	}
	if p.RealUIDKnown {
		rb.SetProcessRealUserID(int64(p.RealUID))
	}
	if p.EffectiveUIDKnown {
		rb.SetProcessUserID(int64(p.EffectiveUID))
	}
	if p.UserName != "" {
		rb.SetProcessUserName(p.UserName)
	}
	if p.ContainerID != "" {
		rb.SetContainerID(p.ContainerID)
	}
	if p.PodUID != "" {
		rb.SetK8sPodUID(p.PodUID)
	}
	return hostResource(rb, host)
}

// hostResource is the resource of what describes the host rather than one process: the receiver's own
// series (events dropped and suppressed, issues active) and the finding records.
func hostResource(rb *metadata.ResourceBuilder, host hostInfo) pcommon.Resource {
	if host.name != "" {
		rb.SetHostName(host.name)
	}
	rb.SetOsType("linux")
	return rb.Emit()
}

func stringsToAny(values []string) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}
