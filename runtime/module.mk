# runtime/ — skiff-runtime: containers, cgroups, networking, the shim.
$(eval $(call module,runtime,skiff-runtime))

# The static probe program the runtime integration tests copy into their
# rootfs (no sanitizers: it runs inside containers without their runtime).
RUNTIME_PROBE := $(BUILD)/tests/integration/probe
$(RUNTIME_PROBE): tests/integration/probe.c
	@mkdir -p $(@D)
	$(CC) -static -O2 -Wall -Wextra -Werror -o $@ $<
CHECK_EXTRA += $(RUNTIME_PROBE)
