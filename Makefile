# gannet: GNU Makefile. `make` builds build/gannet, `make check` runs every test,
# `make run` starts a demo server on 127.0.0.1. Each of them first installs the
# Debian packages that are missing (scripts/deps): `make` and `make run` what
# building and running need, `make check` the test peers too (scripts/deps test).

PREFIX  ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
STATEDIR ?= /var/lib/gannet
BUILD   ?= build
CC      ?= cc
PKG_CONFIG ?= pkg-config
DEPS_SCRIPT ?= scripts/deps

PKGS := libevent libevent_openssl libevent_pthreads openssl sqlite3 libsodium libxcrypt libgsasl zlib

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN    := -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Wformat=2 -Wvla
ifeq ($(WERROR),1)
WARN    += -Werror
endif
OPT     ?= -O2 -g
ifeq ($(SANITIZE),1)
OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
BUILD   := build-asan
endif

# Asked of pkg-config once, when the first recipe that uses them runs: after
# scripts/deps has installed pkg-config and the libraries (every compile waits
# for the `deps` target), never while the Makefile is read. Only `=` variables
# may refer to them.
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null))$(PKG_LIBS)

CFLAGS  += -std=c17 -D_GNU_SOURCE $(OPT) $(WARN) -Isrc -DGANNET_VERSION='"$(VERSION)"' \
           -DGANNET_SYSCONFDIR='"$(SYSCONFDIR)"' -DGANNET_STATEDIR='"$(STATEDIR)"' $(PKG_CFLAGS) \
           -pthread -MMD -MP
LDFLAGS += $(OPT) -pthread
LDLIBS  += $(PKG_LIBS)

# Layers, lowest first (DESIGN.md): a lower layer never includes a higher one.
CORE_SRCS := $(sort $(wildcard src/lib/*.c src/lib-imap/*.c src/mail/*.c src/store/*.c src/auth/*.c src/net/*.c \
                 src/login/*.c \
                 src/imap/*.c src/pop3/*.c src/lmtp/*.c src/probe/*.c))
CLI_SRCS  := $(sort $(wildcard src/cli/*.c))
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/%.o)

UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# bench/: programs linked against the core objects (the crash test's driver, the benchmark)
BENCH_BINS := $(BUILD)/bench/crash-driver $(BUILD)/bench/store-bench

.PHONY: all deps deps-test deps-fuzz check layers unit integration run install format clean \
        fuzz bench crash check-asan

all: deps $(BUILD)/gannet

# The packages (scripts/deps). Every compile has one of these as an order-only
# prerequisite: under `make -j` no compiler starts before the packages are in,
# and, phony, it runs once per make without forcing a rebuild. deps-test and
# deps-fuzz come after deps, so that two apt-get never run at once.
deps:
	@$(DEPS_SCRIPT)

deps-test: deps
	@$(DEPS_SCRIPT) test

deps-fuzz: deps
	@$(DEPS_SCRIPT) fuzz

$(BUILD)/gannet: $(CORE_OBJS) $(CLI_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJS) | deps-test
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ $< $(CORE_OBJS) \
	    $(LDFLAGS) $(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

$(BUILD)/bench/%: bench/%.c $(CORE_OBJS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(CORE_OBJS) $(LDFLAGS) $(LDLIBS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; (cd tests/unit && ../../$$t); done

integration: $(BUILD)/gannet $(BUILD)/bench/crash-driver | deps-test
	GANNET=$(abspath $(BUILD)/gannet) python3 -m unittest discover -s tests/integration -p 'test_*.py' -v

check: all layers unit integration

# No upward #include between src/ folders, no banned functions (the order is in the script,
# a Python one: python3 is a test package).
layers: | deps-test
	@scripts/check-layers

# Not part of check: figures into docs/BENCHMARKS.md (bench/store-bench.c, bench/*.py), and
# the crash test run for ten minutes instead of forty seconds.
bench: all $(BENCH_BINS) | deps-test
	$(BUILD)/bench/store-bench --gannet $(BUILD)/gannet > docs/BENCHMARKS.md.new
	GANNET=$(abspath $(BUILD)/gannet) python3 bench/session-memory.py >> docs/BENCHMARKS.md.new
	GANNET=$(abspath $(BUILD)/gannet) python3 bench/tls-logins.py >> docs/BENCHMARKS.md.new
	GANNET=$(abspath $(BUILD)/gannet) python3 bench/lmtp-deliveries.py >> docs/BENCHMARKS.md.new
	GANNET=$(abspath $(BUILD)/gannet) python3 bench/pop3-sessions.py >> docs/BENCHMARKS.md.new
	mv docs/BENCHMARKS.md.new docs/BENCHMARKS.md
	@cat docs/BENCHMARKS.md

crash: $(BUILD)/gannet $(BUILD)/bench/crash-driver | deps-test
	CRASH_SECONDS=$${CRASH_SECONDS:-600} GANNET=$(abspath $(BUILD)/gannet) \
	    python3 -m unittest discover -s tests/integration -p test_crash.py -v

check-asan:
	$(MAKE) SANITIZE=1 check

run: all
	@scripts/run-demo $(BUILD)/gannet

install: $(BUILD)/gannet
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR)/gannet \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(BUILD)/gannet $(DESTDIR)$(PREFIX)/bin/gannet
	install -m 0644 docs/gannet.conf $(DESTDIR)$(SYSCONFDIR)/gannet/gannet.conf.example
	test -e $(DESTDIR)$(SYSCONFDIR)/gannet/gannet.conf || \
	    install -m 0644 docs/gannet.conf $(DESTDIR)$(SYSCONFDIR)/gannet/gannet.conf
	install -m 0644 docs/gannet.1 $(DESTDIR)$(PREFIX)/share/man/man1/gannet.1
	sed 's|@BINDIR@|$(PREFIX)/bin|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' docs/gannet.service \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/system/gannet.service

# Fuzzing (libFuzzer, clang): `make fuzz` runs every target for FUZZ_SECONDS;
# not part of `make check`. Crashes land in build-fuzz/crashes/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS    = -std=c17 -D_GNU_SOURCE -O1 -g -Isrc -DGANNET_VERSION='"$(VERSION)"' \
                -DGANNET_SYSCONFDIR='"$(SYSCONFDIR)"' -DGANNET_STATEDIR='"$(STATEDIR)"' \
                $(PKG_CFLAGS) -pthread \
                -fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJS    := $(CORE_SRCS:%.c=build-fuzz/%.o)
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

build-fuzz/%.o: %.c | deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -c -o $@ $<

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS) | deps-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

fuzz: deps-fuzz $(FUZZ_BINS)
	@mkdir -p build-fuzz/crashes
	@set -e; for t in $(FUZZ_BINS); do \
	    name=$$(basename $$t); mkdir -p build-fuzz/corpus/$$name; \
	    echo "== $$name ($(FUZZ_SECONDS) s)"; \
	    $$t -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build-fuzz/crashes/$$name- \
	        build-fuzz/corpus/$$name tests/fuzz/seeds/$$name 2>&1 | tail -n 3; \
	done

format:
	clang-format -i $(CORE_SRCS) $(CLI_SRCS) $(wildcard src/*/*.h) $(UNIT_SRCS)

clean:
	rm -rf build build-asan build-fuzz

-include $(CORE_OBJS:.o=.d) $(CLI_OBJS:.o=.d)
