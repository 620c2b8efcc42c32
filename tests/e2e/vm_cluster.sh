#!/bin/bash
# vm_cluster.sh — e2e on a lab of 3 real VMs (skiff-lab up --vm): each node a
# QEMU guest with its own kernel, disk, pure cgroup v2 tree and systemd
# running the shipped skiff-agent.service. One lab for every step (a boot
# under TCG costs tens of seconds):
#   3 VMs Ready, kernel not the host's, /sys/fs/cgroup a cgroup2 mount;
#   the gateway demo's pods Running; kill -9 of a container → restarted;
#   kill -9 of skiff-agent → systemd restarts it, no container restarted;
#   a container over its memory limit → OOMKilled (cgroup v2 memory.events);
#   power cut of a VM → its pods Running on the others; the VM boots again →
#   nothing runs twice; partition of a VM → its pods move, the node keeps its
#   copies running while cut off, and the fence stops them when it returns.
# Skipped (one line) where QEMU or the image tools are missing.
. "$(dirname "$0")/lib.sh"

for t in qemu-system-x86_64 qemu-img mmdebstrap socat mkfs.ext4; do
	command -v "$t" >/dev/null || skip "'$t' is not installed: no VM lab here (make deps installs it)"
done
[ "$(id -u)" = 0 ] || skip "needs root (QEMU taps, mmdebstrap)"
# the guest image first (cached under build/lab; minutes only the first
# time), before the lab lock is taken, so other scenarios need not wait
t=$(now_ms)
timeout 600 "$E2E_ROOT/scripts/skiff-lab-image" --repo "$E2E_ROOT" >/dev/null ||
	fail "the guest image could not be built (scripts/skiff-lab-image)"
step "guest image ready in $(($(now_ms) - t)) ms"

e2e_start 900
E2E_IMAGE=skiff-demo:1 # copied into the guest image by skiff-lab-image
t=$(now_ms)
# a grace of 15 s: on a loaded 2-core machine a TCG guest can miss its
# heartbeats for 10 s, and nothing here is about a slow node being lost
lab up --vm --nodes 3 --dir "$E2E_LAB" --node-grace 15s >"$E2E_TMP/up.out" 2>&1 ||
	{ cat "$E2E_TMP/up.out" >&2; fail "skiff-lab up --vm --nodes 3 failed"; }
step "3 VMs Ready in $(($(now_ms) - t)) ms ($(grep -o 'accelerator: [^;]*' "$E2E_TMP/up.out"))"

vexec() { lab exec "$@"; }

# --- each node is a VM of its own ---------------------------------------------
host_kernel=$(uname -r)
for vm in vm1 vm2 vm3; do
	{ read -r k; read -r fs; read -r active; } < <(vexec "$vm" sh -c \
		'uname -r; stat -fc %T /sys/fs/cgroup; systemctl is-active skiff-agent') || fail "exec in $vm failed"
	[ -n "$k" ] && [ "$k" != "$host_kernel" ] || fail "$vm runs kernel '$k', the host runs '$host_kernel'"
	[ "$fs" = cgroup2fs ] || fail "$vm: /sys/fs/cgroup is '$fs', not cgroup2"
	[ "$active" = active ] || fail "$vm: skiff-agent.service is '$active', not active"
done
step "vm1..vm3: kernel $k (host $host_kernel), /sys/fs/cgroup cgroup2, skiff-agent.service active"

# --- the gateway demo ---------------------------------------------------------
ctl apply -f "$E2E_ROOT/examples/gateway/" >/dev/null || fail "skiffctl apply -f examples/gateway/ failed"
gw_running() {
	local s
	s=$(q pods 'map(select((.metadata.deletedMs // 0) == 0))
		| "\(length) \([.[] | select(.status.phase == "Running")] | length)"') || return 1
	[[ $s =~ ^([0-9]+)\ ([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] &&
		[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
}
wait_until "every pod of examples/gateway Running" 120 gw_running
nodes_used=$(q pods '[.[] | .spec.nodeName] | unique | length')
step "gateway demo: $(q pods 'length') pods Running on $nodes_used VMs"
[ "$nodes_used" -ge 2 ] || fail "the gateway's pods run on $nodes_used VM(s)"
ctl delete -f "$E2E_ROOT/examples/gateway/" >/dev/null 2>&1 || true
no_pods() { [ "$(q pods 'length')" = 0 ]; }
wait_until "the gateway's pods gone" 90 no_pods

# --- kill -9 of a container; kill -9 of the agent -----------------------------
apply_deployment web 6 v1
wait_until "6 web pods Running" 90 all_running app=web 6
running_pods app=web >"$E2E_TMP/before"
read -r pod node pid restarts uid <"$E2E_TMP/before"
step "kill -9 the main process of $pod in $node (pid $pid in the VM)"
restarted() { # the pid is the VM's: it cannot be checked from the host
	pod_restarted "$pod" "$uid" "$node" "$restarts" "$pid"
}
vexec "$node" kill -9 "$pid" || fail "kill -9 $pid in $node failed"
wait_until "$pod to restart in $node with restart count $((restarts + 1))" 30 restarted
step "$pod Running again in $node, restart count $((restarts + 1)) ($WAITED_MS ms)"

running_pods app=web >"$E2E_TMP/before"
agent_pid() { vexec "$1" systemctl show -P MainPID skiff-agent; }
old=$(agent_pid vm2)
lab kill vm2 >/dev/null || fail "skiff-lab kill vm2 failed"
agent_back() {
	local p
	p=$(agent_pid vm2) && [ "$p" -gt 0 ] && [ "$p" != "$old" ] &&
		[ "$(vexec vm2 systemctl is-active skiff-agent)" = active ]
}
wait_until "systemd to restart skiff-agent in vm2" 30 agent_back
sleep 3 # the restarted agent re-adopts its containers; a restart would show by now
wait_until "vm2 Ready" 20 nodes_ready 3
running_pods app=web >"$E2E_TMP/after"
diff "$E2E_TMP/before" "$E2E_TMP/after" >&2 ||
	fail "a container changed (pid or restart count) when vm2's agent was killed and restarted by systemd"
step "skiff-agent of vm2 killed (pid $old), restarted by systemd (pid $(agent_pid vm2)): no container restarted"

# --- OOM on cgroup v2 ---------------------------------------------------------
cat >"$E2E_TMP/oom.yaml" <<EOF
apiVersion: skiff/v1
kind: Deployment
metadata:
  name: hog
  labels: {app: hog}
spec:
  replicas: 1
  selector:
    matchLabels: {app: hog}
  template:
    metadata:
      labels: {app: hog}
    spec:
      containers:
        - name: main
          image: $E2E_IMAGE
          command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]
          resources:
            limits: {memory: 16Mi}
EOF
ctl apply -f "$E2E_TMP/oom.yaml" >/dev/null || fail "apply of the memory hog failed"
oom_seen() {
	q pods '.[] | .status.containerStatuses[0] | [.reason, .lastState.terminated.reason,
		.lastTerminationReason, .state.terminated.reason] | map(select(. != null)) | join(" ")' \
		-l app=hog | grep -q OOMKilled ||
		q events '[.[] | select(.reason == "OOMKilled")] | length' | grep -qv '^0$'
}
wait_until "the memory hog OOMKilled" 60 oom_seen
step "a container over its 16Mi limit: OOMKilled on $(q pods '.[0].spec.nodeName' -l app=hog)'s cgroup v2"
ctl delete deployment hog >/dev/null 2>&1 || true

# --- power cut, and the VM back -----------------------------------------------
victim=$(q pods '[.[] | select(.status.phase == "Running") | .spec.nodeName] | group_by(.) | max_by(length) | .[0]' -l app=web)
moved() { all_running app=web 6 && [[ $(spread app=web) != *"$victim="* ]]; }
t=$(now_ms)
lab node-down "$victim" >/dev/null
wait_until "$victim's pods Running on the other VMs" 60 moved
step "power cut of $victim: its pods Running elsewhere in $(($(now_ms) - t)) ms: $(spread app=web)"
# containers in a VM's skiff cgroups (the agent's --cgroup-parent skiff)
vm_containers() {
	vexec "$1" sh -c 'find /sys/fs/cgroup/skiff -name cgroup.procs -exec cat {} + 2>/dev/null | wc -l'
}
lab node-up "$victim" >/dev/null
seen=0
back() { nodes_ready 3; }
deadline=$(($(now_ms) + 150000))
while ! back; do
	[ "$(now_ms)" -lt "$deadline" ] || fail "$victim not Ready within 150 s of booting again"
	c=$(vm_containers "$victim" 2>/dev/null || echo 0)
	[ "${c:-0}" = 0 ] || seen=$((seen + 1))
	sleep 0.5
done
for _ in 1 2 3 4 5 6; do
	[ "$(vm_containers "$victim")" = 0 ] || seen=$((seen + 1))
	sleep 0.5
done
[ "$seen" = 0 ] || fail "$victim ran containers of pods that had moved away ($seen samples)"
all_running app=web 6 || fail "not exactly 6 web pods Running after $victim came back"
step "$victim booted again and Ready, its agent rejoined through systemd; nothing ran on it twice"

# --- partition: the node keeps its copies until it is back, then the fence -----
apply_deployment web 9 v1
wait_until "9 web pods Running" 90 all_running app=web 9
cut=$(q pods '[.[] | select(.status.phase == "Running") | .spec.nodeName] | group_by(.) | max_by(length) | .[0]' -l app=web)
n_cut=$(vm_containers "$cut")
[ "$n_cut" -gt 0 ] || fail "no container runs in $cut before the partition"
moved() { all_running app=web 9 && [[ $(spread app=web) != *"$cut="* ]]; }
lab partition "$cut" >/dev/null
wait_until "$cut's pods Running on the other VMs" 60 moved
still=$(vm_containers "$cut")
[ "$still" -gt 0 ] || fail "$cut stopped its containers while cut off (the brain cannot tell it)"
step "$cut partitioned: its pods Running elsewhere ($(spread app=web)), its $still container processes still run in it"
lab heal "$cut" >/dev/null
fenced() { [ "$(vm_containers "$cut")" = 0 ]; }
wait_until "$cut's old copies stopped by the fence" 60 fenced
wait_until "$cut Ready again" 60 nodes_ready 3
all_running app=web 9 || fail "not exactly 9 web pods Running after $cut came back"
step "$cut back: its copies stopped (fenced), 9 pods Running: $(spread app=web)"
