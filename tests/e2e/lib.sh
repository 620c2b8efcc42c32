# shellcheck shell=bash
# tests/e2e/lib.sh — shared helpers for the end-to-end scenarios (sourced by
# tests/e2e/*.sh, never run on its own).
#
# A scenario calls `e2e_start BUDGET` (root and tools checked, any running lab
# taken down, a watchdog armed, teardown trapped), `lab_up N` for a fresh lab
# of N namespace VMs, then drives skiffctl (`ctl …`) and the lab
# (`lab kill vm2`, `lab node-down vm2` …), asserting with `wait_until` and
# `fail`. On exit — pass, failure, timeout or Ctrl-C — the lab is taken down
# and the scenario fails if anything of it is left (netns, links, cgroups,
# mounts, processes).
#
# skiffctl's JSON is read with jq. fail, skip, pid_alive, poll, wait_until and
# wait_gone come from the shell test library, tests/lib/skiff-test.sh.

set -euo pipefail

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$E2E_ROOT/$BUILD ;; esac
SKIFF_BIN=${SKIFF_BIN:-$BUILD/bin}
case "$SKIFF_BIN" in /*) ;; *) SKIFF_BIN=$E2E_ROOT/$SKIFF_BIN ;; esac
E2E_NAME=$(basename "$0" .sh)
E2E_LAB=${E2E_LAB:-/tmp/skiff-e2e/$E2E_NAME}
E2E_IMAGE=e2e-busybox:1
SKIFF_LAB_DIR=$E2E_LAB
SKIFF_CONFIG=$E2E_LAB/admin.conf
export SKIFF_BIN SKIFF_LAB_DIR SKIFF_CONFIG
E2E_WATCHDOG=
E2E_LOCK=${E2E_LOCK:-/run/skiff-e2e.lock}
E2E_LOCK_WAIT=${E2E_LOCK_WAIT:-600}
E2E_LOCK_FD=
E2E_T0=$(date +%s%3N)
E2E_TMP=

SKIFF_TEST_NAME=$E2E_NAME
# shellcheck source=../lib/skiff-test.sh
. "$E2E_ROOT/tests/lib/skiff-test.sh"

# step MSG: progress line with the time since the scenario began
step() {
	local t=$(($(now_ms) - E2E_T0))
	printf '[%3d.%01ds] %s: %s\n' $((t / 1000)) $((t % 1000 / 100)) "$E2E_NAME" "$*"
}

# --- set-up and teardown -------------------------------------------------------

# e2e_start BUDGET_SECONDS
# Another test's lab in DIR is alive: one of its processes (brain or agent:
# the brain may be restarting) runs, or it is being brought up (its dir file,
# written before the network and the brain, is under 30 s old).
e2e_lab_alive() { # DIR
	local f pid made
	for f in "$1"/run/*.pid; do
		pid=$(cat "$f" 2>/dev/null || true)
		[ -n "$pid" ] && grep -qF "$1/" "/proc/$pid/cmdline" 2>/dev/null && return 0
	done
	made=$(stat -c %Y /run/skiff-lab.dir 2>/dev/null || echo 0)
	[ $(($(date +%s) - made)) -lt 30 ]
}

e2e_start() {
	local budget=${1:-120} t
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, cgroups)"
	for t in ip nsenter jq timeout flock; do
		command -v "$t" >/dev/null || skip "'$t' is not installed (run 'make deps')"
	done
	[ -d /sys/fs/cgroup ] || skip "no /sys/fs/cgroup on this machine"
	for t in skiff-orchestrator skiff-agent skiff-runtime skiffctl; do
		[ -x "$SKIFF_BIN/$t" ] || fail "$SKIFF_BIN/$t is not built (run 'make')"
	done
	# one lab per machine (its names are fixed): every scenario and lab bench
	# holds this lock from here to its exit, so two runs at once (two
	# checkouts, two sessions) take turns instead of taking each other's lab
	# down. The daemons the lab starts do not inherit it (see lab()).
	exec {E2E_LOCK_FD}>>"$E2E_LOCK"
	if ! flock -n "$E2E_LOCK_FD"; then
		step "waiting (${E2E_LOCK_WAIT} s at most) for another scenario's lab ($E2E_LOCK)"
		flock -w "$E2E_LOCK_WAIT" "$E2E_LOCK_FD" ||
			fail "another scenario held $E2E_LOCK for ${E2E_LOCK_WAIT} s"
	fi
	E2E_TMP=$(mktemp -d /tmp/skiff-e2e-tmp.XXXXXX)
	trap e2e_exit EXIT
	trap 'echo "$E2E_NAME: interrupted" >&2; exit 130' INT
	trap 'echo "$E2E_NAME: budget of '"$budget"'s exceeded" >&2; exit 124' TERM
	# one lab per machine: wait (60 s at most) for another test's lab (under
	# /tmp, its brain alive) to go; a demo's or a dead one goes at once
	local other i
	for ((i = 0; i < 600; i++)); do
		other=$(cat /run/skiff-lab.dir 2>/dev/null || true)
		[ -n "$other" ] && [ "$other" != "$E2E_LAB" ] && [[ $other == /tmp/* ]] || break
		e2e_lab_alive "$other" || break
		[ "$i" = 0 ] && step "waiting (60 s at most) for the lab in $other to go down"
		sleep 0.1
	done
	if ip link show skiff-lab0 >/dev/null 2>&1 || [ -s /run/skiff-lab.dir ]; then
		step "taking down the lab that runs ($(cat /run/skiff-lab.dir 2>/dev/null || echo '?'))"
		SKIFF_LAB_DIR='' lab down >/dev/null 2>&1 || true
	fi
	lab down >/dev/null 2>&1 || true
	# the watchdog ends the scenario (through the EXIT trap) before the
	# runner's hard timeout could leave the lab behind
	(
		sleep "$budget"
		kill -TERM $$ 2>/dev/null
	) </dev/null >/dev/null 2>&1 {E2E_LOCK_FD}>&- &
	E2E_WATCHDOG=$!
}

e2e_exit() {
	local rc=$? leaks
	trap - EXIT INT TERM
	set +e
	if [ -n "$E2E_WATCHDOG" ]; then
		kill "$E2E_WATCHDOG" 2>/dev/null
		wait "$E2E_WATCHDOG" 2>/dev/null
	fi
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		e2e_diagnostics >&2
	fi
	# The daemons stop as systemctl stops them (SIGTERM): in a sanitizer
	# build LeakSanitizer then checks their heap, and any sanitizer report
	# in the lab's logs fails the scenario.
	local f san
	# (a VM lab's agents run in the VMs, their logs there: only the brain)
	for f in "$E2E_LAB"/run/vm*.pid "$E2E_LAB"/run/brain.pid; do
		[[ $f == */vm*.pid ]] && grep -qx 'MODE=vm' "$E2E_LAB/lab.env" 2>/dev/null && continue
		[ -f "$f" ] && lab stop "$(basename "$f" .pid)" >/dev/null 2>&1
	done
	san=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$E2E_LAB"/logs/*.log \
		2>/dev/null)
	if [ -n "$san" ]; then
		for f in $san; do
			echo "FAIL $E2E_NAME: a sanitizer report in $f:" >&2
			grep -A25 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f" | head -n 60 >&2
		done
		[ "$rc" = 0 ] && rc=1
	fi
	lab down >/dev/null 2>&1 || lab down
	leaks=$(nothing_left)
	if [ -n "$leaks" ]; then
		echo "FAIL $E2E_NAME: the lab left things behind after 'skiff-lab down':" >&2
		echo "$leaks" | sed 's/^/  /' >&2
		[ "$rc" = 0 ] && rc=1
	fi
	[ -n "$E2E_TMP" ] && rm -rf "$E2E_TMP"
	rmdir /tmp/skiff-e2e 2>/dev/null
	[ "$rc" = 0 ] && step "PASS ($(($(now_ms) - E2E_T0)) ms)"
	exit "$rc"
}

e2e_diagnostics() {
	echo "---- $E2E_NAME diagnostics"
	if [ -f "$SKIFF_CONFIG" ]; then
		timeout 5 "$SKIFF_BIN/skiffctl" get nodes -o wide 2>&1
		timeout 5 "$SKIFF_BIN/skiffctl" get pods -o wide 2>&1 | head -n 40
		timeout 5 "$SKIFF_BIN/skiffctl" get events 2>&1 | tail -n 30
	fi
	local f
	for f in "$E2E_LAB"/logs/*.log; do
		[ -f "$f" ] || continue
		echo "---- tail of $f"
		tail -n 25 "$f"
	done
	echo "----"
}

# nothing_left: one line per thing of the lab still present (none: empty)
nothing_left() {
	local p cmd
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^skiff-vm' | sed 's/^/netns /'
	for p in /run/netns/skiff-vm*; do [ -e "$p" ] && echo "file $p"; done
	ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
		grep -E '^(skl-|skiff-lab0$)' | sed 's/^/link /'
	ip route show 2>/dev/null | grep -E 'via 10\.77\.0\.' | sed 's/^/route /'
	for p in /sys/fs/cgroup/*/skiff-lab /sys/fs/cgroup/unified/skiff-lab; do
		[ -e "$p" ] && echo "cgroup $p"
	done
	awk -v d="$E2E_LAB" 'index($5, d) == 1 { print "mount " $5 }' /proc/self/mountinfo
	for p in $(grep -laF "$E2E_LAB/" /proc/[0-9]*/cmdline 2>/dev/null); do
		p=${p%/cmdline}
		[ "${p#/proc/}" = $$ ] && continue
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		[[ $cmd == *skiff-* ]] && echo "process ${p#/proc/}: $cmd"
	done
	[ -e "$E2E_LAB" ] && echo "dir $E2E_LAB"
	true
}

# --- the lab and skiffctl ------------------------------------------------------

# (the lab's brain and agents outlive this call: they must not hold the lock)
lab() { "$E2E_ROOT/scripts/skiff-lab" "$@" {E2E_LOCK_FD}>&-; }

ctl() { timeout 20 "$SKIFF_BIN/skiffctl" "$@"; }

# lab_up N [skiff-lab up options]: a fresh lab with the test image
lab_up() {
	local n=$1 t
	shift
	t=$(now_ms)
	mkdir -p "$E2E_LAB/images"
	make_image "$E2E_LAB/images/$E2E_IMAGE"
	lab up --nodes "$n" --dir "$E2E_LAB" "$@" >"$E2E_TMP/up.out" 2>&1 ||
		{ cat "$E2E_TMP/up.out" >&2; fail "skiff-lab up --nodes $n failed"; }
	step "lab of $n nodes Ready in $(($(now_ms) - t)) ms"
}

# make_image DIR: a busybox rootfs (busybox-static and its applet links)
make_image() {
	local d=$1 self
	[ -x "$d/bin/busybox" ] && return 0
	[ -x /bin/busybox ] || skip "/bin/busybox (busybox-static) is not installed"
	mkdir -p "$d"/{bin,etc,proc,sys,dev,tmp,root,var}
	cp /bin/busybox "$d/bin/busybox"
	# applet links to busybox's own path (/usr/bin/busybox on a merged-/usr
	# host), which inside the image leads to the copy above
	/bin/busybox --install -s "$d/bin"
	self=$(/bin/busybox readlink -f /bin/busybox)
	if [ "$self" != /bin/busybox ]; then
		mkdir -p "$d$(dirname "$self")"
		ln -sf /bin/busybox "$d$self"
	fi
	echo "root:x:0:0:root:/root:/bin/sh" >"$d/etc/passwd"
	echo "root:x:0:" >"$d/etc/group"
}

# skiffctl -o json prints one object, or {"items": [...]} for a list; the
# queries below work on an array either way. Field names are the manifests'
# camelCase (podIp, nodeName, restartCount, containerStatuses, objectName…),
# and zero values are left out (hence the `// 0` defaults).
JQ_ITEMS='(.items? // .) | if type == "array" then . else [.] end'

# objs KIND [skiffctl get options]: a JSON array of objects
objs() {
	q "$1" . "${@:2}"
}

# q KIND JQ [skiffctl get options]: jq filter JQ on the array of objects
q() {
	local kind=$1 filter=$2 out
	shift 2
	out=$(ctl get "$kind" -o json "$@") || return 1
	[ -z "$out" ] && out='[]'
	jq -r "$JQ_ITEMS | $filter" <<<"$out"
}

# Running pods of a selector: "name node pid restarts uid", one a line, by name
running_pods() {
	q pods '[.[] | select(.status.phase == "Running")] | sort_by(.metadata.name) | .[]
		| [.metadata.name, .spec.nodeName, (.status.containerStatuses[0].pid // 0),
		   (.status.containerStatuses[0].restartCount // 0), .metadata.uid] | map(tostring) | join(" ")' -l "$1"
}

count_running() { # count_running SELECTOR -> number of Running pods
	q pods '[.[] | select(.status.phase == "Running")] | length' -l "$1"
}

count_pods() { # count_pods SELECTOR -> number of pods not being deleted
	q pods '[.[] | select((.metadata.deletedMs // 0) == 0)] | length' -l "$1"
}

# spread SELECTOR: "vm1=2 vm2=2 vm3=2" for the Running pods
spread() {
	q pods '[.[] | select(.status.phase == "Running") | .spec.nodeName] | group_by(.)
		| map("\(.[0])=\(length)") | join(" ")' -l "$1"
}

# all_running SELECTOR N: exactly N pods, all Running and ready
all_running() {
	local sel=$1 n=$2 s
	s=$(q pods 'map(select((.metadata.deletedMs // 0) == 0))
		| "\(length) \([.[] | select(.status.phase == "Running")] | length)"' -l "$sel") || return 1
	[ "$s" = "$n $n" ]
}

node_ready() { # node_ready NAME -> True|False|Unknown
	q nodes '.[] | select(.metadata.name == "'"$1"'") | ([.status.conditions[]? |
		select(.type == "Ready") | .status] | first // "Unknown")'
}

nodes_ready() { # nodes_ready N: N nodes Ready
	[ "$(q nodes '[.[] | select(any(.status.conditions[]?; .type == "Ready" and
		.status == "True"))] | length')" = "$1" ]
}

# The test containers' program: waits for ever, exits at once on SIGTERM (as
# pid 1 of its container it must handle SIGTERM itself); its last argument
# is a version tag, which rolling updates change.
E2E_SLEEPER='trap "exit 0" TERM; while :; do sleep 1 & wait $!; done'

yaml_quote() { # a YAML single-quoted scalar
	local s=$1 q="'"
	printf "'%s'" "${s//$q/$q$q}"
}

# apply_deployment NAME REPLICAS TAG [COMMAND]: apply a Deployment of the test
# image running the sleeper with argument TAG, or COMMAND (a YAML list)
apply_deployment() {
	local name=$1 replicas=$2 tag=$3 f
	local command=${4:-"[\"sh\", \"-c\", $(yaml_quote "$E2E_SLEEPER"), \"$tag\"]"}
	f=$E2E_TMP/$name.yaml
	cat >"$f" <<EOF
apiVersion: skiff/v1
kind: Deployment
metadata:
  name: $name
  labels:
    app: $name
spec:
  replicas: $replicas
  selector:
    matchLabels:
      app: $name
  template:
    metadata:
      labels:
        app: $name
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: main
          image: $E2E_IMAGE
          command: $command
EOF
	ctl apply -f "$f" >/dev/null || fail "skiffctl apply -f $f failed:
$(ctl apply -f "$f" 2>&1)"
}

# one_line_error WHAT PATTERN CMD...: CMD exits 1 with one line matching PATTERN
one_line_error() { # WHAT PATTERN CMD...: exit 1 and one line matching PATTERN
	local what=$1 pat=$2 rc=0
	shift 2
	"$@" >/dev/null 2>"$E2E_TMP/err" || rc=$?
	[ "$rc" = 1 ] || fail "$what: exit $rc, want 1 ($(cat "$E2E_TMP/err"))"
	[ "$(wc -l <"$E2E_TMP/err")" = 1 ] && grep -q "$pat" "$E2E_TMP/err" ||
		fail "$what: want one line with '$pat', got '$(cat "$E2E_TMP/err")'"
}

# the tags the Running pods of a selector run, sorted and unique, joined by ","
pod_tags() {
	q pods '[.[] | select(.status.phase == "Running") | .spec.containers[0].command[-1]]
		| unique | join(",")' -l "$1"
}

# pod_restarted POD UID NODE RESTARTS PID: POD is the same pod (UID), Running
# on NODE with one restart more than RESTARTS and a pid other than PID (its
# new pid, as the node sees it, is left in RESTARTED_PID)
RESTARTED_PID=
pod_restarted() {
	local got g_uid g_node g_restarts
	got=$(q pods '.[] | select(.metadata.name == "'"$1"'" and .status.phase == "Running")
		| [.metadata.uid, .spec.nodeName, (.status.containerStatuses[0].restartCount // 0),
		   (.status.containerStatuses[0].pid // 0)] | map(tostring) | join(" ")') || return 1
	read -r g_uid g_node g_restarts RESTARTED_PID <<<"$got"
	[ "$g_uid" = "$2" ] && [ "$g_node" = "$3" ] && [ "$g_restarts" = $(($4 + 1)) ] &&
		[ "$RESTARTED_PID" != "$5" ] && [ "${RESTARTED_PID:-0}" -gt 1 ]
}
