# shellcheck shell=bash
# tests/integration/lib/ctlbrain.sh — a real skiff-orchestrator on 127.0.0.1
# for the skiffctl tests (sourced, never run on its own): a temp dir $T, a
# brain on a free port with SKIFF_CONFIG pointing at its admin config, the
# processes the test starts (ctl_started PID) killed by pid on exit, and
# run/has/wait_for/fail to drive and check skiffctl.
#
#   . "$(dirname "$0")/lib/ctlbrain.sh"
#   ctl_init skiff-ctl-test          # $T, the EXIT trap
#   brain_up 17000                   # $port, $brain_pid, $brain_dir
#   run 0 get pods; has out "web-"
BIN=${SKIFF_BIN:-$PWD/build/bin}
CTL=$BIN/skiffctl
BRAIN=$BIN/skiff-orchestrator
T=
ctl_pids=()
# extra lines a test wants in its failure report (a command, run by fail)
CTL_FAIL_EXTRA=${CTL_FAIL_EXTRA:-}

ctl_cleanup() {
	local p
	for p in "${ctl_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${ctl_pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "$T" ] && rm -rf "$T"
}

# ctl_init NAME [BINARY…]: the temp dir and the EXIT trap; skips when
# skiffctl, the brain or a BINARY is not built
ctl_init() {
	local name=$1 b
	shift
	for b in "$CTL" "$BRAIN" "$@"; do
		[ -x "$b" ] || { echo "skip: $b not built"; exit 77; }
	done
	T=$(mktemp -d "/tmp/$name.XXXXXX")
	trap ctl_cleanup EXIT
}

ctl_started() { ctl_pids+=("$@"); }

fail() {
	echo "FAIL: $*"
	echo "--- last output:"; cat "$T/out" "$T/err" 2>/dev/null | tail -n 20
	echo "--- brain log:"; tail -n 20 "$T/brain.log"
	[ -n "$CTL_FAIL_EXTRA" ] && $CTL_FAIL_EXTRA
	exit 1
}

# run EXPECTED_RC skiffctl ARGS… : output in $T/out, $T/err
run() {
	local want=$1; shift
	"$CTL" "$@" >"$T/out" 2>"$T/err" </dev/null
	local rc=$?
	[ "$rc" = "$want" ] || fail "skiffctl $* exited $rc, expected $want"
}
has() { grep -q -- "$2" "$T/$1" || fail "$1 of the last command lacks: $2"; }

# wait_for SECONDS CMD…: until CMD succeeds
wait_for() {
	local n=$(($1 * 10)); shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}

# brain_up PORT_BASE: a fresh brain on a port in [BASE, BASE+1000) below the
# ephemeral range; another test may hold the port, so it retries
brain_up() {
	local attempt up=
	for attempt in 1 2 3 4 5; do
		port=$(($1 + RANDOM % 1000))
		brain_dir=$T/brain$attempt
		export SKIFF_CONFIG=$brain_dir/admin.conf
		"$BRAIN" --data-dir "$brain_dir" --listen "127.0.0.1:$port" >"$T/brain.log" 2>&1 &
		brain_pid=$!
		for _ in $(seq 100); do
			kill -0 "$brain_pid" 2>/dev/null || break
			[ -s "$SKIFF_CONFIG" ] && "$CTL" version >/dev/null 2>&1 && { up=1; break; }
			sleep 0.1
		done
		[ -n "$up" ] && break
		kill "$brain_pid" 2>/dev/null
		wait "$brain_pid" 2>/dev/null
	done
	[ -n "$up" ] || fail "the brain did not come up"
	ctl_started "$brain_pid"
}
