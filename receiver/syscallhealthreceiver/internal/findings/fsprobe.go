package findings

import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"

// fsProbe is the part of *hostfs.Host that asks the kernel about files as a process sees
// them (openat2, statx, statfs); tests answer it from tables.
type fsProbe interface {
	StatInRoot(pid uint32, absPath string, fs hostfs.Device) (hostfs.PathStat, error)
	OpenFiles(pid uint32) ([]hostfs.OpenFile, error)
}
