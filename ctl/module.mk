# ctl/ — skiffctl: the command line.
$(eval $(call module,ctl,skiffctl))
# skiffctl's own unit tests include its headers.
$(BUILD)/tests/unit/test_manifest.o $(BUILD)/tests/unit/test_output.o: CFLAGS += -Ictl
