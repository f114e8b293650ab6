package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BPFObjects are the kernel IDs of the BPF programs, maps and links one process holds file
// descriptors of (from /proc/<pid>/fdinfo). Other processes on the machine may load programs of the
// same names: these IDs are the process's own.
type BPFObjects struct {
	Programs, Maps, Links []uint32
}

// HeldBPFObjects reads the BPF objects held by pid.
func HeldBPFObjects(tb testing.TB, pid int) BPFObjects {
	tb.Helper()
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	entries, err := os.ReadDir(dir)
	require.NoError(tb, err)
	var objs BPFObjects
	for _, e := range entries {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			key, value, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			id, err := strconv.ParseUint(strings.TrimSpace(value), 10, 32)
			if err != nil {
				continue
			}
			switch key {
			case "prog_id":
				objs.Programs = append(objs.Programs, uint32(id))
			case "map_id":
				objs.Maps = append(objs.Maps, uint32(id))
			case "link_id":
				objs.Links = append(objs.Links, uint32(id))
			}
		}
		f.Close()
	}
	return objs
}

// Add merges other into o.
func (o *BPFObjects) Add(other BPFObjects) {
	o.Programs = append(o.Programs, other.Programs...)
	o.Maps = append(o.Maps, other.Maps...)
	o.Links = append(o.Links, other.Links...)
}

// RequireBPFObjectsFreed waits until the kernel knows none of the objects any more: nothing (no
// file descriptor, no attachment, no pin) keeps them alive.
func RequireBPFObjectsFreed(tb testing.TB, objs BPFObjects, within time.Duration) {
	tb.Helper()
	alive := func() []string {
		var left []string
		for _, id := range objs.Programs {
			if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id)); !errors.Is(err, os.ErrNotExist) {
				left = append(left, fmt.Sprintf("program %d (%v)", id, err))
				if p != nil {
					p.Close()
				}
			}
		}
		for _, id := range objs.Maps {
			if m, err := ebpf.NewMapFromID(ebpf.MapID(id)); !errors.Is(err, os.ErrNotExist) {
				left = append(left, fmt.Sprintf("map %d (%v)", id, err))
				if m != nil {
					m.Close()
				}
			}
		}
		for _, id := range objs.Links {
			if l, err := link.NewFromID(link.ID(id)); !errors.Is(err, os.ErrNotExist) {
				left = append(left, fmt.Sprintf("link %d (%v)", id, err))
				if l != nil {
					l.Close()
				}
			}
		}
		return left
	}
	var left []string
	assert.Eventually(tb, func() bool { left = alive(); return len(left) == 0 }, within, 50*time.Millisecond,
		"BPF objects still alive: %v", &left)
}

// OpenFDs lists the targets of the process's open file descriptors (/proc/self/fd), e.g.
// "anon_inode:bpf-prog", "socket:[123]".
func OpenFDs(tb testing.TB) []string {
	tb.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(tb, err)
	var targets []string
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the directory's own descriptor, closed by now
		}
		targets = append(targets, target)
	}
	return targets
}
