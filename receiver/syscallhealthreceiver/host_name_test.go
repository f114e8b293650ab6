//go:build linux

package syscallhealthreceiver

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// fakeProcRoot returns a host root whose proc directory has self and pid 1 in the given UTS namespaces, and
// the kernel's host name of the reader.
func fakeProcRoot(t *testing.T, selfNS, hostNS string) string {
	t.Helper()
	host := t.TempDir()
	root := filepath.Join(host, "proc")
	for pid, ns := range map[string]string{"self": selfNS, "1": hostNS} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, pid, "ns"), 0o755))
		require.NoError(t, os.Symlink(ns, filepath.Join(root, pid, "ns", "uts")))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "sys", "kernel"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "sys", "kernel", "hostname"), []byte("node-7\n"), 0o644))
	return host
}

func nodeNameUnder(root string) (string, error) { return nodeName(hostfs.New(root, time.Minute, nil)) }

func TestNodeName(t *testing.T) {
	t.Setenv(nodeNameEnv, "")
	name, err := nodeNameUnder(fakeProcRoot(t, "uts:[4026531838]", "uts:[4026531838]"))
	require.NoError(t, err)
	assert.Equal(t, "node-7", name, "the host's UTS namespace: the kernel's host name is the node's")

	_, err = nodeNameUnder(fakeProcRoot(t, "uts:[4026532999]", "uts:[4026531838]"))
	assert.ErrorContains(t, err, nodeNameEnv, "a pod's own UTS namespace only knows the pod's name: no host.name rather than a wrong one")

	// pid 1's namespace not readable (an outer user namespace owns it): the kernel's host name.
	root := fakeProcRoot(t, "uts:[4026532999]", "uts:[4026531838]")
	require.NoError(t, os.Remove(filepath.Join(root, "proc", "1", "ns", "uts")))
	name, err = nodeNameUnder(root)
	require.NoError(t, err)
	assert.Equal(t, "node-7", name)

	t.Setenv(nodeNameEnv, "worker-3")
	name, err = nodeNameUnder(fakeProcRoot(t, "uts:[4026532999]", "uts:[4026531838]"))
	require.NoError(t, err)
	assert.Equal(t, "worker-3", name, "the downward API's node name wins")
}
