#!/bin/bash
# lab_cleanup.sh — e2e of the lab itself: its network is private (addresses
# as documented, no default route, host routes only into the cluster CIDR),
# and after kill -9 of every process it started (brain, agents, shims),
# `skiff-lab down` leaves no netns, link, route, cgroup, mount, process or
# file behind, and running it again is harmless.
. "$(dirname "$0")/lib.sh"
e2e_start 90
lab_up 2

# --- the network ----------------------------------------------------------------
for i in 1 2; do
	grep -q "inet 10.77.0.$((10 + i))/24" <<<"$(ip -n "skiff-vm$i" -o addr show dev eth0)" ||
		fail "skiff-vm$i has no address 10.77.0.$((10 + i))/24 on eth0"
	grep -q '^default' <<<"$(ip -n "skiff-vm$i" route show)" && fail "skiff-vm$i has a default route"
done
grep -q 'inet 10.77.0.1/24' <<<"$(ip -o addr show dev skiff-lab0)" || fail "skiff-lab0 is not 10.77.0.1/24"
bad=$(ip route show | grep -E 'dev (skiff-lab0|skl-)' | grep -vE '^(10\.77\.0\.0/24|10\.244\.[0-9]+\.[0-9]+/24) ' || true)
[ -z "$bad" ] || fail "host routes through the lab outside 10.77.0.0/24 and 10.244.0.0/16: $bad"
grep -q '^default.*skiff-lab0' <<<"$(ip route show)" && fail "a default route points into the lab"
step "lab network private: 10.77.0.11-12 on skiff-lab0, no default route anywhere"

apply_deployment web 4 v1
wait_until "4 web pods Running" 30 all_running app=web 4
# the host reaches pods through the routes the lab added (a pod's HTTP port
# is the demos' business; here a TCP connect to a closed port must be
# refused by the pod's kernel, not time out)
ip=$(q pods '[.[] | .status.podIp // .status.podIP // empty] | first // empty' -l app=web)
[ -n "$ip" ] || fail "the Running web pods report no pod IP"
err=$(timeout 3 bash -c "exec 3<>/dev/tcp/$ip/9" 2>&1) && fail "port 9 of pod $ip is open?"
[[ $err == *"Connection refused"* ]] || fail "pod IP $ip is unreachable from the host: ${err:-timed out}"
step "pod IP $ip reachable from the host (port 9: connection refused by the pod)"

# --- kill -9 of everything, then down ------------------------------------------
pids=()
for p in $(grep -laF "$E2E_LAB/" /proc/[0-9]*/cmdline 2>/dev/null); do
	p=${p%/cmdline}
	cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
	[[ $cmd == *skiff-* ]] && pids+=("${p#/proc/}")
done
# each container as PID:START, so a pid recycled by the time of the check
# (this machine's pid_max may be 32768) is not taken for the container
cpids=()
for p in $(q pods '.[] | .status.containerStatuses[0].pid // empty' -l app=web); do
	s=$(proc_start "$p") && cpids+=("$p:$s")
done
[ "${#cpids[@]}" -ge 1 ] || fail "the Running web pods report no container pid"
[ "${#pids[@]}" -ge 3 ] || fail "expected at least a brain and 2 agents, found ${#pids[@]} processes"
step "kill -9 of ${#pids[@]} lab processes (brain, agents, shims); the containers are orphans now"
kill -9 "${pids[@]}" 2>/dev/null || true
sleep 0.5
t=$(now_ms)
lab down >"$E2E_TMP/down" 2>&1 || fail "skiff-lab down after kill -9 failed: $(cat "$E2E_TMP/down")"
step "skiff-lab down after kill -9 took $(($(now_ms) - t)) ms"
left=$(nothing_left)
[ -z "$left" ] || fail "left behind after kill -9 and down: $left"
for p in "${cpids[@]}"; do
	same_process "${p%%:*}" "${p#*:}" && fail "container process ${p%%:*} still runs after down"
done
lab down >"$E2E_TMP/down" 2>&1 || fail "a second skiff-lab down failed: $(cat "$E2E_TMP/down")"
left=$(nothing_left)
[ -z "$left" ] || fail "left behind after a second down: $left"
step "nothing left, and down is idempotent"
