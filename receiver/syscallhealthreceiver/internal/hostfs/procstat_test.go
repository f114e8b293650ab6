package hostfs

import "testing"

func TestParseStat(t *testing.T) {
	for _, raw := range []string{"", "4300", "4300 (api", "4300 api) S 1", "4300 (a) S x 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"} {
		if _, err := parseStat([]byte(raw)); err == nil {
			t.Errorf("parseStat(%q) succeeded, want an error", raw)
		}
	}
	// A name with spaces and parentheses.
	st, err := parseStat([]byte("77 (my (odd) name) R 5 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0"))
	if want := (ProcessStat{Comm: "my (odd) name", PPID: 5, StartTime: 4242}); err != nil || st != want {
		t.Errorf("ParseStat = %+v, %v; want %+v", st, err, want)
	}
}
