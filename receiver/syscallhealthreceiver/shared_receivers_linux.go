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

// sharedReceiver counts the pipeline handles of one receiver: it starts with the first Start and shuts
// down when the last handle shuts down.
type sharedReceiver struct {
	id       component.ID
	receiver *syscallHealthReceiver
	handles  int
	started  bool
	startErr error
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
	shared.handles++
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

func (s *sharedReceivers) release(ctx context.Context, shared *sharedReceiver) error {
	s.mu.Lock()
	shared.handles--
	last := shared.handles == 0
	if last && s.byID[shared.id] == shared {
		delete(s.byID, shared.id)
	}
	s.mu.Unlock()
	if !last {
		return nil
	}
	return shared.receiver.Shutdown(ctx)
}

// receiverHandle is what one pipeline holds; its Shutdown counts once however often it is called.
type receiverHandle struct {
	registry *sharedReceivers
	shared   *sharedReceiver
	once     sync.Once
	err      error
}

func (h *receiverHandle) Start(ctx context.Context, host component.Host) error {
	return h.registry.start(ctx, h.shared, host)
}

func (h *receiverHandle) Shutdown(ctx context.Context) error {
	h.once.Do(func() { h.err = h.registry.release(ctx, h.shared) })
	return h.err
}
