#!/bin/bash
# operations.sh — e2e on a 3-node lab: scale up and down, drain a node,
# rolling update to a new command and `rollout undo`, and a pod that cannot
# be scheduled saying why, node by node.
. "$(dirname "$0")/lib.sh"
e2e_start 120
lab_up 3

apply_deployment web 3 v1
wait_until "3 web pods Running" 30 all_running app=web 3

# --- scale ------------------------------------------------------------------------
ctl scale deployment web --replicas 7 >/dev/null || fail "skiffctl scale --replicas 7 failed"
wait_until "7 web pods Running" 20 all_running app=web 7
step "scaled up to 7 in $WAITED_MS ms: $(spread app=web)"
ctl scale deployment web --replicas 2 >/dev/null || fail "skiffctl scale --replicas 2 failed"
wait_until "exactly 2 web pods left" 20 all_running app=web 2
step "scaled down to 2 in $WAITED_MS ms: $(spread app=web)"
replicas=$(q deployments '.[] | select(.metadata.name == "web") | .spec.replicas')
[ "$replicas" = 2 ] || fail "deployment web has spec.replicas $replicas after scaling to 2"

# --- drain ----------------------------------------------------------------------------
ctl scale deployment web --replicas 3 >/dev/null || fail "skiffctl scale --replicas 3 failed"
wait_until "3 web pods Running" 20 all_running app=web 3
drained() { all_running app=web 3 && [[ $(spread app=web) != *vm1=* ]]; }
ctl drain vm1 >/dev/null || fail "skiffctl drain vm1 failed: $(ctl drain vm1 2>&1)"
wait_until "vm1 drained, its pods Running on vm2 and vm3" 20 drained
step "vm1 drained in $WAITED_MS ms: $(spread app=web)"
[ "$(q nodes '.[] | select(.metadata.name == "vm1") | .spec.unschedulable // false')" = true ] ||
	fail "vm1 is not unschedulable after drain"
ctl scale deployment web --replicas 5 >/dev/null || fail "skiffctl scale --replicas 5 failed"
wait_until "5 web pods Running" 20 all_running app=web 5
[[ $(spread app=web) == *vm1=* ]] && fail "a pod was placed on the drained vm1: $(spread app=web)"
ctl uncordon vm1 >/dev/null || fail "skiffctl uncordon vm1 failed"
[ "$(q nodes '.[] | select(.metadata.name == "vm1") | .spec.unschedulable // false')" = false ] ||
	fail "vm1 is still unschedulable after uncordon"
step "uncordoned vm1"

# --- rolling update and undo ------------------------------------------------------
tags_are() { all_running app=web "$1" && [ "$(pod_tags app=web)" = "$2" ]; }
step "rolling update of web from v1 to v2"
t=$(now_ms)
apply_deployment web 5 v2
timeout 60 "$SKIFF_BIN/skiffctl" rollout status deployment web >"$E2E_TMP/rollout" 2>&1 ||
	fail "skiffctl rollout status deployment web failed: $(cat "$E2E_TMP/rollout")"
wait_until "5 pods Running v2" 30 tags_are 5 v2
step "rolled out to v2 in $(($(now_ms) - t)) ms ('rollout status': $(tail -n 1 "$E2E_TMP/rollout"))"
t=$(now_ms)
ctl rollout undo deployment web >/dev/null || fail "skiffctl rollout undo deployment web failed"
wait_until "5 pods back on v1 after rollout undo" 60 tags_are 5 v1
step "rollout undo: 5 pods Running v1 again in $(($(now_ms) - t)) ms"
[ "$(q deployments '.[] | select(.metadata.name == "web")
	| .spec.template.spec.containers[0].command[-1]')" = v1 ] ||
	fail "deployment web's template is not v1 after rollout undo"

# --- a pod that cannot be scheduled ---------------------------------------------------
cat >"$E2E_TMP/huge.yaml" <<EOF
apiVersion: skiff/v1
kind: Pod
metadata:
  name: huge
spec:
  containers:
    - name: main
      image: $E2E_IMAGE
      command: ["sleep", "3600"]
      resources:
        requests:
          memory: 64Ti
EOF
ctl apply -f "$E2E_TMP/huge.yaml" >/dev/null || fail "skiffctl apply of pod huge failed"
why() { # the reasons name every node and the resource
	local text
	text=$(
		ctl describe pod huge 2>/dev/null
		q events '.[] | select(.objectName == "huge") | .message'
	)
	for n in vm1 vm2 vm3; do grep -q "$n" <<<"$text" || return 1; done
	grep -qi memory <<<"$text"
}
wait_until "pod huge to say, per node, why it cannot be scheduled" 15 why
phase=$(q pods '.[] | select(.metadata.name == "huge") | .status.phase')
[ "$phase" = Pending ] || fail "pod huge is '$phase', want Pending"
step "pod huge Pending: $(q events '[.[] | select(.objectName == "huge")] | last | .message')"
