package hostfs

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
)

var errMalformedStat = errors.New("malformed /proc/<pid>/stat")

// ProcessStat is what the receiver uses of /proc/<pid>/stat.
type ProcessStat struct {
	// Comm is the thread group leader's name; exec changes it.
	Comm string
	PPID uint32
	// StartTime is field 22 (clock ticks after boot): with the PID it identifies the process across PID reuse.
	StartTime uint64
}

// Stat reads /proc/<pid>/stat.
func (h *Host) Stat(pid uint32) (ProcessStat, error) {
	return call(h.calls, "stat", func() (ProcessStat, error) { return h.readStat(pid) })
}

func (h *Host) readStat(pid uint32) (ProcessStat, error) {
	raw, err := os.ReadFile(h.pidPath(pid, "stat"))
	if err != nil {
		return ProcessStat{}, err
	}
	return parseStat(raw)
}

// parseStat parses the contents of /proc/<pid>/stat. The name is in parentheses and may itself
// contain spaces and parentheses, so fields are counted from the last ')'.
func parseStat(raw []byte) (ProcessStat, error) {
	open := bytes.IndexByte(raw, '(')
	closing := bytes.LastIndexByte(raw, ')')
	if open < 0 || closing < open {
		return ProcessStat{}, errMalformedStat
	}
	fields := strings.Fields(string(raw[closing+1:]))
	// fields[0] is field 3 (state); ppid is field 4, starttime field 22.
	if len(fields) < 20 {
		return ProcessStat{}, errMalformedStat
	}
	ppid, err := strconv.ParseUint(fields[1], 10, 32)
	if err != nil {
		return ProcessStat{}, errMalformedStat
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return ProcessStat{}, errMalformedStat
	}
	return ProcessStat{Comm: string(raw[open+1 : closing]), PPID: uint32(ppid), StartTime: start}, nil
}
