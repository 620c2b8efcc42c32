# ctl/ — skiffctl: the command line.
$(eval $(call module,ctl,skiffctl))
# skiffctl's own unit tests include its headers (output.h).
$(BUILD)/tests/unit/test_manifest.o $(BUILD)/tests/unit/test_output.o \
	$(BUILD)/tests/unit/test_jsonpath.o: CFLAGS += -Ictl
# The brain LIST paging test calls skiffctl's ctl_list().
$(BUILD)/tests/integration/test_brain_list.o: CFLAGS += -Ictl
