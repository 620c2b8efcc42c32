#!/bin/bash
# bench/lab.sh — the whole stack on a 3-node lab, timed from the outside
# (what a user of skiffctl sees). Prints figures; asserts nothing about them.
#
#   apply of a 100-replica deployment -> all 100 Running
#   node loss (agent and containers killed, link down) -> its pods Running elsewhere
#   kill -9 of a container's main process -> Running again (restart count +1)
#
# Apply and node loss are timed on one `skiffctl get pods -w -o wide` stream
# (rows pushed by the brain, read by bash builtins: no poll, no process per
# row); kill -9 by polling the one pod (a `get -o json` and a jq, about 40 ms
# a poll, so up to one poll of slack). Goals on a 2-core machine: 100 replicas in under 2 s,
# node loss to Running elsewhere in under 5 s with the default 3 s grace.
# Each section prints the machine's load average (1 min) when it began: the
# three VMs share the machine's CPUs with everything else that runs, so the
# figures are only comparable at a similar load.
# Usage: bench/lab.sh [--vm] [REPLICAS] [KILLS]   (as root; the binaries built)
# --vm: the same figures on the netns lab, then on a lab of 3 QEMU VMs
# (skiff-lab up --vm: each node its own kernel, cgroup v2 and systemd; KVM
# or TCG, as the lab says), printed side by side at the end.
# It takes the lab lock (/run/skiff-e2e.lock, through tests/e2e/lib.sh) itself
# and waits for it: run it as it is, not under another `flock` of that file.
E2E_LAB=${E2E_LAB:-/tmp/skiff-bench-lab}
. "$(dirname "$0")/../tests/e2e/lib.sh"
# shellcheck disable=SC2034 # read by tests/e2e/lib.sh and tests/lib/skiff-test.sh
E2E_NAME=bench-lab SKIFF_TEST_NAME=bench-lab
VM=
if [ "${1:-}" = --vm ]; then
	VM=1
	shift
fi
REPLICAS=${1:-100}
KILLS=${2:-10}
if [ -n "$VM" ]; then
	# the guest image (minutes the first time) before the lab lock is taken
	"$E2E_ROOT/scripts/skiff-lab-image" --repo "$E2E_ROOT" >/dev/null ||
		{ echo "bench/lab.sh: the guest image could not be built" >&2; exit 1; }
fi
e2e_start "$([ -n "$VM" ] && echo 1800 || echo 600)"
# The replicas run `pause` (examples/tools/pause.c), as Kubernetes' density
# tests run its pause image: what is timed is starting containers, not what
# they run. (The e2e sleeper, a shell forking `sleep` every second, costs this
# 2-core machine about a fifth of the CPU the starts need: BENCH_SLEEPER=1.)
PAUSE=$SKIFF_BIN/../examples/bin/pause
[ -x "$PAUSE" ] || { echo "bench/lab.sh: $PAUSE missing (make)" >&2; exit 1; }
WORKLOAD='["pause"]'
[ -n "${BENCH_SLEEPER:-}" ] && WORKLOAD=

pct() { # pct P < numbers: the P-th percentile (nearest rank)
	sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
		i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; print v[i] }'
}

# busy_ms: CPU time the whole machine has spent busy since boot (all cores), ms
busy_ms() {
	awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { print int(($2 + $3 + $4 + $7 + $8) * 1000 / hz) }' /proc/stat
}

load() { cut -d' ' -f1 /proc/loadavg; }

# The pods as a user watching `skiffctl get pods -w -o wide` sees them: one
# watch stream (pushed by the brain, no polling), kept cheap to read, since
# the reader shares the 2 cores with the starts it times: the stream goes to
# a file, which bash reads a buffer at a time (from a pipe, `read` takes one
# system call per byte), a 5 ms nap without a fork when it has caught up, and
# counts kept up to date row by row instead of recounted. W_STATUS/W_NODE
# hold the last row of every pod of the deployment; W_TOTAL counts those not
# Terminating, W_RUN the Running ones, W_RUN_ON[NODE] those on each node.
declare -A W_STATUS W_NODE W_RUN_ON
W_TOTAL=0 W_RUN=0 W_PART=
watch_start() {
	# (SKIFF_CONFIG from the environment: it ends when the lab goes down)
	W_STATUS=() W_NODE=() W_RUN_ON=()
	W_TOTAL=0 W_RUN=0 W_PART=
	rm -f "$E2E_TMP/nap"
	: >"$E2E_TMP/watch.out"
	timeout 600 "$SKIFF_BIN/skiffctl" get pods -w -o wide --no-headers \
		>"$E2E_TMP/watch.out" 2>/dev/null &
	WATCH_PID=$!
	exec {WATCH_FD}<"$E2E_TMP/watch.out"
	mkfifo "$E2E_TMP/nap"
	exec {NAP_FD}<>"$E2E_TMP/nap"
}
watch_stop() {
	kill "$WATCH_PID" 2>/dev/null
	wait "$WATCH_PID" 2>/dev/null || true
	exec {WATCH_FD}<&- {NAP_FD}<&-
}
# w_add NAME SIGN: add (1) or take away (-1) that pod's last row in the counts
w_add() {
	local st=${W_STATUS[$1]:-}
	[ -z "$st" ] || [ "$st" = Terminating ] && return 0
	W_TOTAL=$((W_TOTAL + $2))
	if [ "$st" = Running ]; then
		W_RUN=$((W_RUN + $2))
		W_RUN_ON[${W_NODE[$1]}]=$((${W_RUN_ON[${W_NODE[$1]}]:-0} + $2))
	fi
}
# watch_read: apply the next row; false (after a 5 ms nap) when none is there
# yet; a row still being written is kept in W_PART
watch_read() {
	local line name
	if ! IFS= read -r line <&"$WATCH_FD"; then
		W_PART+=$line
		read -r -t 0.005 -u "$NAP_FD" _ || true
		return 1
	fi
	line=$W_PART$line
	W_PART=
	if [[ $line =~ ^\(pod/(bench-[^ ]*)\ deleted\) ]]; then
		name=${BASH_REMATCH[1]}
		w_add "$name" -1
		unset "W_STATUS[$name]" "W_NODE[$name]"
		return 0
	fi
	set -f
	# shellcheck disable=SC2206 # split on blanks, no globbing
	f=($line)
	set +f
	[[ ${f[0]:-} == bench-* ]] || return 0
	w_add "${f[0]}" -1
	W_STATUS[${f[0]}]=${f[2]}
	W_NODE[${f[0]}]=${f[${#f[@]} - 1]}
	w_add "${f[0]}" 1
}
# w_count [NODE_EXCLUDED]: W_RUNNING = the Running pods not on NODE_EXCLUDED;
# NOW: ms, no fork
w_count() {
	NOW=${EPOCHREALTIME/[.,]/}
	NOW=$((NOW / 1000))
	W_RUNNING=$((W_RUN - ${W_RUN_ON[${1:-none}]:-0}))
}

# run_sections MODE (netns|vm): every figure on the lab that runs; the main
# ones are kept in RES[MODE_*] for the side-by-side table
declare -A RES
run_sections() {
local mode=$1 limit=120000 line pod node pid restarts t applied first half done_ms cpu0 cpu1 i grace victim on_victim notready
[ "$mode" = vm ] && limit=900000
echo
echo "== apply of $REPLICAS replicas ($([ -n "$WORKLOAD" ] && echo pause || echo the e2e sleeper)) -> all Running (load average $(load) before)"
watch_start
cpu0=$(busy_ms)
t=$(now_ms)
apply_deployment bench "$REPLICAS" v1 "$WORKLOAD"
applied=$(now_ms)
first=0 half=0
while :; do
	watch_read || true
	w_count
	[ "$first" = 0 ] && [ "$W_RUNNING" -gt 0 ] && first=$NOW
	[ "$half" = 0 ] && [ $((W_RUNNING * 2)) -ge "$REPLICAS" ] && half=$NOW
	[ "$W_TOTAL" = "$REPLICAS" ] && [ "$W_RUNNING" = "$REPLICAS" ] && break
	[ $((NOW - t)) -gt "$limit" ] && fail "$REPLICAS replicas not Running after $((limit / 1000)) s"
done
done_ms=$NOW
cpu1=$(busy_ms)
printf '  %-44s %6d ms  (apply itself %d ms; first Running %d ms, half %d ms)  spread: %s\n' \
	"apply -> $REPLICAS Running" $((done_ms - t)) $((applied - t)) $((first - t)) $((half - t)) \
	"$(spread app=bench)"
printf '  %-44s %6d ms  (of %d ms the %d cores had)\n' "CPU busy meanwhile (whole machine)" \
	$((cpu1 - cpu0)) $(((done_ms - t) * $(nproc))) "$(nproc)"
printf -v "RES[${mode}_apply]" '%d ms' $((done_ms - t))

echo
echo "== kill -9 of a container's main process -> Running again ($KILLS kills, load average $(load))"
: >"$E2E_TMP/kills"
i=0
while [ "$i" -lt "$KILLS" ]; do
	line=$(running_pods app=bench | sed -n "$((i % REPLICAS + 1))p")
	read -r pod node pid restarts _ <<<"$line"
	[ -n "$pid" ] && [ "$pid" -gt 1 ] || fail "no pid for pod $pod"
	back() {
		local got
		got=$(q pods '.[] | select(.status.phase == "Running")
			| [(.status.containerStatuses[0].restartCount // 0), (.status.containerStatuses[0].pid // 0)]
			| map(tostring) | join(" ")' "$pod") || return 1
		read -r r p <<<"$got"
		[ "$r" = $((restarts + 1)) ] && [ "$p" != "$pid" ] && [ "$p" -gt 1 ]
	}
	t=$(now_ms)
	if [ "$mode" = vm ]; then lab exec "$node" kill -9 "$pid"; else kill -9 "$pid"; fi
	while ! back; do
		[ $(($(now_ms) - t)) -gt 30000 ] && fail "$pod not Running again 30 s after the kill"
		sleep 0.02
	done
	echo $(($(now_ms) - t)) >>"$E2E_TMP/kills"
	i=$((i + 1))
done
printf '  %-44s median %d ms, p90 %d ms, max %d ms (through skiffctl)\n' "kill -9 -> Running again" \
	"$(pct 50 <"$E2E_TMP/kills")" "$(pct 90 <"$E2E_TMP/kills")" "$(pct 100 <"$E2E_TMP/kills")"
printf -v "RES[${mode}_kill]" 'median %d ms' "$(pct 50 <"$E2E_TMP/kills")"

echo
grace=$(. "$E2E_LAB/lab.env" && echo "$GRACE")
echo "== node loss -> its pods Running elsewhere (node grace $grace, load average $(load))"
# the node with the most replicas (on a busy machine a TCG guest may have
# missed heartbeats during the apply and got fewer)
victim=$(q pods '[.[] | select(.status.phase == "Running") | .spec.nodeName] | group_by(.)
	| max_by(length) | .[0] // "vm3"' -l app=bench)
on_victim=$(q pods '[.[] | select(.spec.nodeName == "'"$victim"'")] | length' -l app=bench)
t=$(now_ms)
lab node-down "$victim" >/dev/null
# over when every replica is Running and none of them on $victim
while :; do
	watch_read || true
	w_count "$victim"
	[ "$W_TOTAL $W_RUNNING" = "$REPLICAS $REPLICAS" ] && break
	[ $((NOW - t)) -gt $((limit / 2)) ] && fail "$victim's pods not Running elsewhere after $((limit / 2000)) s"
done
done_ms=$NOW
# when the brain declared $victim NotReady, by its own event
notready=$(q events '[.[] | select(.objectName == "'"$victim"'" and .reason == "NodeNotReady")
	| .lastMs // .firstMs // 0] | max // 0')
printf '  %-44s %6d ms  (%d pods moved; NotReady %s)\n' "node away -> its pods Running elsewhere" \
	$((done_ms - t)) "$on_victim" \
	"$([ "${notready:-0}" -gt 0 ] && echo "$((notready - t)) ms after" || echo "event not found")"
printf -v "RES[${mode}_node]" '%d ms (grace %s)' $((done_ms - t)) "$grace"
watch_stop

echo
echo "== scale $REPLICAS -> 0"
t=$(now_ms)
ctl scale deployment bench --replicas 0 >/dev/null
while [ "$(count_pods app=bench)" != 0 ]; do
	[ $(($(now_ms) - t)) -gt $((limit / 2)) ] && fail "pods left $((limit / 2000)) s after scaling to 0"
	sleep 0.05
done
printf '  %-44s %6d ms\n' "scale to 0 -> no pod left" $(($(now_ms) - t))
}

echo "== the netns lab: 3 network-namespace nodes on this machine's kernel"
lab_up 3
cp "$PAUSE" "$E2E_LAB/images/$E2E_IMAGE/bin/pause"
run_sections netns
if [ -n "$VM" ]; then
	lab down >/dev/null 2>&1
	echo
	t=$(now_ms)
	lab up --vm --nodes 3 --dir "$E2E_LAB" >"$E2E_TMP/up.out" 2>&1 ||
		{ cat "$E2E_TMP/up.out" >&2; fail "skiff-lab up --vm failed"; }
	accel=$(grep -o 'accelerator: [^;]*' "$E2E_TMP/up.out")
	echo "== the VM lab: 3 QEMU VMs, $accel (3 Ready $(($(now_ms) - t)) ms after up)"
	E2E_IMAGE=skiff-demo:1 # has pause; copied into the guest image
	run_sections vm
	echo
	echo "== side by side (same run; netns | VMs, $accel)"
	printf '  %-36s %-26s %s\n' "apply -> $REPLICAS Running" "${RES[netns_apply]}" "${RES[vm_apply]}"
	printf '  %-36s %-26s %s\n' "kill -9 -> Running again" "${RES[netns_kill]}" "${RES[vm_kill]}"
	printf '  %-36s %-26s %s\n' "node loss -> Running elsewhere" "${RES[netns_node]}" "${RES[vm_node]}"
fi
echo
