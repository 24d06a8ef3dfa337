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

.PHONY: all build test vet fmt fmt-check tidy-check binaries-check lint deps deps-package deps-sdkcompat demo bench fuzz clean
.PHONY: package chroot-test pm-test ansible-test
.PHONY: fleet
.PHONY: soak
.PHONY: abuse
.PHONY: sdk-compat
.PHONY: consistency

all: build

# Every module the root module's build, tests and `go mod tidy` need (all:
# tidy also loads the tests of dependencies, which a plain `go mod
# download` leaves out), so that they work offline after it. The other
# modules' downloads are separate targets, so that `make demo` fetches
# nothing only lint, sdk-compat or packaging need; after all three,
# `GOPROXY=off GOFLAGS=-mod=mod make lint` works. `download all` would add
# a checksum of every module to go.sum, which tidy then removes:
# download_all DIR works on copies of go.mod and go.sum.
download_all = tmp=$$(mktemp -d) && cp $(1)/go.mod $(1)/go.sum "$$tmp"/ && \
	(cd $(1) && $(GO) mod download -modfile="$$tmp/go.mod" all); rc=$$?; rm -rf "$$tmp"; exit $$rc
deps:
	@$(call download_all,.)

# The SDK compatibility module's (pkg/ecsemu/sdkcompat): its tidy check in
# make lint.
deps-sdkcompat:
	@$(call download_all,pkg/ecsemu/sdkcompat)

# nfpm's modules (packaging/tools), which only make package and the package
# tests need; they build packages offline.
deps-package:
	@$(call download_all,packaging/tools)

build: deps
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ecssnap ./agent/cmd/ecssnap
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ecssnap-emu ./agent/cmd/ecssnap-emu
	ln -sf ecssnap $(BIN)/snapshot-now

# Modules are fetched outside the namespace (it has no route to the proxy).
# go test's output goes through ecssnap-testsummary (agent/harness/
# testsummary): the package lines and failing tests' output as go test
# prints them, then every skipped test with its reason and the closing line
# "tests: N passed, N failed, N skipped"; the exit status is go test's.
test: deps deps-package
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ecssnap-testsummary ./agent/harness/cmd/ecssnap-testsummary
	$(NETNS) $(BIN)/ecssnap-testsummary $(GO) test -json $(TESTFLAGS) $(PKGS)

vet:
	$(GO) vet $(PKGS)
	GOOS=darwin $(GO) vet $(PKGS)

fmt:
	gofmt -w agent pkg packaging

fmt-check:
	@out=$$(gofmt -l agent pkg packaging); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

tidy-check:
	$(GO) mod tidy -diff
	cd pkg/ecsemu/sdkcompat && $(GO) mod tidy -diff

# A tracked ELF file is a committed build output.
binaries-check:
	scripts/check-tracked-binaries

lint: deps deps-sdkcompat fmt-check vet tidy-check binaries-check

# Short runs of every fuzz target (one package and target at a time, as go test requires).
fuzz: deps
	@scripts/fuzz-all $(FUZZTIME)

clean:
	rm -rf $(BIN) bench/results.json bench/consistency.json

# The main job against the built-in emulator, as a user would see it.
demo: build
	scripts/demo

# --- Benchmarks (agent/harness/benchtable) ----------------------------------
# One table of figures against their targets, also written to
# bench/results.json: the freeze window for 1, 4, 16 loop filesystems beside
# the sequential freeze-create-thaw baseline (held, and the agent's share
# without the kernel's FIFREEZE/FITHAW), snapshot-now start to all created
# in process and through the daemon for 1, 4, 16 disks, the --no-wait
# caller's wall time, API calls per job, the hook's added time (a job of its
# own, and coalesced), the daemon's idle RSS and wakeups, the binary's size
# and discovery on the 64-disk fixture. Rows that need root show "skipped
# (needs root)" otherwise. The idle window is 5 minutes after a 30 s settle
# (ECSSNAP_BENCH_IDLE=20s ECSSNAP_BENCH_IDLE_SETTLE=5s for a quick run), so
# a run takes about ten minutes.
bench: build
	$(NETNS) $(GO) run ./agent/harness/cmd/ecssnap-bench -binary $(BIN)/ecssnap -out bench/results.json -version '$(VERSION)'

# --- Fleet simulation (agent/harness/fleet) ------------------------------------------
# FLEET_N instances (default 500), each the real job engine and cloud client
# with its own disks and metadata service, share one emulated account limited
# to 20 API calls/s, their starts spread over 1 s. Prints jobs succeeded,
# duplicate snapshots, total time against the bound calls / rate, retries,
# calls per agent, wall time and peak RSS; exits non-zero if a job failed or
# a snapshot is duplicated or missing. About three minutes at the default
# size. FLEET_FLAGS adds flags: -wait, -json, -rps, -drop-rate, ... (-h).
FLEET_N     ?= 500
FLEET_FLAGS ?=
fleet: deps
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ecssnap-fleet ./agent/harness/cmd/ecssnap-fleet
	$(NETNS) $(BIN)/ecssnap-fleet -n $(FLEET_N) $(FLEET_FLAGS)

# --- Reliability soak (agent/harness/soak) -------------------------------------------
# The real daemon (bin/ecssnap) against the emulator for SOAK_TIME (default
# 10m; CI runs 1m) under throttling, 5xx, dropped responses, metadata
# outages and SIGKILLs of the daemon and the freeze helper, on loop
# filesystems with a writer running. Prints jobs, faults, kills and the
# must-be-zero counts (duplicates, frozen past deadline, job records lost,
# data lost); exits non-zero if one is not zero. Needs root: otherwise it
# says so and is skipped (exit 77 is turned into success), except under
# CI=true, where it fails. SOAK_FLAGS adds flags: -seed, -keep, ... (-h).
SOAK_TIME  ?= 10m
SOAK_FLAGS ?=
soak: build
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ecssnap-soak ./agent/harness/cmd/ecssnap-soak
	$(NETNS) $(BIN)/ecssnap-soak -time $(SOAK_TIME) -ecssnap $(BIN)/ecssnap $(SOAK_FLAGS) || [ $$? -eq 77 ]

# --- Bad input to the local API (agent/harness/abuse) --------------------------
# The built daemon and emulator: about 50 kinds of malformed request (each
# answered 4xx with the envelope, in bounded time) and ABUSE_CONNS
# half-open connections, three rounds (the daemon must let go of them
# while the client still holds them; health answers throughout; fds back
# to rest, RSS not growing round after round). Root; about three minutes.
ABUSE_CONNS ?= 3000
abuse: build
	ECSSNAP_ABUSE_BIN=$(CURDIR)/$(BIN) ECSSNAP_ABUSE_CONNS=$(ABUSE_CONNS) $(NETNS) $(GO) test -count=1 -v -timeout 15m -run TestLocalAPIAbuse ./agent/harness/abuse

# --- Official SDKs against the emulator (pkg/ecsemu/sdkcompat) ---------------
# Alibaba Cloud's current official SDKs at their defaults drive the emulator:
# the Go Tea SDK (ecs-20140526/v7, its own module so the product never
# depends on it) and the Node.js SDK (@alicloud/ecs20140526, locked in
# node/package-lock.json), signature V3 and V1, every served action, both
# paging styles, the error paths, and (as root) the STS path through the
# metadata service at 100.100.100.200 inside a private namespace. Modules
# and npm packages are fetched first, outside the loopback-only namespace.
# Without node/npm the Node.js half is skipped with a message; under
# CI=true that is a failure.
SDKCOMPAT := pkg/ecsemu/sdkcompat
sdk-compat:
	cd $(SDKCOMPAT) && $(GO) mod download
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
		echo "cd $(SDKCOMPAT)/node && npm ci --ignore-scripts"; \
		cd $(SDKCOMPAT)/node && npm ci --ignore-scripts --no-audit --no-fund; \
	elif [ "$$CI" = true ]; then \
		echo "sdk-compat: CI=true but node and npm are not installed" >&2; exit 1; \
	else \
		echo "sdk-compat: node or npm is not installed: the Node.js SDK tests will be skipped"; \
	fi
	cd $(SDKCOMPAT) && $(GO) vet ./...
	cd $(SDKCOMPAT) && $(CURDIR)/$(NETNS) $(GO) test $(TESTFLAGS) ./...

# --- Consistency experiment (agent/harness/consistency) ---------------------
# Root. btrfs over two emulator data-plane disks (-d raid0 -m raid1), ext4
# and xfs, each under writers of fsync'd checksummed records, snapshotted by
# the documentation's per-disk procedure (one row per gap) and by
# `ecssnap now` (crash with a group; fs without a group; fs with a group).
# Each trial's snapshots become new disks whose filesystem is judged: mounts,
# btrfs scrub / e2fsck -fn / xfs_repair -n, every file read, every record
# acknowledged before the first create present and intact. Prints the table,
# writes bench/consistency.json, and fails if an ecssnap method loses a record
# or damages a filesystem, or if the per-disk procedure never damages the
# two-disk btrfs. Without root it says so and is skipped (CI=true: fails).
# About 20 minutes at 20 trials; CI runs 3.
CONSISTENCY_TRIALS ?= 20
CONSISTENCY_FLAGS  ?=
consistency: build
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ecssnap-consistency ./agent/harness/cmd/ecssnap-consistency
	$(NETNS) $(BIN)/ecssnap-consistency -trials $(CONSISTENCY_TRIALS) -ecssnap $(BIN)/ecssnap -out bench/consistency.json $(CONSISTENCY_FLAGS) || [ $$? -eq 77 ]

# --- Packages (packaging/) ---------------------------------------------------
# dist/ecssnap_<v>_{amd64,arm64}.deb and dist/ecssnap-<v>.{x86_64,aarch64}.rpm,
# <v> being packaging/pkg-version's form of VERSION; nfpm comes from the
# separate tools module packaging/tools.
PKG_ARCHS ?= amd64 arm64
DIST     ?= dist
package: deps deps-package
	GO='$(GO)' LDFLAGS='$(LDFLAGS)' DIST='$(DIST)' packaging/build-packages '$(VERSION)' $(PKG_ARCHS)

# A real apt transaction through the hook in a debootstrapped Debian, with
# the emulator as the cloud (root; the tree is cached in .cache/chroot).
chroot-test: build package
	v=$$(packaging/pkg-version '$(VERSION)') && a=$$(dpkg --print-architecture) && \
	case $$a in amd64) r=x86_64 ;; arm64) r=aarch64 ;; *) r=$$a ;; esac && \
	packaging/chroot-test '$(DIST)'/ecssnap_$${v}_$$a.deb '$(DIST)'/ecssnap-$$v.$$r.rpm

# Real dnf, zypper and pacman transactions through the hooks of the .rpm
# (packaging/pm-test): install and upgrade a small package, one job each
# started before the first change, the failure policies, the switches that
# skip. Root; each manager in a root of its own in private namespaces with
# loopback only. A missing program skips it (fails under CI=true).
pm-test: build package
	v=$$(packaging/pkg-version '$(VERSION)') && \
	case $$(dpkg --print-architecture 2>/dev/null || uname -m) in amd64|x86_64) r=x86_64 ;; arm64|aarch64) r=aarch64 ;; *) r=$$(uname -m) ;; esac && \
	packaging/pm-test '$(DIST)'/ecssnap-$$v.$$r.rpm

# The real ansible-playbook runs packaging/ansible/snapshot.yml against 21
# emulated instances of one account limited to 5 API calls/s
# (packaging/ansible-test): every host gets its snapshots, none twice, the
# report has each host's job, and a failing host fails the play. Root; a
# missing ansible-playbook skips it (fails under CI=true).
ansible-test: build package
	v=$$(packaging/pkg-version '$(VERSION)') && a=$$(dpkg --print-architecture) && \
	packaging/ansible-test '$(DIST)'/ecssnap_$${v}_$$a.deb
