#!/bin/bash
# node_loss.sh — e2e on a 3-node lab with the default node grace (3 s):
# a node taken away (its agent and containers killed, its link down) has its
# pods Running on the other nodes within the grace plus a scheduling pass,
# and a `skiffctl logs -f` of one of its pods ends saying the node's agent was
# lost; when it comes back nothing runs twice. Then kill -9 of the brain stops no
# container; restarted, its state is intact, agents reconnect and scaling
# works again.
. "$(dirname "$0")/lib.sh"
e2e_start 120
GRACE_S=3
lab_up 3

apply_deployment web 6 v1
wait_until "6 web pods Running" 30 all_running app=web 6
s=$(spread app=web)
[ "$s" = "vm1=2 vm2=2 vm3=2" ] || fail "replicas spread as '$s', want vm1=2 vm2=2 vm3=2"

# containers that really run on each VM, from the runtimes' own state
# ("running" containers under that VM's state dir)
live_containers() { # live_containers vmI -> count
	local d n=0 c
	for d in $(find "$E2E_LAB/$1/state" -maxdepth 4 -name state -type f -printf '%h\n' 2>/dev/null |
		sed 's|/[^/]*$||' | sort -u); do
		c=$("$SKIFF_BIN/skiff-runtime" list --state "$d" --json 2>/dev/null |
			jq '[.. | objects | select(.status? == "running")] | length' 2>/dev/null || echo 0)
		n=$((n + c))
	done
	echo "$n"
}

# --- a node taken away ----------------------------------------------------------
moved() { # 6 Running, none on vm2
	all_running app=web 6 && [[ $(spread app=web) != *vm2=* ]]
}
running_pods app=web | grep -v ' vm2 ' >"$E2E_TMP/survivors"
# a `logs -f` of a pod on vm2 that the loss of vm2 must end with a clear line
# (bounded by timeout, so it cannot outlive a failed scenario)
follow_pod=$(running_pods app=web | awk '$2 == "vm2" { print $1; exit }')
timeout 30 "$SKIFF_BIN/skiffctl" logs -f "$follow_pod" >"$E2E_TMP/follow.out" 2>"$E2E_TMP/follow.err" &
follow_pid=$!
sleep 1 # (time to open the stream; a slower start meets the node gone: also one clear line)
step "take vm2 away (agent and containers killed, link down)"
t=$(now_ms)
lab node-down vm2 >/dev/null
wait_until "vm2's pods Running on vm1 and vm3" $((GRACE_S + 12)) moved
lost_ms=$(($(now_ms) - t))
step "vm2's pods Running elsewhere $lost_ms ms after the node went away (grace ${GRACE_S}s): $(spread app=web)"
[ "$lost_ms" -le $((GRACE_S * 1000 + 5000)) ] ||
	fail "pods took $lost_ms ms to move, more than the grace (${GRACE_S}s) plus 5 s"
[ "$(node_ready vm2)" != True ] || fail "vm2 is still Ready while away"
follow_ended() { ! kill -0 "$follow_pid" 2>/dev/null; }
wait_until "skiffctl logs -f of $follow_pod to end after its node went away" 10 follow_ended
follow_rc=0
wait "$follow_pid" || follow_rc=$?
[ "$follow_rc" != 0 ] && grep -qE "vm2: the agent's connection was lost|node vm2 .*is not connected" \
	"$E2E_TMP/follow.err" ||
	fail "logs -f of $follow_pod on the lost node: exit $follow_rc, stderr: $(cat "$E2E_TMP/follow.err")"
step "logs -f of $follow_pod ended with exit $follow_rc: $(head -n 1 "$E2E_TMP/follow.err")"
while read -r name node pid _; do
	pid_alive "$pid" || fail "$name on $node (pid $pid) stopped though its node stayed"
done <"$E2E_TMP/survivors"

# --- the node comes back ----------------------------------------------------------
step "bring vm2 back"
lab node-up vm2 >/dev/null
wait_until "vm2 Ready again" 20 nodes_ready 3
step "vm2 Ready again after $WAITED_MS ms"
sleep 2 # time for a wrong start to show
all_running app=web 6 || fail "not exactly 6 web pods Running after vm2 came back"
n=$(q pods '[.[] | .metadata.name] | group_by(.) | map(select(length > 1)) | length' -l app=web)
[ "$n" = 0 ] || fail "a pod name appears twice after vm2 came back"
total=0
for vm in vm1 vm2 vm3; do
	c=$(live_containers "$vm")
	b=$(q pods '[.[] | select(.spec.nodeName == "'"$vm"'" and .status.phase == "Running")] | length')
	[ "$c" = "$b" ] || fail "$vm runs $c containers but the brain has $b pods Running there"
	total=$((total + c))
done
[ "$total" = 6 ] || fail "$total containers run in the lab, want 6"
step "nothing runs twice: 6 containers in the lab, each node runs what the brain bound to it"

# --- kill -9 of the brain -------------------------------------------------------------
running_pods app=web >"$E2E_TMP/before"
step "kill -9 the brain"
lab kill brain >/dev/null
sleep 2
while read -r name node pid _; do
	pid_alive "$pid" || fail "$name on $node (pid $pid) stopped while the brain was dead"
done <"$E2E_TMP/before"
step "every container alive 2 s after the brain died; restarting it"
t=$(now_ms)
lab start brain >/dev/null
wait_until "3 nodes Ready after the brain restart" 20 nodes_ready 3
step "agents reconnected, 3 nodes Ready $(($(now_ms) - t)) ms after the brain restart"
wait_until "the 6 pods Running after the brain restart" 10 all_running app=web 6
running_pods app=web >"$E2E_TMP/after"
diff -u "$E2E_TMP/before" "$E2E_TMP/after" >&2 ||
	fail "pods, nodes, pids or restart counts changed across a brain restart"
step "state intact: the same 6 pods, uids, nodes and pids"
ctl scale deployment web --replicas 9 >/dev/null || fail "skiffctl scale after the brain restart failed"
wait_until "9 web pods Running after scaling up" 20 all_running app=web 9
while read -r name _ pid _; do
	pid_alive "$pid" || fail "$name (pid $pid) stopped when the deployment was scaled up"
done <"$E2E_TMP/before"
step "scaled to 9 after the brain restart: $(spread app=web)"
