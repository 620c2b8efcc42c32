#!/bin/bash
# demos.sh — e2e: the four demos (examples/) on a 3-node lab, with the checks
# of issue 8 run by examples/common/lab-checks.sh against real pods:
#   gateway — 300 requests spread exactly 100/100/100 over the users replicas;
#             a users replica killed (kill -9) during a steady stream of
#             requests -> zero failed requests.
#   queue   — 1,000 orders produced; an email worker and the queue itself
#             killed mid-way -> all 1,000 processed, duplicates reported.
#   fanout  — 100 events published -> each of the 3 worker groups processed
#             all 100.
#   replica — 1,000 writes on the primary visible on both replicas; a replica
#             killed and restarted catches up; the lag is reported.
# E2E_DEMOS="queue replica" runs only those checks.
# Needs the demo image (`make images`, built by `make check`).
. "$(dirname "$0")/lib.sh"

# the demo image: $BUILD's, or (a sanitizer build links the demo programs
# dynamically, and its image has no libc to run them) the default build's
static_image() { # static_image DIR: DIR/skiff-demo:1 is built and its programs static
	[ -x "$1/skiff-demo:1/bin/gateway" ] || return 1
	! command -v readelf >/dev/null ||
		! readelf -l "$1/skiff-demo:1/bin/gateway" 2>/dev/null | grep -q 'program interpreter'
}
IMAGES=$BUILD/images
if ! static_image "$IMAGES"; then
	[ -d "$IMAGES/skiff-demo:1/bin" ] || fail "$IMAGES/skiff-demo:1 is not built (run 'make images')"
	IMAGES=$E2E_ROOT/build/images
	static_image "$IMAGES" ||
		skip "the demo image of $BUILD is dynamically linked (sanitizer build) and $IMAGES has none"
fi
for t in curl python3; do
	command -v "$t" >/dev/null || skip "'$t' is not installed (run 'make deps')"
done

e2e_start 150
# the checks run in their own session so that a failure, the budget's
# watchdog or Ctrl-C ends them (and their load generators) with the scenario
CHECKS_PID=
demos_exit() {
	local rc=$?
	if [ -n "$CHECKS_PID" ]; then
		kill -TERM -- "-$CHECKS_PID" 2>/dev/null
		wait "$CHECKS_PID" 2>/dev/null
	fi
	set_rc "$rc"
	e2e_exit
}
set_rc() { return "$1"; }
trap demos_exit EXIT

# skiff-lab links the images of $SKIFF_IMAGES into the lab's image dir
export SKIFF_IMAGES=$IMAGES
lab_up 3
[ -e "$E2E_LAB/images/skiff-demo:1" ] || ln -sfn "$IMAGES/skiff-demo:1" "$E2E_LAB/images/skiff-demo:1"

for demo in ${E2E_DEMOS:-gateway queue fanout replica}; do
	t=$(now_ms)
	step "$demo"
	BUILD=$BUILD SKIFF_BIN=$SKIFF_BIN setsid bash "$E2E_ROOT/examples/common/lab-checks.sh" "$demo" \
		>"$E2E_TMP/$demo.out" 2>&1 &
	CHECKS_PID=$!
	rc=0
	wait "$CHECKS_PID" || rc=$?
	CHECKS_PID=
	sed 's/^/    /' "$E2E_TMP/$demo.out"
	[ "$rc" = 0 ] || fail "the $demo demo's checks failed (exit $rc)"
	step "$demo: ok in $(($(now_ms) - t)) ms"
done
