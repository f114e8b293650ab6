package findings

import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"

// pseudoFilesystems hold kernel interfaces, not data: a full, read-only or failing
// disk never explains a failure on them (ENOSPC writing cgroup.procs, EIO reading
// /proc/<pid>/mem, anything on devtmpfs).
var pseudoFilesystems = map[string]bool{
	"proc": true, "sysfs": true, "cgroup": true, "cgroup2": true, "devpts": true, "devtmpfs": true,
	"mqueue": true, "debugfs": true, "tracefs": true, "securityfs": true, "pstore": true, "bpf": true,
	"configfs": true, "fusectl": true, "nsfs": true, "binfmt_misc": true, "autofs": true,
}

// filesystemSubject resolves the subject of a disk_full, read_only_filesystem or
// io_error failure, or says it is no evidence for them. These kinds are about
// filesystems holding data, so a failure counts only when its path names a regular
// file or a directory (or one being created) on such a filesystem:
//
//   - character devices (/dev/full always fails writes with ENOSPC, a hung-up tty with
//     EIO), FIFOs and sockets are no filesystem: never counted;
//   - a block device counts for io_error only, with the device as subject: EIO reading
//     a disk directly is a disk problem, whereas ENOSPC past its end or EROFS from a
//     write-protected device is no full or read-only filesystem;
//   - files on pseudo filesystems (devtmpfs, proc, sysfs, cgroup...): never counted;
//   - a path that could not be examined (the process exited in a container) under
//     /dev, but not /dev/shm (POSIX shared memory, a tmpfs that does fill up), is taken
//     to be a device node.
//
// A failure without path (a tracking-map count, write(2) on a pipe or socket) is
// matched with the process's open regular files on data filesystems (openFilesystems).
func (r *subjectResolver) filesystemSubject(k Kind, o *Observation) (Subject, resolution) {
	if o.Path == "" {
		if u, ok := r.openFiles.filesystemFor(k, o.PID); ok {
			return mountSubject(u.mount, u.ns, r.mounts.hostNamespace()), subjectFound
		}
		return unknownMountSubject(o.process()), subjectFallback
	}
	l := r.mounts.resolve(o.PID, o.Path, o.MountNamespace)
	switch l.fileType {
	case hostfs.FileTypeCharDevice, hostfs.FileTypeFIFO, hostfs.FileTypeSocket:
		return Subject{}, notEvidence
	case hostfs.FileTypeBlockDevice:
		if k == KindIOError {
			return deviceSubject(l.abs), subjectFound
		}
		return Subject{}, notEvidence
	case hostfs.FileTypeUnknown:
		if hostfs.PathWithin(l.abs, "/dev") && !hostfs.PathWithin(l.abs, "/dev/shm") {
			return Subject{}, notEvidence
		}
	}
	switch {
	case l.mounted && pseudoFilesystems[l.mount.FSType]:
		return Subject{}, notEvidence
	case l.mounted:
		return mountSubject(l.mount, l.ns, r.mounts.hostNamespace()), subjectFound
	}
	return unknownMountSubject(o.process()), subjectFallback
}
