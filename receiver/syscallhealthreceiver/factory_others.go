//go:build !linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"context"
	"fmt"
	"runtime"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
)

func errUnsupportedPlatform() error {
	return fmt.Errorf("the syscallhealth receiver watches the Linux kernel with eBPF and runs only on Linux; this collector runs on %s: remove the receiver from this configuration", runtime.GOOS)
}

func createLogs(context.Context, receiver.Settings, component.Config, consumer.Logs) (receiver.Logs, error) {
	return nil, errUnsupportedPlatform()
}

func createMetrics(context.Context, receiver.Settings, component.Config, consumer.Metrics) (receiver.Metrics, error) {
	return nil, errUnsupportedPlatform()
}
