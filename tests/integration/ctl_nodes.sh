#!/bin/bash
# ctl_nodes.sh — the real skiffctl against a real skiff-orchestrator with two
# hollow nodes (skiff-hollow: fake nodes that report their pods Running), all
# on 127.0.0.1: rollout status to success, rollout history/undo, get -w,
# logs, describe of a node and of an unschedulable pod, cordon, uncordon,
# drain. Every process is started here and killed by pid at the end.
set -u
. "$(dirname "$0")/lib/ctlbrain.sh"
HOLLOW=$BIN/skiff-hollow
hollow_log() { echo "--- hollow log:"; tail -n 5 "$T/hollow.log"; }
# shellcheck disable=SC2034 # read by lib/ctlbrain.sh
CTL_FAIL_EXTRA=hollow_log
ctl_init skiff-ctl-nodes "$HOLLOW"
brain_up 18000

# shellcheck disable=SC2154 # port and brain_dir are set by brain_up
"$HOLLOW" nodes --server "127.0.0.1:$port" --token "$(cat "$brain_dir/join-token")" \
	--count 2 --cpu 4 --memory 8Gi >"$T/hollow.log" 2>&1 &
ctl_started "$!"
ready_nodes() { [ "$("$CTL" get nodes 2>/dev/null | grep -c ' Ready ')" = 2 ]; }
wait_for 10 ready_nodes || fail "two hollow nodes did not become Ready"
run 0 get nodes -o wide
has out "^NAME  *STATUS  *ROLES  *AGE  *VERSION  *INTERNAL-IP  *POD-CIDR  *CPU  *MEMORY$"
has out "^hollow-0  *Ready  .* 4  *8Gi$"

cat >"$T/web.yaml" <<'EOF'
apiVersion: skiff/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 4
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: skiff-demo:1
        command: [/bin/echo-svc]
        args: [v1]
        resources:
          requests: {cpu: 100m, memory: 16Mi}
EOF
run 0 apply -f "$T/web.yaml"
has out "^deployment/web created$"
run 0 rollout status deployment/web --timeout 20s
has out '^deployment "web" successfully rolled out$'
run 0 get deployments
has out "^web  *4/4  *4  *4  "
run 0 get pods -o wide
[ "$(grep -c ' Running .* hollow-[01]$' "$T/out")" = 4 ] || fail "expected 4 Running pods on the hollow nodes"

# logs come from the pod's node through the brain
run 0 logs deployment/web
has out "^hollow node: this pod does not run$"
has err "^Found 4 pods, using pod/web-"

run 0 describe node hollow-0
has out "^Name: *hollow-0$"
has out "^Pods: *([0-9])$"

# a new template rolls out; history has two revisions; undo goes back
sed 's/args: \[v1\]/args: [v2]/' "$T/web.yaml" >"$T/web2.yaml"
run 0 apply -f "$T/web2.yaml"
has out "^deployment/web configured$"
run 0 rollout status deployment/web --timeout 20s
has out '^deployment "web" successfully rolled out$'
run 0 rollout history deployment/web
[ "$(grep -c '^[0-9]' "$T/out")" = 2 ] || fail "expected two revisions"
has out "(current)$"
run 0 rollout undo deployment/web
run 0 rollout status deployment/web --timeout 20s
run 0 get deployment web -o yaml
has out "^        - v1$"

# watch: the list, then a line per change
"$CTL" get deployments -w >"$T/watch" 2>&1 &
watch_pid=$!
ctl_started "$watch_pid"
sleep 0.5
run 0 scale deployment web --replicas 2
scaled() { grep -q "^web  *[0-9]/2 " "$T/watch"; }
wait_for 5 scaled || { cat "$T/watch"; fail "get -w did not show the scale"; }
kill "$watch_pid"
head -n 1 "$T/watch" | grep -q "^NAME  *READY" || fail "get -w printed no header"

# cordon / uncordon, and a pod that fits nowhere says why per node
run 0 cordon hollow-0
has out "^node/hollow-0 cordoned$"
run 0 get nodes
has out "^hollow-0  *Ready,SchedulingDisabled "
cat >"$T/big.yaml" <<'EOF'
apiVersion: skiff/v1
kind: Pod
metadata: {name: big}
spec:
  containers:
  - name: big
    image: skiff-demo:1
    command: [/bin/echo-svc]
    resources: {requests: {cpu: 64}}
EOF
run 0 apply -f "$T/big.yaml"
described() { "$CTL" describe pod big >"$T/out" 2>&1 && grep -q "^  - hollow-1 insufficient cpu" "$T/out"; }
wait_for 5 described || fail "describe of an unschedulable pod lacks the per-node reasons"
has out "^Status: *Pending$"
has out "^Message: *0/2 nodes fit:$"
has out "^  - hollow-0 cordoned$"
run 0 uncordon hollow-0
has out "^node/hollow-0 uncordoned$"
run 0 delete pod big

# drain moves every pod off the node
run 0 drain hollow-1
has out "^node/hollow-1 drained$"
on_hollow0() { [ "$("$CTL" get pods -o wide 2>/dev/null | grep -c ' Running .* hollow-0$')" = 2 ]; }
wait_for 10 on_hollow0 || fail "after drain the pods did not all run on hollow-0"
"$CTL" get pods -o wide | grep -q ' hollow-1$' && fail "pods left on the drained node"
echo "ctl_nodes: ok"
