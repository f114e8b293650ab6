package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"fmt"
	"strconv"
	"strings"
)

// ByteSize is a size in bytes that configuration files may write as a plain number (1048576) or with a
// binary unit (1MiB, 512KiB, 1GiB).
type ByteSize int64

var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"GiB", 1 << 30},
	{"MiB", 1 << 20},
	{"KiB", 1 << 10},
	{"B", 1},
}

// UnmarshalText parses "4MiB", "512KiB" or "1048576".
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	factor := int64(1)
	for _, u := range byteUnits {
		if trimmed, ok := strings.CutSuffix(s, u.suffix); ok {
			s, factor = strings.TrimSpace(trimmed), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/factor {
		return fmt.Errorf("invalid size %q: write a number of bytes or use KiB, MiB, GiB (e.g. 1MiB)", string(text))
	}
	*b = ByteSize(n * factor)
	return nil
}

// MarshalText writes the size with the largest binary unit that divides it exactly.
func (b ByteSize) MarshalText() ([]byte, error) {
	return []byte(b.String()), nil
}

func (b ByteSize) String() string {
	for _, u := range byteUnits[:3] {
		if b != 0 && int64(b)%u.factor == 0 {
			return strconv.FormatInt(int64(b)/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}
