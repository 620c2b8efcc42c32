#!/bin/bash
# bench/agent.sh — skiff-agent's self-healing, timed by the kernel and by a
# user. Prints figures only; asserts nothing about them; needs root.
#
# 1. On the 3-node lab (tests/e2e/lib.sh, the lab lock): a deployment of
#    PODS (12) replicas running `pause`; each pod's container is killed once
#    (kill -9 of its main process, one pod after the other) and timed
#      - by the kernel: the killed process's exit -> its replacement's exec,
#        both from the netlink process connector (skiff-execwatch,
#        bench/execwatch.c; the kernel's own CLOCK_MONOTONIC timestamps);
#      - as a user sees it: kill -> the pod's row Running with its restart
#        count one higher on a `skiffctl get pods -w` stream.
#    Goals (issue 14): median <= 8 ms, p90 <= 15 ms by the kernel.
# 2. The agent alone, with the fake brain of tests/integration/test_agent
#    (SKIFF_AGENT_BENCH=1, a private network namespace): kill -9 -> running
#    reported (KILLS over AGENT_PODS pods) and the agent's RSS with 0 and
#    with AGENT_PODS pods. Skipped when the test binary is not built.
#
# Usage: bench/agent.sh   (PODS=12 AGENT_PODS=100 KILLS=60 to change them)
set -u
BUILD=${BUILD:-build}
PODS=${PODS:-12}
t=$BUILD/tests/integration/test_agent
if [ "$(id -u)" != 0 ]; then
	echo "agent: skipped (needs root)"
	exit 0
fi
for b in skiff-execwatch skiff-agent skiff-orchestrator skiffctl; do
	if [ ! -x "$BUILD/bin/$b" ]; then
		echo "agent: skipped ($BUILD/bin/$b not built; make)"
		exit 0
	fi
done

pct() { # pct P < numbers: the P-th percentile (nearest rank)
	sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
		i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; print v[i] }'
}
figures() { # figures FILE: "median N ms, p90 N ms, max N ms (n N)"
	printf 'median %s ms, p90 %s ms, max %s ms (%d kills)' "$(pct 50 <"$1")" "$(pct 90 <"$1")" \
		"$(pct 100 <"$1")" "$(wc -l <"$1")"
}

E2E_LAB=${E2E_LAB:-/tmp/skiff-bench-agent}
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/../tests/e2e/lib.sh"
# shellcheck disable=SC2034 # read by tests/e2e/lib.sh
E2E_NAME=bench-agent
PAUSE=$SKIFF_BIN/../examples/bin/pause
[ -x "$PAUSE" ] || fail "$PAUSE missing (make)"
e2e_start 600
EW_PID='' WATCH_PID=''
bench_stop() { # end skiff-execwatch and the watch stream (ours, by pid)
	local p
	for p in $EW_PID $WATCH_PID; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	EW_PID='' WATCH_PID=''
}
trap 'rc=$?; bench_stop; (exit $rc); e2e_exit' EXIT

lab_up 3
cp "$PAUSE" "$E2E_LAB/images/$E2E_IMAGE/bin/pause"
apply_deployment bench "$PODS" v1 '["pause"]'
wait_until "$PODS replicas Running" 120 all_running app=bench "$PODS"

# the kernel's exec/exit events, and a user's watch stream, both to files
"$SKIFF_BIN/skiff-execwatch" >"$E2E_TMP/proc.events" 2>"$E2E_TMP/execwatch.err" &
EW_PID=$!
wait_until "skiff-execwatch subscribed" 10 grep -q '^ready' "$E2E_TMP/proc.events"
: >"$E2E_TMP/watch.out"
timeout 600 "$SKIFF_BIN/skiffctl" get pods -l app=bench -w --no-headers \
	>"$E2E_TMP/watch.out" 2>/dev/null &
WATCH_PID=$!
exec {WATCH_FD}<"$E2E_TMP/watch.out"
mkfifo "$E2E_TMP/nap"
exec {NAP_FD}<>"$E2E_TMP/nap"
sleep 1 # the watch's first listing

echo
echo "== kill -9 of a container's main process -> its replacement ($PODS pods on 3 nodes, each killed once; load average $(cut -d' ' -f1 /proc/loadavg))"
: >"$E2E_TMP/kernel" && : >"$E2E_TMP/watch"
running_pods app=bench >"$E2E_TMP/pods"
[ "$(wc -l <"$E2E_TMP/pods")" = "$PODS" ] || fail "not $PODS Running pods: $(cat "$E2E_TMP/pods")"
while read -r pod _ pid restarts _; do
	[ "$pid" -gt 1 ] || fail "no pid for pod $pod"
	want=$((restarts + 1))
	# skip the rows already streamed
	while IFS= read -r -t 0.01 _ <&"$WATCH_FD"; do :; done
	t0=${EPOCHREALTIME/[.,]/}
	kill -9 "$pid"
	part='' seen=0
	while [ "$seen" = 0 ]; do
		if ! IFS= read -r line <&"$WATCH_FD"; then
			part+=$line
			read -r -t 0.002 -u "$NAP_FD" _ || true
			now=${EPOCHREALTIME/[.,]/}
			[ $((now - t0)) -gt 30000000 ] && fail "$pod not Running again on the watch 30 s after the kill"
			continue
		fi
		line=$part$line part=''
		set -f
		# shellcheck disable=SC2206 # split on blanks, no globbing
		f=($line)
		set +f
		[ "${f[0]:-}" = "$pod" ] && [ "${f[2]:-}" = Running ] && [ "${f[3]:-}" = "$want" ] && seen=1
	done
	now=${EPOCHREALTIME/[.,]/}
	echo $(((now - t0 + 500) / 1000)) >>"$E2E_TMP/watch"
	new=$(q pods '.[0].status.containerStatuses[0].pid // 0' "$pod")
	[ "$new" -gt 1 ] && [ "$new" != "$pid" ] || fail "$pod: no new pid after the kill ($new)"
	sleep 0.2 # the replacement's exec is seen by now
	# the old process's exit, then the new one's last exec (the workload's;
	# the runtime's own execs of that pid come before it)
	ms=$(awk -v old="$pid" -v new="$new" '
		$1 == "exit" && $3 == old { t = $2 }
		$1 == "exec" && $3 == new && t { e = $2 }
		END { if (t && e) printf "%.2f\n", (e - t) / 1e6 }' "$E2E_TMP/proc.events")
	[ -n "$ms" ] || fail "$pod: no exit of $pid or exec of $new among the kernel's events"
	echo "$ms" >>"$E2E_TMP/kernel"
done <"$E2E_TMP/pods"
grep -q '^lost' "$E2E_TMP/proc.events" && echo "  (the process connector lost events: figures may be missing)"
printf '  %-46s %s\n' "exit -> replacement exec'ed (kernel events)" "$(figures "$E2E_TMP/kernel")"
printf '  %-46s %s\n' "kill -> Running on 'skiffctl get pods -w'" "$(figures "$E2E_TMP/watch")"
printf '  %-46s %s\n' "per kill, kernel (ms)" "$(tr '\n' ' ' <"$E2E_TMP/kernel")"
exec {WATCH_FD}<&- {NAP_FD}<&-
bench_stop
ctl delete deployment bench >/dev/null 2>&1 || true

if [ -x "$t" ]; then
	echo
	echo "== the agent alone (fake brain, private network namespace)"
	SKIFF_AGENT_BENCH=1 SKIFF_AGENT_BENCH_PODS=${AGENT_PODS:-100} \
		SKIFF_AGENT_BENCH_KILLS=${KILLS:-60} timeout -k 10 600 "$t" 2>/dev/null |
		grep '^agent:' | sed 's/^/  /' || true
fi
