package bpf

import (
	"strconv"
	"strings"
	"testing"
)

func TestErrorCodeMapping(t *testing.T) {
	known := []struct {
		errno       Errno
		name        string
		description string
	}{
		{1, "EPERM", "Operation not permitted"},
		{2, "ENOENT", "No such file or directory"},
		{5, "EIO", "Input/output error"},
		{7, "E2BIG", "Argument list too long"},
		{11, "EAGAIN", "Resource temporarily unavailable"},
		{12, "ENOMEM", "Cannot allocate memory"},
		{13, "EACCES", "Permission denied"},
		{23, "ENFILE", "Too many open files in system"},
		{24, "EMFILE", "Too many open files"},
		{28, "ENOSPC", "No space left on device"},
		{30, "EROFS", "Read-only file system"},
		{98, "EADDRINUSE", "Address already in use"},
		{99, "EADDRNOTAVAIL", "Cannot assign requested address"},
		{101, "ENETUNREACH", "Network is unreachable"},
		{110, "ETIMEDOUT", "Connection timed out"},
		{111, "ECONNREFUSED", "Connection refused"},
		{113, "EHOSTUNREACH", "No route to host"},
		{115, "EINPROGRESS", "Operation now in progress"},
		{122, "EDQUOT", "Disk quota exceeded"},
		{133, "EHWPOISON", "Memory page has hardware error"},
		{512, "ERESTARTSYS", "Interrupted system call, to be restarted (kernel internal)"},
		{524, "ENOTSUPP", "Operation is not supported"},
	}
	for _, k := range known {
		if got := k.errno.Name(); got != k.name {
			t.Errorf("Errno(%d).Name() = %q, want %q", k.errno, got, k.name)
		}
		if got := k.errno.Description(); got != k.description {
			t.Errorf("Errno(%d).Description() = %q, want %q", k.errno, got, k.description)
		}
		for _, spelling := range []string{k.name, strings.ToLower(k.name), " " + k.name + " "} {
			if got, ok := ErrnoByName(spelling); !ok || got != k.errno {
				t.Errorf("ErrnoByName(%q) = %d, %v; want %d, true", spelling, got, ok, k.errno)
			}
		}
	}

	// Every named errno round-trips, and errnos 1-133 are all named except the two Linux never assigned.
	for e := Errno(1); e <= 133; e++ {
		name := e.Name()
		if e == 41 || e == 58 {
			if name != "errno_"+strconv.Itoa(int(e)) {
				t.Errorf("Errno(%d).Name() = %q, want the unknown form", e, name)
			}
			continue
		}
		if strings.HasPrefix(name, "errno_") || !strings.HasPrefix(name, "E") {
			t.Errorf("Errno(%d) has no symbolic name: %q", e, name)
		}
		if back, ok := ErrnoByName(name); !ok || back != e {
			t.Errorf("ErrnoByName(%q) = %d, %v; want %d", name, back, ok, e)
		}
	}

	aliases := map[string]Errno{"EWOULDBLOCK": 11, "EDEADLOCK": 35, "ENOTSUP": 95, "ewouldblock": 11}
	for name, want := range aliases {
		if got, ok := ErrnoByName(name); !ok || got != want {
			t.Errorf("ErrnoByName(%q) = %d, %v; want alias of %d", name, got, ok, want)
		}
	}

	unknown := Errno(4000)
	if got := unknown.Name(); got != "errno_4000" {
		t.Errorf("unknown Name() = %q", got)
	}
	if got := unknown.Description(); got != "Unknown error 4000" {
		t.Errorf("unknown Description() = %q", got)
	}
	if got, ok := ErrnoByName("errno_4000"); !ok || got != unknown {
		t.Errorf(`ErrnoByName("errno_4000") = %d, %v`, got, ok)
	}
	for _, bad := range []string{"", "ENOTANERRNO", "errno_0", "errno_4096", "errno_x", "28"} {
		if got, ok := ErrnoByName(bad); ok {
			t.Errorf("ErrnoByName(%q) = %d, true; want false", bad, got)
		}
	}
}
