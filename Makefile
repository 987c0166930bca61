# Tether's developer commands. "make run" starts the demo, "make test" runs
# everything CI runs (installing the interop peers it needs first).

GO        ?= go
FUZZTIME  ?= 15s
BENCHTIME ?= 1s
# e.g. COMPARE_FLAGS="-rounds 1 -duration 2s" or "-write ../docs/PERFORMANCE.md"
COMPARE_FLAGS ?=
NODE_DIR  := internal/interop/node
WEB_DIR   := web
# sudo only when not already root.
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
comma     := ,
space     := $(empty) $(empty)

.PHONY: run web-deps deps test fuzz bench compare

## run: build bin/tether, then start the demo, a Socket.IO chat on http://127.0.0.1:8080 (Ctrl-C
## stops it), with the Socket.IO Admin UI's live dashboard of it at http://127.0.0.1:8080/admin/
## (RUN_FLAGS; on loopback without a login, see "tether serve -h"). The binary, not "go run", is what runs: "go run" turns the server's clean exit on
## Ctrl-C into an exit status of 1, which make reports as an error.
## (RUN_ADDR, TETHER_BIN and RUN_DEPS let cmd/tether's test of this target run it without npm.)
RUN_ADDR   ?= 127.0.0.1:8080
TETHER_BIN ?= bin/tether
RUN_DEPS   ?= web-deps
RUN_FLAGS  ?= --admin
run: $(RUN_DEPS)
	$(GO) build -o $(TETHER_BIN) ./cmd/tether
	exec $(TETHER_BIN) serve --addr $(RUN_ADDR) $(RUN_FLAGS)

## web-deps: install the socket.io-client browser bundle the demo page loads and the Admin UI, when missing or stale
web-deps:
	@if [ ! -f $(WEB_DIR)/node_modules/.package-lock.json ] || \
		[ $(WEB_DIR)/package-lock.json -nt $(WEB_DIR)/node_modules/.package-lock.json ]; then \
		echo "installing npm packages in $(WEB_DIR)"; \
		cd $(WEB_DIR) && npm ci --no-audit --no-fund; \
	fi

## deps: install the interop test peers, only those missing
PY_MODULES  := websockets engineio websocket requests socketio aiohttp msgpack
DEB_PYTHON  := python3-websockets python3-engineio python3-websocket python3-requests python3-socketio python3-aiohttp python3-msgpack
# redis-server for the cluster tests (they start their own on a free port).
# Debian's Chromium, for the browser tests (driven by playwright-core, which never downloads a browser).
CHROMIUM    := /usr/bin/chromium
deps: web-deps
	@missing=""; \
	/usr/bin/python3 -c 'import $(subst $(space),$(comma),$(PY_MODULES))' 2>/dev/null || missing="$(DEB_PYTHON)"; \
	[ -x $(CHROMIUM) ] || missing="$${missing:+$$missing }chromium"; \
	command -v redis-server >/dev/null || missing="$${missing:+$$missing }redis-server"; \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi
	@# npm ci when node_modules is missing or older than the lock file.
	@if [ -f $(NODE_DIR)/package.json ] && { [ ! -f $(NODE_DIR)/node_modules/.package-lock.json ] || \
		[ $(NODE_DIR)/package-lock.json -nt $(NODE_DIR)/node_modules/.package-lock.json ]; }; then \
		echo "installing npm packages in $(NODE_DIR)"; \
		cd $(NODE_DIR) && npm ci --no-audit --no-fund; \
	fi

## test: install the peers, vet and test the main module (race detector on), then vet and
## smoke-test the bench module. Every step runs even when an earlier one failed; a summary at
## the end lists each step's result, and make exits non-zero if any failed.
## One package at a time (-p 1): the interop tests hold real peers to the test servers'
## 300 ms / 200 ms heartbeat, which a second package's tests competing for the 2 cores of a
## CI machine can make them miss.
## Under TETHER_INTEGRATION=1 a test whose peer (Node, Python, Chromium, redis-server) is
## missing fails instead of skipping (internal/testenv), so that "make test" and CI cannot pass
## by skipping; a failed "make deps" step therefore shows up again as those tests' failures.
test: export TETHER_INTEGRATION := 1
test:
	@status=0; summary=""; \
	step() { name=$$1; shift; echo "== $$name"; \
		if "$$@"; then summary="$$summary  ok    $$name\n"; \
		else summary="$$summary  FAIL  $$name\n"; status=1; fi; }; \
	step "make deps bench-deps" $(MAKE) --no-print-directory deps bench-deps; \
	step "go vet ./..." $(GO) vet ./...; \
	step "go test -race ./..." $(GO) test -race -count=1 -p 1 -timeout 25m ./...; \
	: "The allocation guards of the hot paths; the race detector would change what allocates."; \
	step "allocation guards" $(GO) test -count=1 -run Allocat ./websocket ./socketio ./metrics/prometheus; \
	: "The comparison suite's smoke test: every scenario, briefly, against every peer."; \
	step "bench module: go vet" sh -c 'cd bench && exec "$$0" vet ./...' "$(GO)"; \
	step "bench module: go test" sh -c 'cd bench && exec "$$0" test -count=1 -timeout 10m ./...' "$(GO)"; \
	printf '== make test summary\n%b' "$$summary"; \
	exit $$status

## fuzz: run every Fuzz* target of the protocol packages for FUZZTIME each
FUZZ_PKGS := ./websocket ./engineio ./socketio ./socketio/msgpackparser ./adapter/redis
fuzz:
	@for pkg in $(FUZZ_PKGS); do \
		list=$$($(GO) test -list '^Fuzz' $$pkg) || { echo "$$list"; exit 1; }; \
		for t in $$(echo "$$list" | grep '^Fuzz' || true); do \
			echo "== $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

## bench: run the websocket package's benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./websocket

## bench-deps: install the Node peers of the comparison (ws, socket.io), when missing or stale
.PHONY: bench-deps
BENCH_NODE_DIR := bench/node
bench-deps:
	@if [ ! -f $(BENCH_NODE_DIR)/node_modules/.package-lock.json ] || \
		[ $(BENCH_NODE_DIR)/package-lock.json -nt $(BENCH_NODE_DIR)/node_modules/.package-lock.json ]; then \
		echo "installing npm packages in $(BENCH_NODE_DIR)"; \
		cd $(BENCH_NODE_DIR) && npm ci --no-audit --no-fund; \
	fi

## compare: run the side-by-side comparison with the WebSocket and Socket.IO peers (the bench module)
compare: bench-deps
	@[ -f bench/go.mod ] || { echo "the bench module (bench/) is missing"; exit 1; }
	cd bench && $(GO) run ./cmd/compare $(COMPARE_FLAGS)

## soak: hold 19,000 Socket.IO connections for 10 minutes with production heartbeats and a
## broadcast every second; fails on a disconnect, memory growth or goroutines piling up
## (scripts/soak.sh; not part of "make test"; "make soak CONNS=2000 DURATION=60s" for a short trial)
.PHONY: soak
soak:
	scripts/soak.sh

## adversary: the adversarial suite at full size: every known attack against a real test server
## process, with a control client that must see nothing and a leak check after each, plus 2,000
## slow consumers beside 100 healthy ones (internal/adversary; its short version runs in "make test")
.PHONY: adversary
adversary:
	TETHER_ADVERSARY=full $(GO) test -count=1 -timeout 30m -v -run . ./internal/adversary
