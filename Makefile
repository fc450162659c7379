# estcoapd: non-recursive GNU make. Objects and programs go to build/.
# `make` builds; `make check` runs unit + integration tests, plain and under
# ASan/UBSan; `make docs` regenerates the documents made from the code's
# tables; `make deb` builds the Debian package; `make bench` runs the
# benchmarks; `make demo` shows one enrollment; `make clean`.

PKGS	 = libcoap-3-openssl libcurl libevent libcjson openssl
CC	?= cc
CFLAGS	?= -O2 -g
WARN	 = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes \
	   -Wstrict-prototypes
# _GNU_SOURCE: memmem/strcasestr; _DEFAULT_SOURCE alone hides them.
XCFLAGS	 = -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -MMD -MP
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

# BUILD is build/ for the plain build and build/asan for the sanitizer one.
BUILD	?= build
SAN	?=
ifeq ($(SAN),1)
BUILD	 = build/asan
XCFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
LDSAN	 = -fsanitize=address,undefined
CFLAGS	 = -O1 -g
endif
# FUZZ=1: libFuzzer targets with clang, ASan and UBSan (mk/fuzz.mk)
FUZZ	?=
ifeq ($(FUZZ),1)
BUILD	 = build/fuzz
CC	 = clang
FUZZSAN	 = -fsanitize=address,undefined -fno-sanitize-recover=undefined
# clang counts va_list formatters as non-literal formats; gcc does not
XCFLAGS	+= $(FUZZSAN) -fsanitize=fuzzer-no-link -fno-omit-frame-pointer \
	   -Wno-format-nonliteral
LDSAN	 = $(FUZZSAN)
CFLAGS	 = -O1 -g
endif

DAEMON_SRCS = $(wildcard src/*.c)
LIB_SRCS    = $(filter-out src/main.c,$(DAEMON_SRCS))
LIB_OBJS    = $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRCS   = $(wildcard tests/unit/test_*.c)
UNIT_BINS   = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOLS	    = $(BUILD)/est-testserver $(BUILD)/estcoap-probe $(BUILD)/notify-listen \
	      $(BUILD)/cbor-split $(BUILD)/estcoap-bench $(BUILD)/estcoap-hsbench \
	      $(BUILD)/estcoap-hostile $(BUILD)/estcoap-mkcsr \
	      $(BUILD)/estcoap-csrcost $(BUILD)/estcoapd-docgen

all: $(BUILD)/estcoapd $(TOOLS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/tools/%.o: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libestcoapd.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/estcoapd: $(BUILD)/obj/main.o $(BUILD)/libestcoapd.a
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/est-testserver: $(BUILD)/obj/tests/integration/est_upstream.o \
	    $(BUILD)/obj/tests/integration/est_profile.o \
	    $(BUILD)/obj/tests/integration/est_multipart.o \
	    $(BUILD)/obj/tests/integration/est_b64.o \
	    $(BUILD)/obj/tests/integration/est_pending.o
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -levent_openssl

$(BUILD)/estcoap-probe: $(BUILD)/obj/tests/integration/probe.o \
	    $(BUILD)/obj/tests/integration/csrgen.o
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/estcoap-mkcsr: $(BUILD)/obj/tests/integration/mkcsr.o \
	    $(BUILD)/obj/tests/integration/csrgen.o
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# the load generator and the handshake micro-benchmark of `make bench`
$(BUILD)/estcoap-bench: $(BUILD)/obj/tests/bench/bench.o
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/estcoap-hsbench: $(BUILD)/obj/tests/bench/hsbench.o
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# the CSR and audit work of one enrollment, for callgrind
# (scripts/bench/csrcost.sh)
$(BUILD)/estcoap-csrcost: $(BUILD)/obj/tests/bench/csrcost.o \
	    $(BUILD)/libestcoapd.a
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/estcoap-hostile: $(BUILD)/obj/tests/integration/hostile.o
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/notify-listen: $(BUILD)/obj/tests/integration/notify_listen.o
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^

$(BUILD)/cbor-split: $(BUILD)/obj/tests/integration/cbor_split.o $(BUILD)/libestcoapd.a
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# writes the generated parts of the man pages and the defaults file from
# the daemon's tables (make docs)
$(BUILD)/estcoapd-docgen: $(BUILD)/obj/tools/docgen.o $(BUILD)/libestcoapd.a
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(BUILD)/libestcoapd.a
	@mkdir -p $(@D)
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# the unit tests that make certificates with tests/unit/testcerts.c
TESTCERTS_TESTS = pki answer csr csrid resume_dev
$(TESTCERTS_TESTS:%=$(BUILD)/tests/test_%): $(BUILD)/obj/tests/unit/testcerts.o

# est_req.c against a fake upstream: the test's __wrap_ functions stand
# in for the upstream calls (GNU ld --wrap); fuzz_coap does the same
UPSTREAM_WRAP = -Wl,--wrap=upstream_submit_hdrs -Wl,--wrap=upstream_cancel

$(BUILD)/tests/test_est_req: $(BUILD)/obj/tests/unit/test_est_req.o \
	    $(BUILD)/libestcoapd.a
	@mkdir -p $(@D)
	$(CC) $(LDSAN) $(LDFLAGS) $(UPSTREAM_WRAP) -o $@ $^ $(PKG_LIBS) \
	    $(CMOCKA_LIBS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

deps:
	@scripts/deps.sh

check: deps
	@scripts/check.sh

# build/estcoapd_<version>_<arch>.deb with the Debian tools (debian/),
# checked by lintian; needs debhelper and lintian (scripts/deps.sh)
deb:
	@scripts/deb.sh

# the generated sections of man/*.[58] and conf/estcoapd-defaults.json,
# from the code's tables; make check fails when they are out of date
docs: $(BUILD)/estcoapd-docgen
	@scripts/docs.sh

# benchmarks (B0-B9, doc/bench/results.md); not part of check. BENCH_SCALE etc.: see
# scripts/bench.sh.
bench: deps
	@scripts/bench/deps.sh
	@scripts/bench.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

clean:
	rm -rf build

.PHONY: all unit deps check docs deb bench demo clean
include mk/install.mk
include mk/fuzz.mk
# (not build/deb: make deb's copy of the tree, where sysusers.d is a directory)
-include $(shell find build -path build/deb -prune -o -name '*.d' -type f \
	    -print 2>/dev/null)
