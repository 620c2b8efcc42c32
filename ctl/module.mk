# ctl/ — skiffctl: the command line.
$(eval $(call module,ctl,skiffctl))
# skiffctl's own unit tests include its headers.
$(BUILD)/tests/unit/test_manifest.o $(BUILD)/tests/unit/test_output.o: CFLAGS += -Ictl
# The manifest fuzz harness compiles ctl/ sources (fuzz/module.mk tracks lib/ only).
$(BUILD)/fuzz/fuzz_manifest: $(wildcard ctl/*.c ctl/*.h)
# The brain LIST paging test calls skiffctl's ctl_list().
$(BUILD)/tests/integration/test_brain_list.o: CFLAGS += -Ictl
