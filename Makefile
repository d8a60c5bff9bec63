# mautrix-msn build and test targets. `make test` is exactly what CI runs.

GO          ?= go
TAGS        ?= goolm
export CGO_ENABLED = 1
# Pinned staticcheck (supports Go 1.26); `go run` fetches it through the module proxy.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 10s
TESTTIMEOUT ?= 25m
GOBIN_DIR   := $(shell $(GO) env GOPATH)/bin
DENDRITE_VERSION ?= v0.13.8
DENDRITE_BIN ?= $(GOBIN_DIR)/dendrite
export DENDRITE_BIN
# Where `make build` writes the commands (one binary per directory of cmd/).
BIN_DIR     ?= bin
COMMANDS    := $(notdir $(wildcard cmd/*))
DEMO_ARGS   ?=

.PHONY: all build test vet staticcheck gofmt lint unit fuzz compose demo dendrite bench clean check-make

all: build

## build: compile every command (bridge, msncli, demo stack) into bin/
build:
	$(GO) build -tags $(TAGS) -o $(BIN_DIR)/ ./cmd/...

## test: everything CI checks: vet, staticcheck, gofmt, compose file, the Makefile itself, race tests (e2e included), short fuzz runs
test: lint compose check-make unit fuzz

vet:
	$(GO) vet -tags $(TAGS) ./...

staticcheck:
	$(STATICCHECK) -tags $(TAGS) ./...

## lint: static checks only (vet, staticcheck, gofmt)
lint: vet staticcheck gofmt

gofmt:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

## unit: the race-enabled test run of every package, e2e included (installs Dendrite first when missing)
unit: dendrite
	$(GO) test -race -tags $(TAGS) -timeout $(TESTTIMEOUT) ./...

## check-make: .ci/check-make.sh checks this Makefile's build, clean, dendrite and demo behaviour
check-make: dendrite
	GO="$(GO)" bash .ci/check-make.sh

## fuzz: run every Fuzz target for $(FUZZTIME); new targets are found automatically
fuzz:
	GO="$(GO)" TAGS="$(TAGS)" FUZZTIME="$(FUZZTIME)" bash .ci/fuzz.sh

## compose: validate docker-compose.yml (no Docker engine needed); required in CI
compose:
	@if command -v docker-compose >/dev/null 2>&1; then \
		MSN_POSTGRES_PASSWORD=compose-check docker-compose -f docker-compose.yml config -q && echo "docker-compose.yml is valid"; \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "docker-compose is not installed (apt-get install docker-compose)"; exit 1; \
	else \
		echo "skipping docker-compose.yml validation: docker-compose not installed"; \
	fi

## dendrite: install the e2e homeserver (Dendrite $(DENDRITE_VERSION)) into GOPATH/bin when $(DENDRITE_BIN) is missing
dendrite:
	@if [ -x "$(DENDRITE_BIN)" ]; then \
		echo "Dendrite: $(DENDRITE_BIN)"; \
	else \
		echo "Dendrite not found at $(DENDRITE_BIN): installing $(DENDRITE_VERSION) with go install"; \
		$(GO) install github.com/matrix-org/dendrite/cmd/dendrite@$(DENDRITE_VERSION) && \
		if [ ! -x "$(DENDRITE_BIN)" ]; then \
			echo "go install put dendrite in $(GOBIN_DIR), but DENDRITE_BIN is $(DENDRITE_BIN)"; exit 1; \
		fi; \
	fi

## demo: run the whole stack locally (Dendrite, fake MSN server, bridge); Ctrl-C stops it (state and logs in .demo/)
demo: build
	./$(BIN_DIR)/msn-demo $(DEMO_ARGS)

## bench: the load harness against the sink homeserver (docs/performance.md);
## e.g. make bench BENCHFLAGS="-homeserver dendrite -logins 100"
BENCHFLAGS ?= -logins 100,1000 -json load-report.json
bench:
	$(GO) run -tags $(TAGS) ./cmd/msn-load $(BENCHFLAGS)

## clean: remove what `make build`, `go build ./cmd/<name>` and `make demo` leave behind (all in .gitignore)
clean:
	rm -rf $(BIN_DIR) .demo
	rm -f $(COMMANDS)
