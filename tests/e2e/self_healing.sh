#!/bin/bash
# self_healing.sh — e2e on a 3-node lab: 6 replicas spread 2/2/2 and Running;
# kill -9 of a container's main process restarts the same pod on the same
# node (restart count +1, an event recorded); kill -9 of an agent stops no
# container, and the restarted agent restarts none (same pids).
. "$(dirname "$0")/lib.sh"
e2e_start 100
# a long grace: the agent is away on purpose for a few seconds below, and
# this scenario is about the node healing itself, not about node loss
lab_up 3 --node-grace 15s

step "deploy 6 replicas"
t=$(now_ms)
apply_deployment web 6 v1
wait_until "6 web pods Running" 30 all_running app=web 6
step "6 replicas Running $(($(now_ms) - t)) ms after apply"
s=$(spread app=web)
[ "$s" = "vm1=2 vm2=2 vm3=2" ] || fail "replicas spread as '$s', want vm1=2 vm2=2 vm3=2"
running_pods app=web >"$E2E_TMP/before"
while read -r name node pid restarts uid; do
	[ "$pid" -gt 1 ] && pid_alive "$pid" || fail "pod $name on $node reports pid $pid, not a live process"
done <"$E2E_TMP/before"

# --- kill -9 of a container's main process ------------------------------------
read -r pod node pid restarts uid <"$E2E_TMP/before"
step "kill -9 the main process of $pod on $node (pid $pid, restarts $restarts)"
restarted() { # the same pod (uid), same node, Running, one more restart, a new live pid
	local got
	got=$(q pods '.[] | select(.metadata.name == "'"$pod"'" and .status.phase == "Running")
		| [.metadata.uid, .spec.nodeName, (.status.containerStatuses[0].restartCount // 0),
		   (.status.containerStatuses[0].pid // 0)] | map(tostring) | join(" ")') || return 1
	read -r g_uid g_node g_restarts g_pid <<<"$got"
	[ "$g_uid" = "$uid" ] && [ "$g_node" = "$node" ] && [ "$g_restarts" = $((restarts + 1)) ] &&
		[ "$g_pid" != "$pid" ] && [ "$g_pid" -gt 1 ] && pid_alive "$g_pid"
}
kill -9 "$pid"
wait_until "$pod to restart on $node with restart count $((restarts + 1))" 15 restarted
step "$pod Running again on $node, restart count $((restarts + 1)), seen by skiffctl $WAITED_MS ms after the kill"
restart_event() {
	local n
	n=$(q events '[.[] | select(.objectName == "'"$pod"'") | ((.reason // "") + " " + (.message // ""))
		| select(test("restart|kill|exit|signal|crash|back-?off|died"; "i"))] | length') &&
		[ "$n" -gt 0 ]
}
wait_until "an event about the restart of $pod" 10 restart_event
step "event: $(q events '[.[] | select(.objectName == "'"$pod"'")] | last
	| "\(.reason): \(.message)"')"
all_running app=web 6 || fail "after the container kill: not exactly 6 web pods Running"
[ "$(running_pods app=web | awk '{print $1}' | sort | tr '\n' ' ')" = \
	"$(awk '{print $1}' "$E2E_TMP/before" | sort | tr '\n' ' ')" ] ||
	fail "the pods changed after a container kill (a replacement instead of a restart)"

# --- kill -9 of an agent --------------------------------------------------------
running_pods app=web >"$E2E_TMP/before"
step "kill -9 the agent of vm2"
lab kill vm2 >/dev/null
for _ in 1 2 3 4; do # 2 s without an agent
	while read -r name node pid restarts uid; do
		pid_alive "$pid" || fail "container of $name on $node (pid $pid) stopped while the agent was dead"
	done <"$E2E_TMP/before"
	sleep 0.5
done
step "containers all alive 2 s after the agent died; restarting it"
lab start vm2 >/dev/null
wait_until "vm2 Ready again" 15 nodes_ready 3
step "vm2 Ready $WAITED_MS ms after the agent restart"
sleep 2 # time for a wrong restart to show
running_pods app=web >"$E2E_TMP/after"
if ! diff -u "$E2E_TMP/before" "$E2E_TMP/after" >"$E2E_TMP/diff"; then
	cat "$E2E_TMP/diff" >&2
	fail "pods, pids or restart counts changed across an agent restart"
fi
while read -r name node pid restarts uid; do
	pid_alive "$pid" || fail "container of $name (pid $pid) is gone after the agent restart"
done <"$E2E_TMP/after"
step "after the agent restart: same 6 pods, same pids, same restart counts"
