//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
)

// receivers holds the instance each component ID shares between its logs and metrics pipelines, so the
// kernel programs are loaded once.
var receivers = newSharedReceivers()

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return receivers.acquire(set, cfg.(*Config), func(r *syscallHealthReceiver) { r.nextLogs = next })
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	return receivers.acquire(set, cfg.(*Config), func(r *syscallHealthReceiver) { r.nextMetrics = next })
}
