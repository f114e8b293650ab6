# syscallhealth: build, run and test the custom OpenTelemetry Collector.
SHELL := /bin/bash
# The one clang that `make generate` uses; the committed bpf2go outputs mean builds need no clang.
CLANG ?= clang-19
LLVM_STRIP ?= llvm-strip-19

# The collector builder (ocb), pinned to the collector release in go.mod.
OCB_VERSION := v0.165.0
OCB ?= $(shell go env GOPATH)/bin/builder
COLLECTOR := bin/otelcol-syscallhealth
TRIGGER := bin/syscallhealth-trigger
# The container image of `make image` and the engine that builds it: podman, or docker when podman is
# missing and a docker daemon answers.
IMAGE ?= localhost/otelcol-syscallhealth:latest
CONTAINER_ENGINE ?= $(shell command -v podman >/dev/null && echo podman || { docker info >/dev/null 2>&1 && echo docker; })
# Everything the collector binary is built from: the manifest, go.mod/go.sum and the Go sources and eBPF
# objects of this module's packages that the receiver depends on.
COLLECTOR_PACKAGES = $(shell go list -deps -f '{{if and .Module .Module.Main}}{{.Dir}}{{end}}' ./receiver/syscallhealthreceiver)
COLLECTOR_INPUTS = builder-config.yaml go.mod go.sum $(filter-out %_test.go,$(foreach d,$(COLLECTOR_PACKAGES),$(wildcard $(d)/*.go $(d)/*.o)))

.PHONY: generate errno-table check-bpf mdatagen build run require-root test test-kernels bench record-trace clean FORCE

# Regenerate the committed eBPF objects and Go bindings (needs clang-19 and llvm-19). The libbpf headers
# are pinned in bpf/include and nothing else is included (-nostdinc), so the objects are the same byte for
# byte on any host, with or without libbpf-dev.
generate:
	@command -v $(CLANG) >/dev/null && command -v $(LLVM_STRIP) >/dev/null || \
		{ echo "make generate needs $(CLANG) and $(LLVM_STRIP): apt-get install clang-19 llvm-19"; exit 1; }
	cd bpf && BPF2GO_CC=$(CLANG) BPF2GO_STRIP=$(LLVM_STRIP) go generate -skip errnogen ./...

# Regenerate bpf/errno_table.go from the kernel's UAPI errno headers (linux-libc-dev) and the C library's
# strerror texts (a cgo program: needs gcc). Kept out of `make generate`, whose output must not depend on the host.
errno-table:
	cd bpf && go generate -run errnogen .

# The C side's checks (CI runs them): every header of bpf/ compiles on its own and included twice, for both
# targets, and `make generate` reproduces the committed objects and bindings byte for byte.
BPF_HEADERS = $(wildcard bpf/*.h)
check-bpf: generate
	@for arch in x86 arm64; do for h in $(notdir $(BPF_HEADERS)); do \
		printf '#include "%s"\n#include "%s"\n' $$h $$h | \
		$(CLANG) -target bpf -D__TARGET_ARCH_$$arch -nostdinc -Ibpf/include -Ibpf -Wall -Werror \
			-Wno-unused-function -fsyntax-only -x c - || { echo "bpf/$$h does not compile on its own ($$arch)"; exit 1; }; \
	done; done
	@git diff --exit-code --stat -- 'bpf/*_bpfel.go' 'bpf/*_bpfel.o' || \
		{ echo "make generate changed the committed eBPF objects: commit them with the C sources they come from"; exit 1; }

# Regenerate the receiver's internal/metadata package from metadata.yaml (mdatagen v0.159.0 from tools/).
mdatagen:
	cd receiver/syscallhealthreceiver && go tool -modfile=../../tools/go.mod mdatagen metadata.yaml

# Build the custom collector with ocb into build/ and copy it to bin/ (skipped when nothing changed).
build: $(COLLECTOR) $(TRIGGER)

# GOFLAGS=-e: ocb's `go mod tidy` also resolves the tests of every component, and k8sattributesprocessor's
# tests import pkg/semconvtest, which the module proxy does not serve; -e reports that and goes on (a
# package the binary itself needs and cannot get still fails the compile). ocb builds with CGO_ENABLED=0:
# the binary is static, so the image needs no base.
$(COLLECTOR): $(COLLECTOR_INPUTS) | $(OCB)
	GOFLAGS="-e $$(go env GOFLAGS)" $(OCB) --config=builder-config.yaml
	@# Replace rather than overwrite: a running collector keeps its old binary ("text file busy").
	mkdir -p bin && cp build/otelcol-syscallhealth $@.new && mv $@.new $@

# The OCI image (Containerfile): FROM scratch, the collector and deploy/image/config.yaml (the agent).
.PHONY: image
image: $(COLLECTOR)
	@test -n "$(CONTAINER_ENGINE)" || { echo "make image needs podman (apt-get install podman) or a running docker daemon"; exit 1; }
	$(CONTAINER_ENGINE) build -f Containerfile -t $(IMAGE) .

$(OCB):
	go install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)

# The CLI that causes exactly N real syscall failures (README, end-to-end tests, record-trace).
# Always handed to go build, whose cache makes an unchanged rebuild instant.
$(TRIGGER): FORCE
	mkdir -p bin && go build -o $@ ./cmd/syscallhealth-trigger

FORCE:

# Run the collector on this host with config/default.yaml: failures go to the console and ./syscallhealth-{logs,metrics}.json.
run: require-root build
	$(COLLECTOR) --config=config/default.yaml

require-root:
	@if [ "$$(id -u)" != 0 ]; then \
		echo 'make run: not root. Loading the eBPF probes needs root (or CAP_BPF and CAP_PERFMON, see README'; \
		echo '"Least privilege"). Run it as root, e.g. sudo env "PATH=$$PATH" make run'; exit 1; fi

# Every test: unit, kernel (root) and end-to-end tests against the built collector (root).
test: build
	@if [ "$$(id -u)" != 0 ]; then \
		echo 'make test: WARNING: not root, so the kernel and end-to-end tests will be SKIPPED.'; \
		echo 'Run them as root, e.g. sudo env "PATH=$$PATH" make test'; fi
	go vet ./...
	@# One package at a time: the kernel and end-to-end packages each load probes and cause real failures, and
	@# an asynchronous ETIMEDOUT check of bpf lost its count once while e2e ran beside it (never alone, 8 of 8).
	go test -count=1 -p 1 -timeout 30m ./...
	@# The Go benchmarks run as smoke tests: a few iterations each, nothing timed or asserted.
	go test -count=1 -run '^$$' -bench . -benchtime 20x ./...
	@# deploy/ is a module of its own (the Kubernetes API types stay out of the collector's module).
	cd deploy && go vet ./... && go test -count=1 ./...

# Measure the overhead side by side in one run and write BENCHMARKS.md (root; about 15 minutes).
BENCH_TOOLS := bpftrace nginx wrk gnuplot
bench: require-root build
	@missing=$$(for t in $(BENCH_TOOLS); do command -v $$t >/dev/null || echo $$t; done); \
	if [ -n "$$missing" ]; then echo "installing $$missing"; \
		apt-get install -y --no-install-recommends bpftrace nginx-light wrk gnuplot-nox; fi
	go build -o bin/syscallhealth-bench ./cmd/syscallhealth-bench
	bin/syscallhealth-bench -collector $(COLLECTOR) -out BENCHMARKS.md -plot docs/bench-overhead.png

# The kernel matrix (root, qemu): the kernel tests and the collector on Debian's 5.10, 6.1 and 6.12 (amd64) and
# 6.1 (arm64) kernels, each booted under qemu; prints a table kernel x check. Kernels are cached in
# /var/cache/syscallhealth-kernels; KERNELS="6.1-amd64 ..." picks some of test/kernels/kernels.list.
test-kernels: require-root build
	go run ./test/kernels/matrix $(KERNELS)

# Record real kernel events (caused by the trigger scenarios) into the receiver's decoding fixture (root).
record-trace: $(TRIGGER)
	go run ./cmd/syscallhealth-record -trigger $(TRIGGER) -o receiver/syscallhealthreceiver/testdata/health_trace.json

clean:
	rm -rf bin build syscallhealth-logs.json syscallhealth-metrics.json
