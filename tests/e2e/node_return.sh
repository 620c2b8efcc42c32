#!/bin/bash
# node_return.sh — e2e on a 3-node lab: a node that comes back after its pods
# were moved runs none of them, not even for a moment. Its agent restarts
# with containers it had started under its previous epoch (now dead); it must
# learn from the brain that they moved (the epoch fence) before starting any
# of them again. Any process in the returning node's cgroups during its first
# seconds back is a pod running twice.
. "$(dirname "$0")/lib.sh"
e2e_start 90
lab_up 3

apply_deployment web 6 v1
wait_until "6 web pods Running" 30 all_running app=web 6
moved() { all_running app=web 6 && [[ $(spread app=web) != *vm2=* ]]; }
lab node-down vm2 >/dev/null
wait_until "vm2's pods Running on vm1 and vm3" 20 moved
step "vm2's pods moved: $(spread app=web)"

# Nothing is bound to vm2 when it returns (its pods run on vm1 and vm3), so
# any process in its cgroups is a pod running twice, however briefly.
vm2_procs() { # count; the command lines seen go to $E2E_TMP/seen
	local f p n=0
	for p in $(for f in /sys/fs/cgroup/*/skiff-lab/vm2 /sys/fs/cgroup/unified/skiff-lab/vm2; do
		if [ -d "$f" ]; then find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null; fi
	done | sort -u); do
		n=$((n + 1))
		echo "pid $p: $(tr '\0' ' ' 2>/dev/null </proc/$p/cmdline)" >>"$E2E_TMP/seen"
	done
	echo "$n"
}
[ "$(vm2_procs)" = 0 ] || fail "processes left in vm2's cgroups after node-down"
step "bring vm2 back, watching its cgroups every 20 ms for 3 s"
t=$(now_ms)
lab node-up vm2 >/dev/null
seen=0
while [ $(($(now_ms) - t)) -lt 3000 ]; do
	[ "$(vm2_procs)" = 0 ] || seen=$((seen + 1))
	sleep 0.02
done
[ "$seen" = 0 ] ||
	fail "vm2 ran containers of pods that had moved away (seen in $seen samples of its cgroups):
$(sort -u "$E2E_TMP/seen")"
nodes_ready 3 || wait_until "vm2 Ready again" 20 nodes_ready 3
all_running app=web 6 || fail "not exactly 6 web pods Running after vm2 came back"
step "vm2 back and Ready; nothing ran on it: $(spread app=web)"
