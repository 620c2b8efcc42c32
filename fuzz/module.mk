# fuzz/ — libFuzzer harnesses, built with clang into $(BUILD)/fuzz.
FUZZ_CC := clang
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_FLAGS := -std=gnu17 -g -O1 -D_GNU_SOURCE -Ilib -I$(GEN) $(PKG_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
FUZZ_TARGETS := $(patsubst fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard fuzz/fuzz_*.c))

# Every harness links all of lib/ (built once with the fuzzer's
# instrumentation); a harness for code outside lib/ names those sources on a
# "FUZZ_SOURCES:" line.
FUZZ_LIB_OBJS := $(patsubst lib/%.c,$(FUZZ_DIR)/lib/%.o,$(wildcard lib/*.c))
$(FUZZ_DIR)/lib/%.o: lib/%.c $(wildcard lib/*.h) $(PROTO_H)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/%: fuzz/%.c $(PROTO_C) $(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< \
		$$(sed -n 's/.*FUZZ_SOURCES:\(.*\)\*\//\1/p' $<) $(FUZZ_LIB_OBJS) $(PROTO_C) \
		$(PKG_LIBS) -lm

fuzz: $(FUZZ_TARGETS)
	@for f in $(FUZZ_TARGETS); do \
		echo "fuzz: $$f (60 s)"; mkdir -p $(FUZZ_DIR)/corpus-$$(basename $$f); \
		$$f -max_total_time=60 $(FUZZ_DIR)/corpus-$$(basename $$f) || exit 1; done
