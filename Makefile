# The two commands a newcomer needs: `make run` and `make test`. Go is the only
# prerequisite; modules come from the Go module proxy.
GO      ?= go
BIN     := bin/myaccount-conformance
REPORTS ?= reports
# Ginkgo flags or run flags for `make run`, e.g. RUNFLAGS='--label-filter=enroll -v'.
RUNFLAGS ?=
# The reference tenant `make run` starts: the documented default plan (enterprise:
# the tenant bursts at the seed's 25 requests a second run, with every other area),
# with short token and auth_session lifetimes so that the expiry specs wait little,
# and the login, signup, Authentication and Management API limits waived (as an IP
# allow list would) so that it takes under a minute; without --waive all it enforces
# them as a real tenant does, and the run takes about 2.5 minutes.
# Left out when RUNFLAGS names a --config.
REFERENCE ?= --token-ttl 12s --session-ttl 5s --waive all
# `make quick`: for iterating, a private-cloud tier whose tenant limits (300 a
# second) do not bind, so they set no floor; the tenant bursts skip there, saying why.
QUICK ?= --plan private-cloud-1500 --token-ttl 12s --session-ttl 5s --waive all

.PHONY: all build run quick test unit suite selftest lint clean fuzz bench

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./runner/myaccount-conformance

## run: the suite against the embedded reference tenant; reports in $(REPORTS)/
run: build
	./$(BIN) run --report-dir $(REPORTS) $(if $(findstring --config,$(RUNFLAGS)),,$(REFERENCE)) $(RUNFLAGS)

## quick: the same on a tier whose tenant limits do not bind (no tenant bursts)
quick: build
	./$(BIN) run --report-dir $(REPORTS) $(QUICK) $(RUNFLAGS)

## test: every test — lint, unit tests (race detector on), a short fuzz run, the suite against the
## reference tenant, and the self test against every named fault.
test: lint unit fuzz suite selftest

unit:
	$(GO) test -race -count=1 ./...

# The suite once in random order (--randomize-all), so that specs that leak state
# into each other show; the seed is in the output and junit.xml to repeat an order.
# The limits a real tenant adds are waived here as in the self test, whose clean run
# this is; the runner's tests run the suite under them.
suite: build
	./$(BIN) run --report-dir $(REPORTS)/test --ginkgo.randomize-all --waive all

# fuzz: each fuzz target of the reference tenant for FUZZTIME inputs (the seed corpus in
# fixtures/reftenant/testdata/fuzz also runs in `unit`). Found crashers land there.
# A count, not a duration: Go 1.26's fuzz coordinator can report a spurious "context
# deadline exceeded" at the end of a -fuzztime duration (golang/go#75804).
FUZZTIME ?= 20000x
FUZZ_TARGETS := FuzzMyAccountRequest FuzzAuthRequest FuzzWebAuthnResponse
fuzz:
	@for f in $(FUZZ_TARGETS); do \
		$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime=$(FUZZTIME) ./fixtures/reftenant/ || exit 1; \
	done

# Within `make test` the suite run just made (a prerequisite before it) is the self
# test's clean run: target-specific, so `make selftest` alone runs its own.
test: SELFTEST_FLAGS = --baseline $(REPORTS)/test
selftest: build
	./$(BIN) selftest --report-dir $(REPORTS)/selftest $(SELFTEST_FLAGS)

## bench: the burst pacer's precision at 25, 100 and 500 requests/s on loopback
## (rate error, send jitter), the ordinary pacer's cost per request, checking one
## answer against the description, hiding secrets in one text, the reference
## tenant's throughput on GET /me/v1/factors, and what a run costs besides its specs
## (start, spec tree, dry walk of every spec, reports) in one process and in two.
bench:
	$(GO) test -run '^$$' -bench '^BenchmarkPacer$$' -benchtime 3x ./suites/harness/burst/
	$(GO) test -run '^$$' -bench '^BenchmarkPacerMyAccount$$' -benchmem ./suites/harness/pace/
	$(GO) test -run '^$$' -bench '^BenchmarkRedactorText$$' -benchmem ./suites/harness/evidence/
	$(GO) test -run '^$$' -bench '^BenchmarkValidateResponse$$' -benchmem ./spec/
	$(GO) test -run '^$$' -bench '^BenchmarkTenantFactors$$' -benchtime 3s ./fixtures/reftenant/
	$(GO) test -run '^$$' -bench '^BenchmarkSpecScheduling$$' -benchtime 3x ./runner/

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin $(REPORTS)
