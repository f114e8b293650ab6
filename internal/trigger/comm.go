//go:build linux

package trigger

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxComm is the longest name the kernel keeps (TASK_COMM_LEN 16, with the NUL).
const maxComm = 15

// setComm names the calling thread, which makes the failing calls (Scenario.Run locks it), and the
// thread group leader, whose name /proc/<pid>/stat shows.
func setComm(name string) error {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(p)), 0, 0, 0); err != nil {
		return err
	}
	return os.WriteFile("/proc/self/comm", []byte(name), 0)
}
