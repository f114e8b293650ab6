package findings

import (
	"testing"
	"time"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// TestMountSubjectsStayInTheirNamespace: a user's private tmpfs mounted on / in a mount namespace of its
// own and the host's / are two findings, never one, and the private one says whose / it is.
func TestMountSubjectsStayInTheirNamespace(t *testing.T) {
	f := newEngineFixture(t, nil)
	f.proc.processWithMountInfo(200, "mnt:[4026532777]", "5 4 0:77 / / rw,relatime - tmpfs none rw,size=4k\n")
	probe := probeStub{paths: map[string]hostfs.PathStat{
		"/var/lib/x": {MountID: 1, Device: hostfs.Device{Major: 8, Minor: 1}, Type: hostfs.FileTypeRegular},
		"/fill":      {MountID: 5, Device: hostfs.Device{Major: 0, Minor: 77}, Type: hostfs.FileTypeRegular},
	}}
	f.engine.resolver = newSubjectResolver(f.proc.host, probe, f.clock)
	private := diskFull(200, "write", "/fill", 1, f.clock.Now())
	private.MountNamespace = 4026532777
	f.engine.ObserveEvent(private)
	host := diskFull(100, "openat", "/var/lib/x", 1, f.clock.Now())
	host.MountNamespace = 4026531840
	f.engine.ObserveEvent(host)
	got := f.expect("disk_full open /", "disk_full open / (mount namespace 4026532777)")
	for _, tr := range got {
		if tr.TotalCount != 1 {
			t.Errorf("%s: %d failures, want 1 (nothing merged)", tr.Subject.Name, tr.TotalCount)
		}
	}
	if got[1].Subject.Mount.FSType != "tmpfs" || got[1].Subject.MountNamespace != 4026532777 {
		t.Errorf("private subject %+v", got[1].Subject)
	}
}

// blockingProbe answers StatInRoot only once released, as a hung filesystem would without hostfs's deadline.
type blockingProbe struct {
	probeStub
	entered, release chan struct{}
}

func (p blockingProbe) StatInRoot(pid uint32, absPath string, fs hostfs.Device) (hostfs.PathStat, error) {
	p.entered <- struct{}{}
	<-p.release
	return p.probeStub.StatInRoot(pid, absPath, fs)
}

// TestEngineLockNotHeldDuringLookups: while a subject lookup is stuck, the engine still evaluates, counts
// and takes tracking-map counts of other series.
func TestEngineLockNotHeldDuringLookups(t *testing.T) {
	f := newEngineFixture(t, nil)
	probe := blockingProbe{entered: make(chan struct{}), release: make(chan struct{})}
	f.engine.resolver = newSubjectResolver(f.proc.host, probe, systemClock{})
	observed := make(chan struct{})
	go func() {
		f.engine.ObserveEvent(diskFull(100, "openat", "/var/lib/x", 1, f.clock.Now()))
		close(observed)
	}()
	<-probe.entered
	done := make(chan struct{})
	go func() {
		f.engine.ObserveCount(refused(101, "api", "", "", 1, f.clock.Now()))
		f.engine.Evaluate()
		f.engine.Active()
		f.engine.Stats()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the engine waited for a lookup in progress")
	}
	close(probe.release)
	<-observed
}
