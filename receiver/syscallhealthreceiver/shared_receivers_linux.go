//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/receiver"
)

// sharedReceivers maps each component ID to the one receiver its pipelines share. The collector's own
// sharedcomponent package is internal to the collector module, hence this small registry.
type sharedReceivers struct {
	mu   sync.Mutex
	byID map[component.ID]*sharedReceiver
}

// sharedReceiver is one receiver and the pipelines using it: it starts with the first Start and shuts down
// with the first Shutdown, while the components downstream of every pipeline still run (the collector
// shuts receivers down before what they feed), so its last counts and records reach them.
type sharedReceiver struct {
	id       component.ID
	receiver *syscallHealthReceiver
	started  bool
	startErr error
	stopped  bool
}

func newSharedReceivers() *sharedReceivers {
	return &sharedReceivers{byID: make(map[component.ID]*sharedReceiver)}
}

// acquire returns a handle on the receiver of set.ID, creating it for the first pipeline; attach wires the
// pipeline's consumer.
func (s *sharedReceivers) acquire(set receiver.Settings, cfg *Config, attach func(*syscallHealthReceiver)) (*receiverHandle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	shared, ok := s.byID[set.ID]
	if !ok {
		r, err := newSyscallHealthReceiver(cfg, set)
		if err != nil {
			return nil, err
		}
		shared = &sharedReceiver{id: set.ID, receiver: r}
		s.byID[set.ID] = shared
	}
	attach(shared.receiver)
	return &receiverHandle{registry: s, shared: shared}, nil
}

func (s *sharedReceivers) start(ctx context.Context, shared *sharedReceiver, host component.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !shared.started {
		shared.started = true
		shared.startErr = shared.receiver.Start(ctx, host)
	}
	return shared.startErr
}

// stop shuts the receiver down on the first call and forgets it, so a collector reload creates a new one.
func (s *sharedReceivers) stop(ctx context.Context, shared *sharedReceiver) error {
	s.mu.Lock()
	if shared.stopped {
		s.mu.Unlock()
		return nil
	}
	shared.stopped = true
	if s.byID[shared.id] == shared {
		delete(s.byID, shared.id)
	}
	s.mu.Unlock()
	return shared.receiver.Shutdown(ctx)
}

// receiverHandle is what one pipeline holds.
type receiverHandle struct {
	registry *sharedReceivers
	shared   *sharedReceiver
}

func (h *receiverHandle) Start(ctx context.Context, host component.Host) error {
	return h.registry.start(ctx, h.shared, host)
}

func (h *receiverHandle) Shutdown(ctx context.Context) error {
	return h.registry.stop(ctx, h.shared)
}
