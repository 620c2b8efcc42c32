# runtime/ — skiff-runtime: containers, cgroups, networking, the shim.
$(eval $(call module,runtime,skiff-runtime))

# skiff-runtime is linked statically (as runc is): every container start
# execs it, and on a busy node the dynamic loader's mapping and symbol
# binding of five libraries were a fifth of the start's CPU (bench/runtime.sh).
# -Wl,-w: glibc's static getaddrinfo warning for libnl's nl_addr_info does not
# apply (the runtime parses numeric addresses only). A sanitizer build stays
# dynamic: ASan cannot link statically.
ifeq ($(SANITIZE),)
$(BUILD)/bin/skiff-runtime: LDFLAGS += -static -Wl,-w
$(BUILD)/bin/skiff-runtime: LDLIBS := -lnl-route-3 -lnl-3 -lseccomp -lcap -ljansson -lpthread -lm
endif

# The static probe program the runtime integration tests copy into their
# rootfs (no sanitizers: it runs inside containers without their runtime).
RUNTIME_PROBE := $(BUILD)/tests/integration/probe
$(RUNTIME_PROBE): tests/integration/probe.c
	@mkdir -p $(@D)
	$(CC) -static -O2 -Wall -Wextra -Werror -o $@ $<
CHECK_EXTRA += $(RUNTIME_PROBE)
