# runtime/ — skiff-runtime: containers, cgroups, networking, the shim.
$(eval $(call module,runtime,skiff-runtime))
