// Package image_test checks what `make image` builds from: the Containerfile's shape and a collector that
// runs FROM scratch (statically linked: no ELF interpreter, no shared libraries).
package image_test

import (
	"debug/elf"
	"os"
	"slices"
	"strings"
	"testing"
)

const collectorPath = "../../bin/otelcol-syscallhealth"

func TestContainerfile(t *testing.T) {
	data, err := os.ReadFile("../../Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	var instructions []string
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			instructions = append(instructions, line)
		}
	}
	want := []string{
		"FROM scratch",
		"COPY bin/otelcol-syscallhealth /otelcol-syscallhealth",
		"COPY deploy/image/config.yaml /etc/otelcol-syscallhealth/config.yaml",
		`ENTRYPOINT ["/otelcol-syscallhealth"]`,
		`CMD ["--config=/etc/otelcol-syscallhealth/config.yaml"]`,
	}
	if !slices.Equal(instructions, want) {
		t.Errorf("Containerfile:\n%s\nwant:\n%s", strings.Join(instructions, "\n"), strings.Join(want, "\n"))
	}
}

func TestCollectorIsStatic(t *testing.T) {
	f, err := elf.Open(collectorPath)
	if err != nil {
		t.Fatalf("%v: run `make build` first (`make test` builds it)", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the collector has an ELF interpreter: it is dynamically linked and cannot run FROM scratch (build with CGO_ENABLED=0)")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("the collector needs shared libraries %v (%v): it cannot run FROM scratch", libs, err)
	}
}
