# cab: change tickets as code. `make demo` shows it working; `make test` runs the tests.
SHELL := /bin/bash
GO ?= go
BIN := bin/cab

.PHONY: all build test demo bench bench-scale verify fuzz soak clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/cab

## test: vet, unit and end-to-end tests (race detector on; the memory-limit tests again without it,
## since race builds cannot run under a memory limit), and one pass over every benchmark. The long
## fault and concurrency tests run at a size that fits a busy 2-core machine (15 SIGKILLs, 30 tickets
## raced, 10 ledger races); `make test-full` runs them at full size. Go's default 10-minute
## ceiling per package is a fixed wall-clock limit: cmd/cab under the race detector nears it when
## the other core is busy, so the bound is 30 minutes (a hang still ends, with every stack dumped).
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...
	$(GO) test -count=1 -run 'Memory|Budget' ./internal/sandbox ./validate
	$(GO) test -short -run '^$$' -bench . -benchtime 1x ./...

## test-full: the fault and concurrency tests at full size, without the race detector: the reconciler
## killed with SIGKILL 100 times over 20 tickets, two reconcilers racing over 200 tickets, two ledger
## writers racing 50 times, two cab sign jobs racing 50 times (CAB_TEST_FULL=1, see internal/testsize). CI runs it after make test.
.PHONY: test-full
test-full:
	CAB_TEST_FULL=1 $(GO) test -count=1 -run 'SIGKILL|TwoReconcilers' -v ./reconcile
	CAB_TEST_FULL=1 $(GO) test -count=1 -run 'ConcurrentWriters' -v ./ledger
	CAB_TEST_FULL=1 $(GO) test -count=1 -run 'RunSignsOnceAndRecordsBypasses' -v ./sign

## e2e: end-to-end tests of cab sign and cab reconcile (e2e/, build tag e2e) against Debian's
## docker-registry and git http-backend on loopback; .ci/install-e2e.sh installs them
.PHONY: e2e
e2e:
	CAB_REQUIRE_E2E=1 $(GO) test -race -count=1 -timeout 30m -tags e2e ./e2e

## conformance: cab's real outputs from an end-to-end run, fed to the real tools that read them
## (cosign, an in-toto validator, promtool, the SARIF/Code Quality/JUnit schemas, actionlint,
## gitlab-ci-local, kustomize, git fsck, crane, the Nu HTML checker, axe-core in Chromium), and the
## release image pushed to docker-registry and run; .ci/install-conformance.sh installs the tools
## (the release is built for linux only here, which the image needs: the darwin builds are the same
## code cross-compiled, and CI time is better spent elsewhere)
.PHONY: conformance
conformance: build
	PLATFORMS="linux/amd64 linux/arm64" bash release/build.sh
	bash conformance/run.sh $(BIN)
	PLATFORMS="linux/amd64 linux/arm64" bash release/reproducible.sh

## release: static binaries for linux and darwin on amd64 and arm64, a CycloneDX SBOM and
## SHA256SUMS in dist/ (VERSION and COMMIT stamped as main.releaseVersion and main.releaseCommit; reproducible);
## release-image pushes the container image (IMAGE=registry/repo:tag) built from them without Docker
.PHONY: release release-image
release:
	bash release/build.sh

release-image: release
	$(GO) run ./release/image --dist dist --version "$$(git describe --tags --always --dirty 2>/dev/null || echo dev)" \
		--commit "$$(git rev-parse HEAD 2>/dev/null || echo unknown)" --push "$(IMAGE)"

## demo: scaffold a change repository in a temp dir and show failing and passing checks
demo: build
	$(GO) build -o bin/demoenv ./examples/demoenv
	bash examples/demo.sh $(BIN) bin/demoenv

## soak: cab serve for CAB_SOAK (default 10m) under webhook storms, flapping and hanging targets,
## a ledger remote that declines then accepts, and SIGKILLs (make test runs the 30s version);
## needs git and ssh-keygen (.ci/install-e2e.sh). Figures in bench/RESULTS.md
CAB_SOAK ?= 10m
soak:
	CAB_SOAK=$(CAB_SOAK) $(GO) test -count=1 -timeout 0 -run '^TestServeSoak$$' -v ./cmd/cab

## bench: Go benchmarks and comparisons against real peers (see bench/RESULTS.md)
bench: build
	bash bench/run.sh

## bench-sign: cab sign of N new merges then cab verify, every signature verified (bench/sign.sh;
## SIGN_MERGES="100 500 1000" by default, e.g. make bench-sign SIGN_MERGES=5000; with
## SIGN_INCREMENTAL=20, only the last 20 merges are timed, on top of a ledger of the others)
.PHONY: bench-sign bench-pr bench-sign-one
bench-sign: build
	SIGN_MERGES="$(or $(SIGN_MERGES),100 500 1000)" bash bench/sign.sh

## bench-pr: the PR gate for one ticket on real histories of 1k, 10k and 100k commits
## (BenchmarkCheckPR; the repositories are generated once under bench/.repos)
bench-pr:
	$(GO) test -run '^$$' -bench '^BenchmarkCheckPR$$' -benchtime 10x ./validate

## bench-startup: what a cab process costs before it works: `cab --help` and a warm `cab log --id`
## beside `git --version` (wall, CPU, instructions) and package init by size (bench/startup.sh;
## BASE=path/to/other/cab times a second build alternately)
.PHONY: bench-startup
bench-startup: build
	bash bench/startup.sh

## bench-sign-one: cab sign of the one new merge on a 100k-commit history whose ledger records
## every merge before it, warm and cold caches, every signature then verified (bench/sign-one.sh)
bench-sign-one: build
	bash bench/sign-one.sh

## bench-scale: issue 12's scale targets for cab verify and a reconcile pass (bench/scale.sh)
bench-scale:
	bash bench/scale.sh

## verify: formatting, vet and a tidy go.mod; fails on a dirty tree
verify:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"
	$(GO) vet ./...
	$(GO) mod tidy -diff

## fuzz: run every fuzz target of the tree for FUZZTIME (default 30s) each; the list is generated
## from the source by .ci/fuzz.sh, and internal/treetest fails when it would miss one
FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash .ci/fuzz.sh

clean:
	rm -rf bin dist
