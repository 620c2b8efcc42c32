# tests/ — Check suites: tests/unit/test_*.c (no root) and
# tests/integration/test_*.c (root), plus shell scenarios run by tests/run.sh.
#
# Every test binary is its one test_*.c linked with the shared test library
# (tests/lib/*.c -> libskifftest.a: the runner's main(), the brain helpers,
# the brain harness, the RPC test server) and the module archives.
TESTLIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/lib/*.c))
TEST_LIBS = $(TESTLIB) $(MODULE_ARCHIVES) $(LIBSKIFF)

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/test_*.c))
INTEGRATION_TESTS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,\
	$(wildcard tests/integration/test_*.c))

$(TESTLIB): $(TESTLIB_OBJS)
	@mkdir -p $(@D)
	@rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(TEST_LIBS) $(CHECK_LIBS) $(LDLIBS)

# Fuzz smoke runs are part of `make check` when clang can build them.
CHECK_EXTRA += $(FUZZ_TARGETS)
$(BUILD)/tests/%.o: CFLAGS += $(CHECK_CFLAGS) -Itests/lib
