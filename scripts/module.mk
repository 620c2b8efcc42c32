# scripts/ — skiff-lab is a bash script; `make` also puts it beside the
# binaries in $(BUILD)/bin, where it finds them (and $(BUILD)/images).
$(BUILD)/bin/skiff-lab: scripts/skiff-lab
	@mkdir -p $(@D)
	install -m 0755 $< $@
all: $(BUILD)/bin/skiff-lab
