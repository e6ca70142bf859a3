# The two commands a newcomer needs: `make run` and `make test`. Go is the only
# prerequisite; modules come from the Go module proxy.
GO      ?= go
BIN     := bin/myaccount-conformance
REPORTS ?= reports
# Ginkgo flags or run flags for `make run`, e.g. RUNFLAGS='--label-filter=enroll -v'.
RUNFLAGS ?=

.PHONY: all build run test unit suite selftest lint clean

all: build

build:
	$(GO) build -o $(BIN) ./runner

## run: the suite against the embedded reference tenant; reports in $(REPORTS)/
run: build
	./$(BIN) run --report-dir $(REPORTS) $(RUNFLAGS)

## test: every test — lint, unit tests (race detector on), the suite against the
## reference tenant, and the self test against every named fault.
test: lint unit suite selftest

unit:
	$(GO) test -race -count=1 ./...

suite: build
	./$(BIN) run --report-dir $(REPORTS)/test

selftest: build
	./$(BIN) selftest --report-dir $(REPORTS)/selftest

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin $(REPORTS)
