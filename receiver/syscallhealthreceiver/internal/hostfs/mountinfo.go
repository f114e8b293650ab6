package hostfs

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Bounds of one mount table: a namespace with more mounts (a hostile user can create
// 100,000) is not parsed; the caller falls back to what it knows without the table.
// At the bound a table keeps about 1 MiB (257 B per mount, BenchmarkMountTableMemory).
const (
	maxMountInfoBytes = 1 << 20
	maxMountLines     = 4096
)

// Device is a filesystem's device number (st_dev; mountinfo's "major:minor"): tmpfs and other
// filesystems without a disk get an anonymous one of their own, so it tells filesystems apart
// where mount points coincide.
type Device struct{ Major, Minor uint32 }

func (d Device) isZero() bool { return d == Device{} }

func (d Device) String() string { return fmt.Sprintf("%d:%d", d.Major, d.Minor) }

// Mount is one line of /proc/<pid>/mountinfo.
type Mount struct {
	ID         int
	Device     Device
	Root       string // the root of the mount within its filesystem
	MountPoint string // where it is mounted, in the process's mount namespace
	FSType     string
	Source     string // e.g. /dev/sda1, tmpfs, overlay
	ReadOnly   bool   // mounted read-only, per mount or per superblock
	// SuperOptions are the per-superblock options (the last field), e.g. "rw,pids" for a v1 pids hierarchy.
	SuperOptions string
}

// MountTable is a parsed mountinfo in file order (later lines shadow earlier ones on the same mount point).
type MountTable struct {
	// Namespace is the inode of the mount namespace the table describes (0 when unknown).
	Namespace uint64
	mounts    []Mount
	byID      map[int]int
}

// MountNamespace returns the inode of the mount namespace of pid (from /proc/<pid>/ns/mnt).
func (h *Host) MountNamespace(pid uint32) (uint64, error) {
	return call(h.calls, "mount namespace", func() (uint64, error) { return h.readNamespace(pid, "mnt") })
}

// MountTable reads the mount table of pid's mount namespace (/proc/<pid>/mountinfo). A table over
// its bounds is not returned (ErrTooLarge) and counted.
func (h *Host) MountTable(pid uint32) (*MountTable, error) {
	t, err := call(h.calls, "mountinfo", func() (*MountTable, error) {
		ns, err := h.readNamespace(pid, "mnt")
		if err != nil {
			return nil, err
		}
		raw, truncated, err := readLimited(h.pidPath(pid, "mountinfo"), maxMountInfoBytes)
		if err != nil {
			return nil, err
		}
		if truncated {
			return nil, ErrTooLarge
		}
		t, err := ParseMountInfo(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		t.Namespace = ns
		return t, nil
	})
	if err == ErrTooLarge {
		h.stats.mountTableTooLarge.Add(1)
	}
	return t, err
}

// readNamespace parses the link /proc/<pid>/ns/<kind>, e.g. "mnt:[4026531840]".
func (h *Host) readNamespace(pid uint32, kind string) (uint64, error) {
	link, err := readlink(h.pidPath(pid, "ns", kind))
	if err != nil {
		return 0, err
	}
	inode, ok := strings.CutPrefix(link, kind+":[")
	if inode, ok = strings.CutSuffix(inode, "]"); !ok {
		return 0, fmt.Errorf("namespace link %q", link)
	}
	return strconv.ParseUint(inode, 10, 64)
}

// ParseMountInfo parses the mountinfo format of proc(5):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Optional fields end at the "-" separator. Mount points and sources escape space, tab,
// newline and backslash as \040, \011, \012 and \134. More than maxMountLines lines is ErrTooLarge.
func ParseMountInfo(r io.Reader) (*MountTable, error) {
	t := &MountTable{byID: make(map[int]int)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxMountInfoBytes)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		if len(t.mounts) == maxMountLines {
			return nil, ErrTooLarge
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
	t.mounts = slices.Clone(t.mounts) // drop the spare capacity of append: the table is kept for minutes
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
	dev, err := parseDevice(fields[2])
	if err != nil {
		return Mount{}, err
	}
	m := Mount{
		ID:         id,
		Device:     dev,
		Root:       unescapeMountField(fields[3]),
		MountPoint: unescapeMountField(fields[4]),
		FSType:     fields[sep+1],
		Source:     unescapeMountField(fields[sep+2]),
	}
	m.ReadOnly = hasOption(fields[5], "ro")
	if len(fields) > sep+3 {
		m.SuperOptions = fields[sep+3]
		m.ReadOnly = m.ReadOnly || hasOption(m.SuperOptions, "ro")
	}
	return m, nil
}

func parseDevice(s string) (Device, error) {
	major, minor, ok := strings.Cut(s, ":")
	ma, err1 := strconv.ParseUint(major, 10, 32)
	mi, err2 := strconv.ParseUint(minor, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return Device{}, fmt.Errorf("device %q is not major:minor", s)
	}
	return Device{Major: uint32(ma), Minor: uint32(mi)}, nil
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

// LongestPrefix returns the mount whose mount point is the longest path prefix of the absolute
// path p; among mounts on the same point the last one wins (it shadows the others).
func (t *MountTable) LongestPrefix(p string) (Mount, bool) {
	p = path.Clean(p)
	best := -1
	for i, m := range t.mounts {
		if !PathWithin(p, m.MountPoint) {
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

// ByMountID returns the mount with the given mount ID (the first mountinfo field).
func (t *MountTable) ByMountID(id int) (Mount, bool) {
	i, ok := t.byID[id]
	if !ok {
		return Mount{}, false
	}
	return t.mounts[i], true
}

// PathWithin reports whether p is dir or below it.
func PathWithin(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// HostProcess returns a process in the host's mount namespace, and that namespace: pid 1, or, when
// pid 1's namespace is not readable (a sandbox hiding it) and the receiver runs on the host's root,
// the receiver itself.
func (h *Host) HostProcess() (pid uint32, ns uint64, err error) {
	if ns, err = h.MountNamespace(1); err == nil || h.root != "/" {
		return 1, ns, err
	}
	self := uint32(os.Getpid())
	ns, err = h.MountNamespace(self)
	return self, ns, err
}
