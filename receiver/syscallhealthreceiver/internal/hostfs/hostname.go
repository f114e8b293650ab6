package hostfs

import (
	"bytes"
	"os"
)

// KernelHostName reads the kernel's host name of the root's procfs (/proc/sys/kernel/hostname): the
// host name of the UTS namespace of whoever reads it.
func (h *Host) KernelHostName() (string, error) {
	return call(h.calls, "host name", func() (string, error) {
		raw, err := readSmall(h.procPath("sys", "kernel", "hostname"))
		if err != nil {
			return "", err
		}
		return string(bytes.TrimSpace(raw)), nil
	})
}

// OwnUTSNamespace tells whether the receiver provably runs in a UTS namespace other than pid 1's; false
// when the two cannot be compared (pid 1's belongs to an outer user namespace).
func (h *Host) OwnUTSNamespace() bool {
	own, err := call(h.calls, "uts namespace", func() (string, error) { return os.Readlink(h.procPath("self", "ns", "uts")) })
	if err != nil {
		return false
	}
	host, err := call(h.calls, "uts namespace", func() (string, error) { return os.Readlink(h.pidPath(1, "ns", "uts")) })
	return err == nil && own != host
}
