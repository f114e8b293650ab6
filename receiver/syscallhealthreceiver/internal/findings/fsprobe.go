package findings

// fsProbe asks the kernel about files as a given process sees them. The Linux
// implementation (kernelFS) uses openat2/statx/statfs; elsewhere nothing is known and
// resolution falls back to mountinfo prefixes and the path's directory.
type fsProbe interface {
	// statInRoot examines absPath, or its nearest existing ancestor, resolved inside the
	// root of process pid.
	statInRoot(procRoot string, pid uint32, absPath string) (pathStat, bool)
	// openFile describes the file behind fdPath (/proc/<pid>/fd/<n>).
	openFile(fdPath string) (openFileInfo, bool)
}

// fileType is what a failed syscall's path names.
type fileType uint8

const (
	fileTypeUnknown fileType = iota // not examined: the process is gone, or the kernel would not say
	fileTypeAbsent                  // does not exist: the failed syscall was creating it
	fileTypeRegular
	fileTypeDirectory
	fileTypeCharDevice
	fileTypeBlockDevice
	fileTypeFIFO
	fileTypeSocket
)

type pathStat struct {
	// mountID is the mount ID (the first mountinfo field) of the path, or of its nearest
	// existing ancestor when it does not exist.
	mountID  int
	fileType fileType
}

type openFileInfo struct {
	mountID int
	regular bool
	// full: no block (for unprivileged writers) or no inode is left on its filesystem.
	full bool
}
