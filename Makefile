# mautrix-msn build and test targets. `make test` is exactly what CI runs.

GO          ?= go
TAGS        ?= goolm
export CGO_ENABLED = 1
# Pinned staticcheck (supports Go 1.26); `go run` fetches it through the module proxy.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 10s
TESTTIMEOUT ?= 25m
GOBIN_DIR   := $(shell $(GO) env GOPATH)/bin
DENDRITE_BIN ?= $(GOBIN_DIR)/dendrite
export DENDRITE_BIN

.PHONY: all build test vet staticcheck gofmt lint unit fuzz compose demo dendrite bench clean

all: build

## build: compile every command (bridge, msncli, demo stack)
build:
	$(GO) build -tags $(TAGS) ./cmd/...

## test: everything CI checks: vet, staticcheck, gofmt, compose file, race tests (e2e included), short fuzz runs
test: lint compose unit fuzz

vet:
	$(GO) vet -tags $(TAGS) ./...

staticcheck:
	$(STATICCHECK) -tags $(TAGS) ./...

## lint: static checks only (vet, staticcheck, gofmt)
lint: vet staticcheck gofmt

gofmt:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

## unit: the race-enabled test run of every package, e2e included (needs Dendrite; see docs/testing.md)
unit:
	$(GO) test -race -tags $(TAGS) -timeout $(TESTTIMEOUT) ./...

## fuzz: run every Fuzz target for $(FUZZTIME); new targets are found automatically
fuzz:
	GO="$(GO)" TAGS="$(TAGS)" FUZZTIME="$(FUZZTIME)" bash .ci/fuzz.sh

## compose: validate docker-compose.yml (no Docker engine needed); required in CI
compose:
	@if command -v docker-compose >/dev/null 2>&1; then \
		docker-compose -f docker-compose.yml config -q && echo "docker-compose.yml is valid"; \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "docker-compose is not installed (apt-get install docker-compose)"; exit 1; \
	else \
		echo "skipping docker-compose.yml validation: docker-compose not installed"; \
	fi

## dendrite: install the e2e homeserver (Dendrite v0.13.8) into GOPATH/bin
dendrite:
	$(GO) install github.com/matrix-org/dendrite/cmd/dendrite@v0.13.8

## demo: run the whole stack locally (Dendrite, fake MSN server, bridge); Ctrl-C stops it
demo:
	$(GO) run -tags $(TAGS) ./cmd/msn-demo

## bench: the load harness against the sink homeserver (docs/performance.md);
## e.g. make bench BENCHFLAGS="-homeserver dendrite -logins 100"
BENCHFLAGS ?= -logins 100,1000 -json load-report.json
bench:
	$(GO) run -tags $(TAGS) ./cmd/msn-load $(BENCHFLAGS)

clean:
	rm -f mautrix-msn msncli msn-demo
