//go:build linux

package syscallhealthreceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRootPathValidation: root_path must be absolute and hold a mounted procfs at <root_path>/proc.
func TestRootPathValidation(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.RootPath = "/"
	require.NoError(t, cfg.Validate(), "the receiver's own root holds /proc")

	cfg.RootPath = "hostfs"
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "root_path must be an absolute path")

	cfg.RootPath = t.TempDir()
	err = cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "root_path "+cfg.RootPath)
	assert.Contains(t, err.Error(), "/proc")
}
