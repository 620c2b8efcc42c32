# examples/ — demo workloads (statically linked into the demo image).
