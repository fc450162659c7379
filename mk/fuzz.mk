# estcoapd: libFuzzer targets (tests/fuzz), included at the end of the
# Makefile. `make fuzz` builds them with clang (FUZZ=1, in build/fuzz) and
# runs each for FUZZ_SECONDS on its seed corpus tests/fuzz/corpus/<name>;
# new inputs go to build/fuzz/corpus/<name>, crashes to build/fuzz/crash/.
# make check runs each for FUZZ_SMOKE seconds (scripts/fuzz.sh).

FUZZ_SECONDS	?= 60
FUZZ_SRCS	 = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES	 = $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_BINS	 = $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/libestcoapd.a
	@mkdir -p $(@D)
	$(CC) $(LDSAN) -fsanitize=fuzzer $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# fuzz_coap runs req_begin() with a fake upstream: the Makefile's
# UPSTREAM_WRAP, as for test_est_req
$(BUILD)/fuzz/fuzz_coap: $(BUILD)/obj/tests/fuzz/fuzz_coap.o \
	    $(BUILD)/libestcoapd.a
	@mkdir -p $(@D)
	$(CC) $(LDSAN) -fsanitize=fuzzer $(LDFLAGS) $(UPSTREAM_WRAP) -o $@ $^ \
	    $(PKG_LIBS)

fuzzers: $(FUZZ_BINS)

fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

.PHONY: fuzzers fuzz
