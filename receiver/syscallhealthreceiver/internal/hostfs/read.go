package hostfs

import (
	"io"
	"os"
)

// maxProcFile bounds the small /proc and cgroupfs files read whole (status, cgroup, limits, pids.*).
const maxProcFile = 64 << 10

// readLimited reads at most limit bytes of name; truncated tells that the file holds more.
func readLimited(name string, limit int) (data []byte, truncated bool, err error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, false, err
	}
	if len(data) > limit {
		return data[:limit], true, nil
	}
	return data, false, nil
}

// readSmall reads a file that must fit maxProcFile.
func readSmall(name string) ([]byte, error) {
	data, truncated, err := readLimited(name, maxProcFile)
	if err != nil {
		return nil, err
	}
	if truncated {
		return nil, ErrTooLarge
	}
	return data, nil
}
