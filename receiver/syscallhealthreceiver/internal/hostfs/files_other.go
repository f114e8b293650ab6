//go:build !linux

package hostfs

import "errors"

// The receiver only runs on Linux; these keep the package (and the receiver's configuration)
// building elsewhere.

var errNotLinux = errors.New("hostfs: only on Linux")

func statInRoot(string, string) (PathStat, error) { return PathStat{}, errNotLinux }

func openFile(string) (OpenFile, bool) { return OpenFile{}, false }

// CheckProcfs fails outside Linux.
func (h *Host) CheckProcfs() error { return errNotLinux }
