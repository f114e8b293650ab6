package syscallhealthreceiver

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syscallhealth/syscallhealth/bpf"
)

// configurationTable returns the rows of the settings table under "## Configuration" of a README, by setting.
func configurationTable(t *testing.T, path string) (rows map[string]string, defaults map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	text := string(raw)
	start := strings.Index(text, "\n## Configuration\n")
	require.GreaterOrEqual(t, start, 0, "%s has a Configuration section", path)
	section := text[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	rows, defaults = make(map[string]string), make(map[string]string)
	for line := range strings.Lines(section) {
		cells := strings.Split(strings.TrimSpace(line), " | ")
		if len(cells) != 3 || !strings.HasPrefix(cells[0], "| `") {
			continue
		}
		name := strings.Trim(strings.TrimPrefix(cells[0], "| "), "`")
		// Links into the repository README are relative to where the table is.
		rows[name] = strings.ReplaceAll(strings.TrimSpace(line), "](../../README.md#", "](#")
		defaults[name] = strings.Trim(cells[1], "`")
	}
	require.NotEmpty(t, rows, path)
	return rows, defaults
}

// The settings reference (repository README and the component README, the same rows) states the defaults of
// createDefaultConfig and the bounds Validate enforces.
func TestConfigurationReferenceMatchesTheCode(t *testing.T) {
	rows, defaults := configurationTable(t, "../../README.md")
	componentRows, _ := configurationTable(t, "README.md")
	assert.Equal(t, rows, componentRows, "the component README's settings table is the repository README's: change both")

	cfg := createDefaultConfig()
	for setting, want := range map[string]string{
		"collection_interval":          cfg.CollectionInterval.String(),
		"rate_limit.events_per_second": strconv.FormatFloat(cfg.RateLimit.EventsPerSecond, 'f', -1, 64),
		"rate_limit.burst":             strconv.FormatUint(uint64(cfg.RateLimit.Burst), 10),
		"ring_buffer_size":             cfg.RingBufferSize.String(),
		"tracking_map_size":            strconv.Itoa(cfg.TrackingMapSize),
		"include_paths":                strconv.FormatBool(cfg.IncludePaths),
		"error_mode":                   string(cfg.ErrorMode),
	} {
		assert.Equal(t, want, defaults[setting], "default of %s", setting)
	}
	for setting, bound := range map[string]string{
		"collection_interval":          "At least `" + minCollectionInterval.String() + "`",
		"rate_limit.events_per_second": "at most " + strconv.FormatFloat(bpf.MaxEventsPerSecond, 'f', -1, 64),
		"ring_buffer_size":             "at most `" + ByteSize(bpf.MaxRingBufferSize).String() + "`",
		"tracking_map_size":            fmt.Sprintf("1 to %d", bpf.MaxTrackingMapSize),
	} {
		assert.Contains(t, rows[setting], bound, "bound of %s", setting)
	}
}
