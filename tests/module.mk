# tests/ — Check suites: tests/unit/test_*.c (no root) and
# tests/integration/test_*.c (root), plus shell scenarios run by tests/run.sh.
TEST_LIBS = $(MODULE_ARCHIVES) $(LIBSKIFF)

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/test_*.c))
INTEGRATION_TESTS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,\
	$(wildcard tests/integration/test_*.c))

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(TEST_LIBS) $(CHECK_LIBS) $(LDLIBS)

# Fuzz smoke runs are part of `make check` when clang can build them.
CHECK_EXTRA += $(FUZZ_TARGETS)
$(BUILD)/tests/%.o: CFLAGS += $(CHECK_CFLAGS)
