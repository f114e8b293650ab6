package hostfs

import (
	"strconv"
	"strings"
)

// parseStatusUIDs returns the real and effective user IDs, the first two of the Uid line of the contents
// of /proc/<pid>/status.
func parseStatusUIDs(raw string) (real, effective uint32, ok bool) {
	for line := range strings.Lines(raw) {
		rest, found := strings.CutPrefix(line, "Uid:")
		if !found {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			return 0, 0, false
		}
		r, errReal := strconv.ParseUint(fields[0], 10, 32)
		e, errEffective := strconv.ParseUint(fields[1], 10, 32)
		if errReal != nil || errEffective != nil {
			return 0, 0, false
		}
		return uint32(r), uint32(e), true
	}
	return 0, 0, false
}

// BootTime reads btime, the host's boot time in seconds since the epoch, from /proc/stat; 0 when unreadable.
func (h *Host) BootTime() uint64 {
	btime, _ := call(h.calls, "boot time", func() (uint64, error) {
		raw, err := readSmall(h.procPath("stat"))
		if err != nil {
			return 0, err
		}
		for line := range strings.Lines(string(raw)) {
			if rest, ok := strings.CutPrefix(line, "btime "); ok {
				return strconv.ParseUint(strings.TrimSpace(rest), 10, 64)
			}
		}
		return 0, nil
	})
	return btime
}
