#!/bin/bash
# lab-checks.sh — the demo checks against a running Skiff cluster (the lab).
#
#   examples/common/lab-checks.sh [gateway] [queue] [fanout] [replica]   (default: all)
#
# Needs: SKIFF_CONFIG for skiffctl ($SKIFF_BIN/skiffctl, else build/bin), the
# demo image in the agents' image dir (`make images`, linked by skiff-lab or
# scripts/demo.sh), pod IPs reachable from this machine (the lab routes them),
# curl and jq. Each check applies examples/<demo>/, waits for its pods, runs
# the same assertions as the standalone tests (examples/common/testlib.sh)
# with kill -9 of real container processes, and deletes the demo's objects
# again. Exit 0 when every check passed. Meant to be called by the lab's e2e
# test after `lab_up`, or by hand on `make demo`'s cluster.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
. examples/common/testlib.sh
SKIFF_BIN=${SKIFF_BIN:-$ROOT/build/bin}
CTL="$SKIFF_BIN/skiffctl"
[ -x "$CTL" ] || { echo "lab-checks: $CTL not built"; exit 77; }
command -v jq >/dev/null || { echo "lab-checks: jq is needed"; exit 77; }

ctl() { "$CTL" "$@"; }

# pods_json APP — the Running pods with label app=APP, as a JSON array.
pods_json() {
	ctl get pods -l "app=$1" -o json 2>/dev/null |
		jq -c '[(.items? // .) | if type == "array" then .[] else . end | select(.status.phase == "Running")]'
}

# wait_ready APP N SECONDS — until N pods of APP are Running and ready.
ready_count() { pods_json "$1" | jq '[.[] | select(.status.ready == true)] | length'; }
ready_at_least() { [ "$(ready_count "$1")" -ge "$2" ]; }
wait_ready() {
	POLL_INTERVAL=0.2 poll "$3" ready_at_least "$1" "$2" ||
		fail "app=$1: $(ready_count "$1") of $2 pods ready after $3 s"
}

pod_ip() { pods_json "$1" | jq -r '.[0].status.podIp // .[0].status.podIP // .[0].status.pod_ip // empty'; }
# pod_pid APP [INDEX] — host pid of the main process of a pod of APP.
pod_pid() {
	pods_json "$1" | jq -r ".[${2:-0}].status.containerStatuses[0].pid // .[${2:-0}].status.container_statuses[0].pid // empty"
}
pod_names() { pods_json "$1" | jq -r '.[].metadata.name'; }

# all_logs APP — the output of every pod of APP, restarted containers included.
all_logs() {
	local p
	for p in $(pod_names "$1"); do
		ctl logs "pod/$p" 2>/dev/null
		ctl logs --previous "pod/$p" 2>/dev/null
	done
}

demo_apply() {
	ctl apply -f "examples/$1/" >/dev/null || fail "skiffctl apply -f examples/$1/"
}

demo_delete() {
	ctl delete -f "examples/$1/" --ignore-not-found >/dev/null 2>&1 || true
}

lab_gateway() {
	echo "== lab: gateway"
	demo_apply gateway
	wait_ready users 3 60
	wait_ready orders 2 60
	wait_ready gateway 1 60
	local gw
	gw=http://$(pod_ip gateway):8080
	wait_http "$gw/healthz" 10
	check_gateway_spread "$gw/users/%d" 300 3
	check_gateway_spread "$gw/orders/%d" 10 2
	check_gateway_kill "$gw/users/%d" "kill -9 $(pod_pid users 1)"
	local st
	st=$(curl -fs "$gw/gateway/status")
	echo "gateway status: $(echo "$st" | jq -c '{workers, requests, failures,
		routes: [.routes[] | {prefix, endpoints: (.endpoints | length), retries, failures}]}')"
	demo_delete gateway
}

lab_queue() {
	echo "== lab: queue"
	demo_apply queue
	for a in queue orders-producer email webhook; do wait_ready $a 1 60; done
	local prod qurl got
	prod=http://$(pod_ip orders-producer):8080
	qurl=http://$(pod_ip queue):8080
	produce_orders "$prod/orders" 1000 100 >"$DEMO_TMP/produce.json" &
	local lp=$!
	sleep 2
	echo "killing an email worker (pid $(pod_pid email 0)) and the queue (pid $(pod_pid queue))"
	kill -9 "$(pod_pid email 0)"
	sleep 1
	kill -9 "$(pod_pid queue)"
	local killed up_ms=
	killed=$(now_ms)
	echo "queue killed at $(date +%T.%3N)"
	poll 30 curl -fs -o /dev/null --max-time 0.5 "$qurl/healthz" && up_ms=$(($(now_ms) - killed))
	echo "queue answering again ${up_ms:-?} ms after the kill"
	if [ -z "$up_ms" ] || [ "$up_ms" -gt 3000 ]; then
		local qp
		qp=$(pod_names queue | head -n 1)
		echo "--- slow queue restart: pod $qp (previous and current logs, events)"
		ctl logs --previous "pod/$qp" 2>&1 | tail -n 8
		ctl logs "pod/$qp" 2>&1 | head -n 12
		ctl get events 2>&1 | grep -i "queue" | tail -n 12
		local ip=${qurl#http://} ns
		ip=${ip%:*}
		for ns in $(ip netns list 2>/dev/null | awk '/skiff/ { print $1 }'); do
			ip -n "$ns" neigh show to "$ip" 2>/dev/null | sed "s/^/neighbour in $ns: /"
		done
	fi
	wait $lp || fail "orders not acknowledged: $(cat "$DEMO_TMP/produce.json")"
	echo "produced: $(cat "$DEMO_TMP/produce.json") at $(date +%T.%3N), producer $(curl -fs "$prod/stats")"
	for ((i = 0; i < 240; i++)); do
		all_logs email >"$DEMO_TMP/email.out"
		got=$(count_processed order "queue=orders" "$DEMO_TMP/email.out")
		[ "${got% *}" -ge 1000 ] && break
		((i % 10 == 0)) && echo "$(date +%T.%3N) processed ${got}: queue $(curl -fs --max-time 1 "$qurl/queues/orders")"
		sleep 0.1
	done
	echo "all processed $(($(now_ms) - killed)) ms after the queue was killed"
	grep -h "warn\|again\|error" "$DEMO_TMP/email.out" | head -20
	echo "orders processed: ${got% *} distinct of 1000, $((${got#* } - ${got% *})) duplicates"
	[ "${got% *}" = 1000 ] || fail "only ${got% *} of 1000 orders processed"
	demo_delete queue
}

group_processed_all() { # GROUP: its workers' logs show all 100 videos
	all_logs "$1" >"$DEMO_TMP/$1.out"
	processed_at_least 100 video "queue=$1" "$DEMO_TMP/$1.out"
}

lab_fanout() {
	echo "== lab: fanout"
	demo_apply fanout
	for a in fanout-queue topics compress notify analytics; do wait_ready $a 1 60; done
	local t g got
	t=http://$(pod_ip topics):8080
	"$HTTPLOAD" -n 100 -c 4 -X POST -b '{"type":"VideoUploaded","video":%d}' --retries 20 \
		"$t/topics/videos/publish" >/dev/null || fail "publishing 100 events"
	for g in compress notify analytics; do
		POLL_INTERVAL=1 poll 60 group_processed_all "$g"
		got=$(count_processed video "queue=$g" "$DEMO_TMP/$g.out")
		echo "$g: ${got% *} distinct of 100"
		[ "${got% *}" = 100 ] || fail "worker group $g processed ${got% *} of 100"
	done
	demo_delete fanout
}

lab_replica() {
	echo "== lab: replica"
	demo_apply replica
	wait_ready kv-primary 1 60
	wait_ready kv-replica 2 60
	local pri r1 r2
	pri=http://$(pod_ip kv-primary):8080
	r1=http://$(pods_json kv-replica | jq -r '.[0].status.podIp // .[0].status.pod_ip'):8080
	r2=http://$(pods_json kv-replica | jq -r '.[1].status.podIp // .[1].status.pod_ip'):8080
	write_keys "$pri" 1000 0
	wait_pos "$r1/status" 1000 30
	wait_pos "$r2/status" 1000 30
	echo "replication after 1000 writes: primary $(curl -fs "$pri/status")"
	check_keys "$r1" 0 500 999
	check_keys "$r2" 0 500 999
	local victim vpid
	victim=$(pods_json kv-replica | jq -r '.[1].metadata.name')
	vpid=$(pod_pid kv-replica 1)
	echo "killing replica $victim (pid $vpid)"
	kill -9 "$vpid"
	write_keys "$pri" 200 1000
	echo "primary while a replica restarts: $(curl -fs "$pri/status")"
	wait_pos "$r2/status" 1200 90
	check_keys "$r2" 1199
	local restarts
	restarts=$(ctl get pods -o json 2>/dev/null | jq -r --arg n "$victim" '[(.items? // .) |
		if type == "array" then .[] else . end | select(.metadata.name == $n) |
		.status.containerStatuses[0].restartCount // 0] | first // 0')
	[ "$restarts" -ge 1 ] || fail "replica $victim was not restarted after kill -9 (restarts $restarts)"
	echo "replica $victim restarted ($restarts restart) and caught up to 1200"
	local lag
	lag=$(curl -fs "$pri/status")
	echo "replica restarted and caught up: primary $lag"
	echo "$lag" | jq -e '.replicas | length >= 2 and all(.[]; has("lag_ms") and has("lag_records"))' >/dev/null ||
		fail "the primary's /status does not report each replica's lag: $lag"
	echo "replicas: $(curl -fs "$r1/status") $(curl -fs "$r2/status")"
	demo_delete replica
}

checks=("$@")
[ ${#checks[@]} -gt 0 ] || checks=(gateway queue fanout replica)
for c in "${checks[@]}"; do
	"lab_$c"
done
echo "lab-checks: ${checks[*]}: ok"
