# bench/ — benchmarks (`make bench`); they print figures, never assert timings.
# skiff-execwatch (bench/execwatch.c, libc only) prints the kernel's exec and
# exit events for bench/agent.sh.
$(BUILD)/bin/skiff-execwatch: $(BUILD)/bench/execwatch.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $<

all: $(BUILD)/bin/skiff-execwatch

bench: all
	@for b in bench/*.sh; do [ -x "$$b" ] && BUILD=$(BUILD) "$$b"; done; true
