//go:build linux

package syscallhealthreceiver

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeProcRoot has self and pid 1 in the given UTS namespaces, and the kernel's host name of the reader.
func fakeProcRoot(t *testing.T, selfNS, hostNS string) string {
	t.Helper()
	root := t.TempDir()
	for pid, ns := range map[string]string{"self": selfNS, "1": hostNS} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, pid, "ns"), 0o755))
		require.NoError(t, os.Symlink(ns, filepath.Join(root, pid, "ns", "uts")))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "sys", "kernel"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "sys", "kernel", "hostname"), []byte("node-7\n"), 0o644))
	return root
}

func TestNodeName(t *testing.T) {
	t.Setenv(nodeNameEnv, "")
	name, err := nodeName(fakeProcRoot(t, "uts:[4026531838]", "uts:[4026531838]"))
	require.NoError(t, err)
	assert.Equal(t, "node-7", name, "the host's UTS namespace: the kernel's host name is the node's")

	_, err = nodeName(fakeProcRoot(t, "uts:[4026532999]", "uts:[4026531838]"))
	assert.ErrorContains(t, err, nodeNameEnv, "a pod's own UTS namespace only knows the pod's name: no host.name rather than a wrong one")

	// pid 1's namespace not readable (an outer user namespace owns it): the kernel's host name.
	root := fakeProcRoot(t, "uts:[4026532999]", "uts:[4026531838]")
	require.NoError(t, os.Remove(filepath.Join(root, "1", "ns", "uts")))
	name, err = nodeName(root)
	require.NoError(t, err)
	assert.Equal(t, "node-7", name)

	t.Setenv(nodeNameEnv, "worker-3")
	name, err = nodeName(fakeProcRoot(t, "uts:[4026532999]", "uts:[4026531838]"))
	require.NoError(t, err)
	assert.Equal(t, "worker-3", name, "the downward API's node name wins")
}
