# syscallhealth: build, run and test the custom OpenTelemetry Collector.
SHELL := /bin/bash
export GOPROXY ?= https://proxy.golang.org
# The one clang that `make generate` uses; the committed bpf2go outputs mean builds need no clang.
CLANG ?= clang-19
LLVM_STRIP ?= llvm-strip-19

.PHONY: generate mdatagen build run test

# Regenerate the committed eBPF objects and Go bindings (needs clang-19, llvm-19, libbpf-dev).
generate:
	cd bpf && BPF2GO_CC=$(CLANG) BPF2GO_STRIP=$(LLVM_STRIP) go generate ./...

# Regenerate the receiver's internal/metadata package from metadata.yaml (mdatagen v0.159.0 from tools/).
mdatagen:
	cd receiver/syscallhealthreceiver && go tool -modfile=../../tools/go.mod mdatagen metadata.yaml
