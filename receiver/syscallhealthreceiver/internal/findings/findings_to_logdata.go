package findings

import (
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// EventName of every finding record.
const EventName = "syscallhealth.issue"

const (
	attrKind               = "syscallhealth.issue.kind"
	attrState              = "syscallhealth.issue.state"
	attrSubject            = "syscallhealth.issue.subject"
	attrID                 = "syscallhealth.issue.id"
	attrResolution         = "syscallhealth.issue.resolution"
	attrFailureCount       = "syscallhealth.issue.failure_count"
	attrFailureRate        = "syscallhealth.issue.failure_rate"
	attrWindowSeconds      = "syscallhealth.issue.window_seconds"
	attrTotalCount         = "syscallhealth.issue.total_count"
	attrFirstSeen          = "syscallhealth.issue.first_seen"
	attrLastSeen           = "syscallhealth.issue.last_seen"
	attrAffectedProcesses  = "syscallhealth.issue.affected_processes"
	attrAffectedContainers = "syscallhealth.issue.affected_containers"
	attrSamplePIDs         = "syscallhealth.issue.sample_pids"
	attrSampleExecutables  = "syscallhealth.issue.sample_executables"
	attrSampleContainerIDs = "syscallhealth.issue.sample_container_ids"
	attrSyscalls           = "syscallhealth.issue.syscalls"
	attrErrnos             = "syscallhealth.issue.errnos"
	attrQuietSeconds       = "syscallhealth.issue.quiet_period_seconds"
	attrCgroup             = "syscallhealth.issue.cgroup"
	attrPidsMax            = "syscallhealth.issue.pids_max"
	attrRlimitNproc        = "syscallhealth.issue.rlimit_nproc"
	attrTaskLimit          = "syscallhealth.issue.task_limit"
	attrErrorType          = "error.type"
	attrMountPoint         = "system.filesystem.mountpoint"
	attrFilesystemType     = "system.filesystem.type"
	attrDevice             = "system.device"
	attrFilePath           = "file.path"
	attrProcessPID         = "process.pid"
	attrExecutableName     = "process.executable.name"
	attrContainerID        = "container.id"
	attrUserID             = "user.id"
	attrPeerAddress        = "network.peer.address"
	attrPeerPort           = "network.peer.port"
	attrLocalAddress       = "network.local.address"
	attrLocalPort          = "network.local.port"
)

// FillLogRecord writes a transition into an empty log record: the one place finding
// records are built. Findings describe the host, so the receiver puts them under its
// host resource (host.name, os.type); process details are attributes.
func FillLogRecord(t *Transition, lr plog.LogRecord) {
	ts := pcommon.NewTimestampFromTime(t.Time)
	lr.SetTimestamp(ts)
	lr.SetObservedTimestamp(ts)
	lr.SetEventName(EventName)
	lr.SetSeverityNumber(t.Severity.Number())
	lr.SetSeverityText(t.Severity.String())
	lr.Body().SetStr(t.Body)

	attrs := lr.Attributes()
	attrs.EnsureCapacity(24)
	attrs.PutStr(attrKind, t.Kind.String())
	attrs.PutStr(attrState, t.State.String())
	attrs.PutStr(attrSubject, t.Subject.Name)
	attrs.PutStr(attrID, t.ID)
	if t.Resolution != "" {
		attrs.PutStr(attrResolution, t.Resolution)
		attrs.PutDouble(attrQuietSeconds, t.QuietPeriod.Seconds())
	}
	attrs.PutInt(attrFailureCount, int64(t.WindowCount))
	attrs.PutDouble(attrFailureRate, t.Rate)
	attrs.PutDouble(attrWindowSeconds, t.Window.Seconds())
	attrs.PutInt(attrTotalCount, int64(t.TotalCount))
	if !t.FirstSeen.IsZero() {
		attrs.PutStr(attrFirstSeen, t.FirstSeen.UTC().Format(time.RFC3339Nano))
	}
	if !t.LastSeen.IsZero() {
		attrs.PutStr(attrLastSeen, t.LastSeen.UTC().Format(time.RFC3339Nano))
	}
	attrs.PutInt(attrAffectedProcesses, int64(t.AffectedProcesses))
	attrs.PutInt(attrAffectedContainers, int64(t.AffectedContainers))
	putSamples(t.Samples, attrs)
	if len(t.Errnos) > 0 {
		attrs.PutStr(attrErrorType, t.Errnos[0])
		putStrings(attrs, attrErrnos, t.Errnos)
	}
	putStrings(attrs, attrSyscalls, t.Syscalls)
	putSubject(t, attrs)
}

func putSamples(samples []ProcessSample, attrs pcommon.Map) {
	if len(samples) == 0 {
		return
	}
	pids := attrs.PutEmptySlice(attrSamplePIDs)
	exes := attrs.PutEmptySlice(attrSampleExecutables)
	var containers []string
	for _, s := range samples {
		pids.AppendEmpty().SetInt(int64(s.PID))
		exes.AppendEmpty().SetStr(s.Executable)
		if s.ContainerID != "" {
			containers = append(containers, s.ContainerID)
		}
	}
	putStrings(attrs, attrSampleContainerIDs, containers)
}

func putSubject(t *Transition, attrs pcommon.Map) {
	s := t.Subject
	switch s.Type {
	case SubjectMount:
		attrs.PutStr(attrMountPoint, s.Mount.MountPoint)
		putNonEmpty(attrs, attrFilesystemType, s.Mount.FSType)
		putNonEmpty(attrs, attrDevice, s.Mount.Source)
		putNonEmpty(attrs, attrFilePath, t.Path)
	case SubjectDevice:
		attrs.PutStr(attrDevice, s.Path)
		putNonEmpty(attrs, attrFilePath, t.Path)
	case SubjectUnknownMount, SubjectUnknownAddress, SubjectUnknownAccess, SubjectUnknownLimit:
		putNonEmpty(attrs, attrExecutableName, s.Executable)
		putNonEmpty(attrs, attrFilePath, t.Path)
	case SubjectProcess:
		attrs.PutInt(attrProcessPID, int64(s.PID))
		putNonEmpty(attrs, attrExecutableName, s.Executable)
		putNonEmpty(attrs, attrContainerID, s.ContainerID)
	case SubjectCgroup:
		attrs.PutStr(attrCgroup, s.Cgroup)
		attrs.PutInt(attrPidsMax, s.Limit)
		putNonEmpty(attrs, attrContainerID, s.ContainerID)
	case SubjectUser:
		attrs.PutStr(attrUserID, strconv.FormatUint(uint64(s.UID), 10))
		attrs.PutInt(attrRlimitNproc, s.Limit)
	case SubjectHostTasks:
		attrs.PutInt(attrTaskLimit, s.Limit)
	case SubjectPeer:
		putAddress(attrs, attrPeerAddress, attrPeerPort, s)
	case SubjectLocal:
		putAddress(attrs, attrLocalAddress, attrLocalPort, s)
	case SubjectAccess:
		putNonEmpty(attrs, attrExecutableName, s.Executable)
		putNonEmpty(attrs, attrFilePath, s.Path)
		if s.Address.IsValid() {
			if s.AddressIsLocal {
				putAddress(attrs, attrLocalAddress, attrLocalPort, s)
			} else {
				putAddress(attrs, attrPeerAddress, attrPeerPort, s)
			}
		}
	}
}

func putAddress(attrs pcommon.Map, addressKey, portKey string, s Subject) {
	attrs.PutStr(addressKey, s.Address.Addr().Unmap().String())
	attrs.PutInt(portKey, int64(s.Address.Port()))
}

func putNonEmpty(attrs pcommon.Map, key, value string) {
	if value != "" {
		attrs.PutStr(key, value)
	}
}

func putStrings(attrs pcommon.Map, key string, values []string) {
	if len(values) == 0 {
		return
	}
	slice := attrs.PutEmptySlice(key)
	slice.EnsureCapacity(len(values))
	for _, v := range values {
		slice.AppendEmpty().SetStr(v)
	}
}

// Number is the log record severity number of s.
func (s Severity) Number() plog.SeverityNumber {
	switch s {
	case SeverityInfo:
		return plog.SeverityNumberInfo
	case SeverityWarn:
		return plog.SeverityNumberWarn
	case SeverityError:
		return plog.SeverityNumberError
	default:
		return plog.SeverityNumberUnspecified
	}
}
