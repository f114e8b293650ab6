package findings

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// Mount is one line of /proc/<pid>/mountinfo.
type Mount struct {
	ID         int
	Root       string // the root of the mount within its filesystem
	MountPoint string // where it is mounted, in the process's mount namespace
	FSType     string
	Source     string // e.g. /dev/sda1, tmpfs, overlay
	ReadOnly   bool   // mounted read-only, per mount or per superblock
}

// mountTable is a parsed mountinfo in file order (later lines shadow earlier ones on the same mount point).
type mountTable struct {
	mounts []Mount
	byID   map[int]int
}

// parseMountInfo parses the mountinfo format of proc(5):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Optional fields end at the "-" separator. Mount points and sources escape space, tab,
// newline and backslash as \040, \011, \012 and \134.
func parseMountInfo(r io.Reader) (*mountTable, error) {
	t := &mountTable{byID: make(map[int]int)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		m, err := parseMountInfoLine(text)
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", line, err)
		}
		t.byID[m.ID] = len(t.mounts)
		t.mounts = append(t.mounts, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	return t, nil
}

func parseMountInfoLine(text string) (Mount, error) {
	fields := strings.Fields(text)
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if len(fields) < 7 || sep < 0 || len(fields) < sep+3 {
		return Mount{}, fmt.Errorf("malformed line %q", text)
	}
	id, err := strconv.Atoi(fields[0])
	if err != nil {
		return Mount{}, fmt.Errorf("mount ID %q: %w", fields[0], err)
	}
	m := Mount{
		ID:         id,
		Root:       unescapeMountField(fields[3]),
		MountPoint: unescapeMountField(fields[4]),
		FSType:     fields[sep+1],
		Source:     unescapeMountField(fields[sep+2]),
	}
	m.ReadOnly = hasOption(fields[5], "ro")
	if len(fields) > sep+3 && hasOption(fields[sep+3], "ro") {
		m.ReadOnly = true
	}
	return m, nil
}

func hasOption(options, option string) bool {
	for o := range strings.SplitSeq(options, ",") {
		if o == option {
			return true
		}
	}
	return false
}

// unescapeMountField decodes the kernel's octal escapes (\040 for a space, ...).
func unescapeMountField(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// longestPrefix returns the mount whose mount point is the longest path prefix of
// the absolute path p; among mounts on the same point the last one wins (it shadows the others).
func (t *mountTable) longestPrefix(p string) (Mount, bool) {
	p = path.Clean(p)
	best := -1
	for i, m := range t.mounts {
		if !pathWithin(p, m.MountPoint) {
			continue
		}
		if best < 0 || len(m.MountPoint) >= len(t.mounts[best].MountPoint) {
			best = i
		}
	}
	if best < 0 {
		return Mount{}, false
	}
	return t.mounts[best], true
}

// pathWithin reports whether p is dir or below it.
func pathWithin(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

func (t *mountTable) byMountID(id int) (Mount, bool) {
	i, ok := t.byID[id]
	if !ok {
		return Mount{}, false
	}
	return t.mounts[i], true
}
