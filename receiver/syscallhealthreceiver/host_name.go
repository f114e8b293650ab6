//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"errors"
	"os"
	"strings"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// nodeNameEnv is the variable a Kubernetes DaemonSet sets from the downward API (spec.nodeName).
const nodeNameEnv = "K8S_NODE_NAME"

// nodeName is host.name: the name of the node whose kernel the receiver watches, never a pod's or a
// container's own name. K8S_NODE_NAME wins; else the kernel's host name from the proc root, unless the
// collector provably runs in a UTS namespace other than the proc root's init process (a container of its own,
// whose namespace only knows the container's name). When the namespaces cannot be compared (pid 1 belongs to
// an outer user namespace), the kernel's host name is used.
func nodeName(host *hostfs.Host) (string, error) {
	if name := strings.TrimSpace(os.Getenv(nodeNameEnv)); name != "" {
		return name, nil
	}
	if host.OwnUTSNamespace() {
		return "", errors.New("the collector runs in a UTS namespace of its own, whose host name is not the node's; set " + nodeNameEnv + " (e.g. from the downward API, spec.nodeName) or share the host's UTS namespace")
	}
	return host.KernelHostName()
}
