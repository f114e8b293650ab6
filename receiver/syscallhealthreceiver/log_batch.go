//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	conventions "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/internal/safetext"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/findings"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

const (
	// flushInterval is the longest a failure waits in the receiver before it is handed to the pipeline.
	flushInterval = 200 * time.Millisecond
	// flushRecords is a batch size worth sending without waiting for the interval.
	flushRecords = 512
	// maxPendingRecords bounds the records waiting while the pipeline is busy; past it records are dropped
	// and counted (syscallhealth.events.dropped, reason backpressure).
	maxPendingRecords = 4096
)

// logBatch collects failure log records, grouped under one resource per process, between flushes. The
// reader goroutine adds to it while the flusher takes it.
type logBatch struct {
	host         hostInfo
	resources    metadata.ResourceAttributesConfig
	scopeVersion string

	mu     sync.Mutex
	logs   plog.Logs
	groups map[*processInfo]plog.LogRecordSlice
	// findingRecords holds the finding records, under the host resource; valid when hasFindings.
	findingRecords plog.LogRecordSlice
	hasFindings    bool
	size           int
}

func newLogBatch(host hostInfo, resources metadata.ResourceAttributesConfig, scopeVersion string) *logBatch {
	b := &logBatch{host: host, resources: resources, scopeVersion: scopeVersion}
	b.reset()
	return b
}

func (b *logBatch) reset() {
	b.logs = plog.NewLogs()
	b.groups = make(map[*processInfo]plog.LogRecordSlice)
	b.hasFindings = false
	b.size = 0
}

// addFindings queues one record per finding transition. They are few (bounded by the tracked
// subjects) and never dropped for backpressure.
func (b *logBatch) addFindings(transitions []findings.Transition) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.hasFindings {
		b.findingRecords = b.appendResource(hostResource(metadata.NewResourceBuilder(b.resources), b.host))
		b.hasFindings = true
	}
	for i := range transitions {
		findings.FillLogRecord(&transitions[i], b.findingRecords.AppendEmpty())
	}
	b.size += len(transitions)
}

// add converts one event into a record of the batch. added is false when the batch is full (the caller
// counts the drop); ready is true when the batch is worth flushing now.
func (b *logBatch) add(p *processInfo, ev *bpf.Event, names failureNames, sev plog.SeverityNumber, clock wallClock, observed time.Time) (added, ready bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.size >= maxPendingRecords {
		return false, true
	}
	records, ok := b.groups[p]
	if !ok {
		records = b.appendResource(processResource(metadata.NewResourceBuilder(b.resources), b.host, p))
		b.groups[p] = records
	}
	fillFailureRecord(records.AppendEmpty(), ev, names, sev, clock, observed)
	b.size++
	return true, b.size >= flushRecords
}

// appendResource starts the records of one resource under the receiver's scope; b.mu must be held.
func (b *logBatch) appendResource(res pcommon.Resource) plog.LogRecordSlice {
	rl := b.logs.ResourceLogs().AppendEmpty()
	rl.SetSchemaUrl(conventions.SchemaURL) // as the generated metrics builder does: the attributes follow it
	res.MoveTo(rl.Resource())
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	sl.Scope().SetVersion(b.scopeVersion)
	return sl.LogRecords()
}

// take hands over the collected records, every string escaped (safetext), and starts an empty batch.
func (b *logBatch) take() (plog.Logs, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.size == 0 {
		return plog.Logs{}, 0
	}
	logs, n := b.logs, b.size
	b.reset()
	safetext.Logs(logs)
	return logs, n
}
