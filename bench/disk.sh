#!/bin/bash
# bench/disk.sh — the bounded-disk goal: a container that writes
# 2 GiB into a pod limited to 512 MiB of ephemeral storage is stopped at the
# limit, and the node's free space drops by at most the limit. Runs the
# agent with the fake brain of tests/integration/test_agent
# (SKIFF_TEST=t_disk_bench, a private network namespace, its own temp state
# dir) and prints what happened; asserts nothing about the figures; needs
# root.
#
# Usage: bench/disk.sh
set -u
BUILD=${BUILD:-build}
t=$BUILD/tests/integration/test_agent
if [ "$(id -u)" != 0 ]; then
	echo "disk: skipped (needs root)"
	exit 0
fi
if [ ! -x "$t" ]; then
	echo "disk: skipped ($t not built: make test-bins)"
	exit 0
fi
echo "== ephemeral storage: 2 GiB written into a pod limited to 512 MiB"
SKIFF_TEST=t_disk_bench timeout -k 10 600 "$t" 2>/dev/null | grep '^disk:' | sed 's/^disk: /  /'
echo "  loop devices left by anyone's test dirs: $(losetup -a | grep -c skiff-agtest || true)"
