# ecssnap build and test entry points. `make test` is what CI runs (via .ci/run).

GO       ?= go
BIN      := bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
LDFLAGS  := -s -w -X github.com/ecssnap/ecssnap/agent/cli.Version=$(VERSION)
PKGS     := ./...
# The whole suite runs in a private network namespace with only loopback.
NETNS    := scripts/netns-run
TESTFLAGS ?= -race -count=1 -timeout 25m
FUZZTIME ?= 10s

.PHONY: all build test vet fmt fmt-check tidy-check lint deps demo bench fuzz clean

all: build

deps:
	$(GO) mod download

build: deps
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ecssnap ./agent/cmd/ecssnap
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ecssnap-emu ./agent/cmd/ecssnap-emu
	ln -sf ecssnap $(BIN)/snapshot-now

# Modules are fetched outside the namespace (it has no route to the proxy);
# the binaries used by end-to-end tests are built first for the same reason.
test: deps
	$(NETNS) $(GO) test $(TESTFLAGS) $(PKGS)

vet:
	$(GO) vet $(PKGS)
	GOOS=darwin $(GO) vet $(PKGS)

fmt:
	gofmt -w agent pkg

fmt-check:
	@out=$$(gofmt -l agent pkg); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

tidy-check:
	$(GO) mod tidy -diff

lint: fmt-check vet tidy-check

# Short runs of every fuzz target (one package and target at a time, as go test requires).
fuzz: deps
	@scripts/fuzz-all $(FUZZTIME)

clean:
	rm -rf $(BIN) bench/results.json

# The main job against the built-in emulator, as a user would see it.
demo: build
	scripts/demo

# Figures for the speed targets: discovery on the 64-disk, 200-mount fixture
# (target under 20 ms) and the freeze window for 1, 4 and 16 loop
# filesystems at 50 ms API latency (target: held-ms at most 55; needs root);
# the daemon's idle RSS (at most 20 MB) and wakeups, and a new client's
# time to its first answer (at most 20 ms).
BENCHPKGS ?= ./pkg/topology/ ./pkg/job/ ./agent/cli/ ./pkg/localapi/
bench: deps
	$(NETNS) $(GO) test -run '^$$' -bench . -benchmem $(BENCHPKGS)
