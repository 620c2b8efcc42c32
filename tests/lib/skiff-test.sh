# shellcheck shell=bash
# tests/lib/skiff-test.sh — the shell test library: failing, skipping,
# processes and waiting, the same way in every shell test. Sourced (never run)
# by tests/e2e/lib.sh (the lab scenarios and lab benches), by
# examples/common/testlib.sh (the demos' standalone tests and benches) and so
# by examples/common/lab-checks.sh.
#
# A script may define fail_hook, which fail runs (output to stderr) before it
# exits: the e2e scenarios and the demo tests print their logs there.

SKIFF_TEST_NAME=${SKIFF_TEST_NAME:-$(basename "$0" .sh)}

now_ms() { date +%s%3N; }

# fail MSG: "FAIL NAME: MSG" on stderr, fail_hook, exit 1
fail() {
	echo "FAIL $SKIFF_TEST_NAME: $*" >&2
	if declare -F fail_hook >/dev/null; then
		fail_hook >&2
	fi
	exit 1
}

# skip MSG: "SKIP NAME: MSG" on stderr, exit 77 (tests/run.sh counts a skip)
skip() {
	echo "SKIP $SKIFF_TEST_NAME: $*" >&2
	exit 77
}

# pid_alive PID [PATTERN]: PID runs, is not a zombie, and (with PATTERN) its
# command line contains PATTERN, which guards against a recycled pid
pid_alive() {
	local cmd
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
	[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ] || return 1
	[ -z "${2:-}" ] && return 0
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
	[[ $cmd == *"$2"* ]]
}

# proc_start PID: the process's start time (clock ticks since boot, field 22
# of /proc/PID/stat), which tells a process from a later one given its pid
proc_start() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	# shellcheck disable=SC2086
	set -- $st
	echo "${20}"
}

# same_process PID START: PID still runs (not a zombie) and is the process
# that started at START (see proc_start), not a recycled pid
same_process() {
	pid_alive "$1" && [ "$(proc_start "$1")" = "$2" ]
}

# poll SECONDS CMD [ARG...]: run CMD (output discarded) every POLL_INTERVAL
# (0.05 s) until it succeeds: 0, or 1 after SECONDS. Sets WAITED_MS.
WAITED_MS=0
poll() {
	local secs=$1 t0 deadline
	shift
	t0=$(now_ms)
	deadline=$((t0 + secs * 1000))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep "${POLL_INTERVAL:-0.05}"
	done
	# shellcheck disable=SC2034 # read by the scripts that source this file
	WAITED_MS=$(($(now_ms) - t0))
}

# wait_until DESC SECONDS CMD [ARG...]: poll, and fail with DESC after SECONDS
wait_until() {
	local desc=$1 secs=$2
	shift 2
	poll "$secs" "$@" || fail "timed out after ${secs}s waiting for $desc"
}

# wait_gone SECONDS PID [PATTERN]: until PID no longer runs; 1 after SECONDS
pid_gone() { ! pid_alive "$@"; }
wait_gone() {
	local secs=$1
	shift
	poll "$secs" pid_gone "$@"
}
