#!/bin/bash
# self_healing.sh — e2e on a 3-node lab: 6 replicas spread 2/2/2 and Running;
# kill -9 of a container's main process restarts the same pod on the same
# node (restart count +1, an event recorded); kill -9 of an agent stops no
# container, and the restarted agent restarts none (same pids); in a pod of
# two containers the sidecar reaches the other over the pod's localhost, and
# a kill -9 of one restarts that one only.
. "$(dirname "$0")/lib.sh"
e2e_start 130
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
	pod_restarted "$pod" "$uid" "$node" "$restarts" "$pid" && pid_alive "$RESTARTED_PID"
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
# The agent's shims are its children (shim --foreground): it reaps the one
# that ended, and every other child of it is a live shim.
no_zombie() {
	local apid
	apid=$(cat "$E2E_LAB/run/$node.pid") && [ -n "$apid" ] &&
		! ps --ppid "$apid" -o stat= | grep -q Z
}
wait_until "the agent of $node to leave no zombie child" 5 no_zombie
[ "$(ps --ppid "$(cat "$E2E_LAB/run/$node.pid")" -o comm= | sort -u)" = skiff-runtime ] ||
	fail "the agent of $node has children other than its shims: $(ps --ppid "$(cat "$E2E_LAB/run/$node.pid")" -o pid=,stat=,args=)"
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

# --- a pod of two containers (a sidecar) -----------------------------------------
# web serves a token made at its start on 127.0.0.1:8080 of the pod; probe,
# the sidecar, prints what it fetches there every 0.2 s
cat >"$E2E_TMP/side.yaml" <<EOF
apiVersion: skiff/v1
kind: Deployment
metadata:
  name: side
  labels: {app: side}
spec:
  replicas: 1
  selector:
    matchLabels: {app: side}
  template:
    metadata:
      labels: {app: side}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: web
          image: $E2E_IMAGE
          command: ["sh", "-c", $(yaml_quote 'mkdir -p /tmp/www && echo "token-$(cat /proc/sys/kernel/random/uuid)" >/tmp/www/index.html && trap "exit 0" TERM && httpd -f -p 127.0.0.1:8080 -h /tmp/www & wait $!')]
        - name: probe
          image: $E2E_IMAGE
          command: ["sh", "-c", $(yaml_quote 'trap "exit 0" TERM; while :; do wget -qO- http://127.0.0.1:8080/ 2>/dev/null; sleep 0.2 & wait $!; done')]
EOF
ctl apply -f "$E2E_TMP/side.yaml" >/dev/null || fail "apply of a two-container pod: $(ctl apply -f "$E2E_TMP/side.yaml" 2>&1)"
wait_until "the two-container pod Running" 30 all_running app=side 1
side=$(q pods '.[0].metadata.name' -l app=side)
cstat() { # cstat CONTAINER -> "restarts pid"
	q pods '.[0].status.containerStatuses[] | select(.name == "'"$1"'")
		| "\(.restartCount // 0) \(.pid // 0)"' -l app=side
}
last_token() { ctl logs "$side" -c probe --tail 1 2>/dev/null | grep -o 'token-[0-9a-f-]*'; }
wait_until "the sidecar to reach web over the pod's localhost" 15 last_token
token=$(last_token)
read -r web_r web_pid <<<"$(cstat web)"
read -r probe_r probe_pid <<<"$(cstat probe)"
step "$side: probe fetched $token from web over localhost; kill -9 web (pid $web_pid)"
web_back() {
	local r p
	read -r r p <<<"$(cstat web)"
	[ "$r" = $((web_r + 1)) ] && [ "$p" != "$web_pid" ] && pid_alive "$p"
}
kill -9 "$web_pid"
wait_until "the web container of $side to restart" 15 web_back
new_token() { local t; t=$(last_token) && [ "$t" != "$token" ]; }
wait_until "the sidecar to reach the restarted web" 15 new_token
[ "$(cstat probe)" = "$probe_r $probe_pid" ] || fail "the sidecar restarted with web: $(cstat probe), was $probe_r $probe_pid"
step "web restarted alone (restart count $((web_r + 1))); the sidecar, untouched, fetches $(last_token)"
