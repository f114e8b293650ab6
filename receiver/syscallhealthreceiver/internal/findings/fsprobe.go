package findings

// fsProbe asks the kernel about files as a given process sees them. The Linux
// implementation (kernelFS) uses openat2/statx/statfs; elsewhere nothing is known and
// resolution falls back to mountinfo prefixes and the path's directory.
type fsProbe interface {
	// mountIDInRoot returns the mount ID (the first mountinfo field) of absPath, or of
	// its nearest existing ancestor, resolved inside the root of process pid.
	mountIDInRoot(procRoot string, pid uint32, absPath string) (int, bool)
	// openFile describes the file behind fdPath (/proc/<pid>/fd/<n>).
	openFile(fdPath string) (openFileInfo, bool)
}

type openFileInfo struct {
	mountID int
	regular bool
	// full: no block (for unprivileged writers) or no inode is left on its filesystem.
	full bool
}
