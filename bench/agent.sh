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
#    Then the gateway demo (needs `make images`): a steady stream of GETs
#    through the gateway while a users backend is killed, each of the 3
#    once; the longest request is the client's stall (goal: under 100 ms;
#    the pod's IP answers with RST while its container is replaced).
# 2. The agent alone, with the fake brain of tests/integration/test_agent
#    (SKIFF_TEST=t_bench, a private network namespace): kill -9 -> running
#    reported (KILLS over AGENT_PODS pods) and the agent's RSS with 0 and
#    with AGENT_PODS pods. Skipped when the test binary is not built.
#
# Usage: bench/agent.sh   (PODS=12 AGENT_PODS=100 KILLS=60 to change them;
#        KEEP_EVENTS=FILE keeps the kernel's exec/exit events of part 1)
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
# shellcheck disable=SC2034 # read by tests/e2e/lib.sh and tests/lib/skiff-test.sh
E2E_NAME=bench-agent SKIFF_TEST_NAME=bench-agent
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

# the demo image (make images) for the gateway part; skipped without it
DEMO_IMAGES=$BUILD/images
case "$DEMO_IMAGES" in /*) ;; *) DEMO_IMAGES=$E2E_ROOT/$DEMO_IMAGES ;; esac
HTTPLOAD=$SKIFF_BIN/../examples/bin/httpload
if [ -x "$DEMO_IMAGES/skiff-demo:1/bin/gateway" ] && [ -x "$HTTPLOAD" ]; then
	export SKIFF_IMAGES=$DEMO_IMAGES
else
	DEMO_IMAGES=
fi
lab_up 3
cp "$PAUSE" "$E2E_LAB/images/$E2E_IMAGE/bin/pause"
apply_deployment bench "$PODS" v1 '["pause"]'
wait_until "$PODS replicas Running" 120 all_running app=bench "$PODS"

# the kernel's exec/exit events, and a user's watch stream, both to files
"$SKIFF_BIN/skiff-execwatch" >"$E2E_TMP/proc.events" 2>"$E2E_TMP/execwatch.err" &
EW_PID=$!
# subscribed within 10 s; a watcher that ended says why
for ((i = 0; i < 200; i++)); do
	grep -q '^ready' "$E2E_TMP/proc.events" && break
	kill -0 "$EW_PID" 2>/dev/null || fail "$(cat "$E2E_TMP/execwatch.err")"
	sleep 0.05
done
grep -q '^ready' "$E2E_TMP/proc.events" || fail "skiff-execwatch not subscribed after 10 s"
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
[ -n "${KEEP_EVENTS:-}" ] && cp "$E2E_TMP/proc.events" "$KEEP_EVENTS"
grep -q '^lost' "$E2E_TMP/proc.events" && echo "  (the process connector lost events: figures may be missing)"
printf '  %-46s %s\n' "exit -> replacement exec'ed (kernel events)" "$(figures "$E2E_TMP/kernel")"
printf '  %-46s %s\n' "kill -> Running on 'skiffctl get pods -w'" "$(figures "$E2E_TMP/watch")"
printf '  %-46s %s\n' "per kill, kernel (ms)" "$(tr '\n' ' ' <"$E2E_TMP/kernel")"
exec {WATCH_FD}<&- {NAP_FD}<&-
bench_stop
ctl delete deployment bench >/dev/null 2>&1 || true

# ready_n SELECTOR N: exactly N pods Running and ready
ready_n() {
	[ "$(q pods '[.[] | select(.status.phase == "Running" and .status.ready == true)] | length' \
		-l "$1")" = "$2" ]
}
echo
if [ -z "$DEMO_IMAGES" ]; then
	echo "== gateway demo: skipped (no demo image: make images)"
else
	echo "== gateway demo: a steady stream of GETs (1,000/s over 8 connections, 2 s) through the gateway while a users backend is killed (kill -9, each of the 3 once; load average $(cut -d' ' -f1 /proc/loadavg))"
	[ -e "$E2E_LAB/images/skiff-demo:1" ] || ln -sfn "$DEMO_IMAGES/skiff-demo:1" "$E2E_LAB/images/skiff-demo:1"
	ctl apply -f "$E2E_ROOT/examples/gateway/" >/dev/null || fail "skiffctl apply -f examples/gateway/"
	wait_until "3 users ready" 90 ready_n app=users 3
	wait_until "2 orders ready" 90 ready_n app=orders 2
	wait_until "the gateway ready" 90 ready_n app=gateway 1
	gw=http://$(q pods '.[0].status.podIp // empty' -l app=gateway):8080
	wait_until "the gateway answering" 20 curl -fs -o /dev/null --max-time 1 "$gw/healthz"
	stream() { # stream FILE: the 2 s stream, its JSON summary in FILE
		"$HTTPLOAD" -d 2 -c 8 -r 1000 "$gw/users/%d" >"$1" 2>/dev/null || true
	}
	stream "$E2E_TMP/calm.json"
	summary() { # summary FILE: "MAX P99 OK FAILED" of a stream, ms to 0.1
		jq -r '"\(.max_ms * 10 | round / 10) \(.p99_ms * 10 | round / 10) \(.ok) \(.failed)"' "$1"
	}
	read -r max p99 ok failed < <(summary "$E2E_TMP/calm.json")
	printf '  %-46s longest request %s ms, p99 %s ms (%s ok, %s failed)\n' "no kill" \
		"$max" "$p99" "$ok" "$failed"
	: >"$E2E_TMP/stalls"
	for i in 0 1 2; do
		pid=$(q pods 'sort_by(.metadata.name) | .['"$i"'].status.containerStatuses[0].pid // 0' \
			-l app=users)
		[ "$pid" -gt 1 ] || fail "no pid for users pod $i"
		stream "$E2E_TMP/kill$i.json" &
		sp=$!
		sleep 0.7
		kill -9 "$pid"
		wait "$sp" || true
		summary "$E2E_TMP/kill$i.json" >>"$E2E_TMP/stalls"
		wait_until "3 users ready again" 60 ready_n app=users 3
	done
	while read -r max p99 ok failed; do
		printf '  %-46s longest request %s ms, p99 %s ms (%s ok, %s failed)\n' \
			"a users backend killed" "$max" "$p99" "$ok" "$failed"
	done <"$E2E_TMP/stalls"
	printf '  %-46s %s ms (goal: under 100 ms)\n' "longest stall over the 3 kills" \
		"$(awk '{ print $1 }' "$E2E_TMP/stalls" | sort -g | tail -n 1)"
	ctl delete -f "$E2E_ROOT/examples/gateway/" --ignore-not-found >/dev/null 2>&1 || true
fi

if [ -x "$t" ]; then
	echo
	echo "== the agent alone (fake brain, private network namespace)"
	SKIFF_TEST=t_bench SKIFF_AGENT_BENCH_PODS=${AGENT_PODS:-100} \
		SKIFF_AGENT_BENCH_KILLS=${KILLS:-60} timeout -k 10 600 "$t" 2>/dev/null |
		grep '^agent:' | sed 's/^/  /' || true
fi
