package hostfs

import (
	"bufio"
	"io"
	"strings"
)

// Cgroup is one line of /proc/<pid>/cgroup: "hierarchy-ID:controller-list:cgroup-path".
type Cgroup struct {
	Hierarchy   string
	Controllers string // comma-separated; empty for the cgroup v2 line ("0::/path")
	Path        string
}

// V2 tells the unified hierarchy's line.
func (c Cgroup) V2() bool { return c.Hierarchy == "0" && c.Controllers == "" }

// HasController tells whether a v1 line is the hierarchy of controller (e.g. "pids").
func (c Cgroup) HasController(controller string) bool { return hasOption(c.Controllers, controller) }

// ParseCgroups parses the contents of /proc/<pid>/cgroup; malformed lines are skipped. The
// path itself may contain ':'.
func ParseCgroups(r io.Reader) []Cgroup {
	var out []Cgroup
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		out = append(out, Cgroup{Hierarchy: parts[0], Controllers: parts[1], Path: parts[2]})
	}
	return out
}

// hasOption tells whether a comma-separated list holds option.
func hasOption(options, option string) bool {
	for o := range strings.SplitSeq(options, ",") {
		if o == option {
			return true
		}
	}
	return false
}
