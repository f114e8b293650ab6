package bpf

// kernelInternalErrnos are include/linux/errno.h's errnos (512-530): the kernel uses them internally, but some
// syscalls leak them to user space. They are not in the UAPI headers errnogen reads, so they are listed here.
var kernelInternalErrnos = map[Errno]errnoInfo{
	512: {"ERESTARTSYS", "Interrupted system call, to be restarted (kernel internal)"},
	513: {"ERESTARTNOINTR", "Interrupted system call, to be restarted (kernel internal)"},
	514: {"ERESTARTNOHAND", "Interrupted system call, restarted unless a handler ran (kernel internal)"},
	515: {"ENOIOCTLCMD", "No ioctl command (kernel internal)"},
	516: {"ERESTART_RESTARTBLOCK", "Interrupted system call, restarted via restart_syscall (kernel internal)"},
	517: {"EPROBE_DEFER", "Driver probe deferred (kernel internal)"},
	518: {"EOPENSTALE", "Open found a stale dentry (kernel internal)"},
	519: {"ENOPARAM", "Parameter not supported (kernel internal)"},
	521: {"EBADHANDLE", "Illegal NFS file handle"},
	522: {"ENOTSYNC", "Update synchronization mismatch"},
	523: {"EBADCOOKIE", "Cookie is stale"},
	524: {"ENOTSUPP", "Operation is not supported"},
	525: {"ETOOSMALL", "Buffer or request is too small"},
	526: {"ESERVERFAULT", "An untranslatable error occurred"},
	527: {"EBADTYPE", "Type not supported by server"},
	528: {"EJUKEBOX", "Request initiated, but will not complete before timeout"},
	529: {"EIOCBQUEUED", "I/O control block queued (kernel internal)"},
	530: {"ERECALLCONFLICT", "Conflict with recalled state"},
}

// otherAliases are names for UAPI errnos that the UAPI headers do not define: glibc's ENOTSUP and the
// kernel's EFSCORRUPTED (fs/, for EUCLEAN).
var otherAliases = map[string]Errno{
	"ENOTSUP":      95,
	"EFSCORRUPTED": 117,
}
