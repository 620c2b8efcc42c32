# shellcheck shell=bash disable=SC2034 # CGV and CG_ROOTS are read by the tests that source this
# tests/integration/lib/runtime.sh — what the skiff-runtime integration tests
# share (sourced, never run on its own): root and busybox-static required
# (SKIP otherwise), $R the runtime and $PROBE the static probe program (FAIL
# when not built), make_rootfs, and the cgroup layout as the runtime detects
# it: CGV (1 or 2), CG_ROOTS (the trees a test's cgroups live in) and
# `cg CONTROLLER REL` (a cgroup's directory either way).
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x /bin/busybox ] || { echo "SKIP: needs busybox-static"; exit 77; }
BUILD=${BUILD:-build}
R=${SKIFF_BIN:-$PWD/$BUILD/bin}/skiff-runtime
PROBE=$BUILD/tests/integration/probe
[ -x "$R" ] || { echo "FAIL: $R missing"; exit 1; }
[ -x "$PROBE" ] || { echo "FAIL: $PROBE missing (make $PROBE)"; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"

if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
	CGV=2
	cg() { echo "/sys/fs/cgroup/$2"; }
	CG_ROOTS=(/sys/fs/cgroup)
else
	CGV=1
	cg() { echo "/sys/fs/cgroup/$1/$2"; }
	CG_ROOTS=(/sys/fs/cgroup/memory /sys/fs/cgroup/cpu /sys/fs/cgroup/pids)
fi
