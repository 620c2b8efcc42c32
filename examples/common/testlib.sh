#!/bin/bash
# testlib.sh — helpers and checks shared by the demo tests.
#
# Sourced by tests/integration/examples_*.sh (the demos run standalone on
# 127.0.0.1) and meant to be sourced by the lab's e2e tests too: the check_*
# functions only need URLs and hook commands (how to kill or restart a
# component), so the same assertions run against pods on the lab cluster.
# Every process started with demo_start is killed by pid when the test exits,
# even on failure. fail, pid_alive, poll and wait_until come from the shell
# test library (tests/lib/skiff-test.sh); a failure prints the tail of every
# demo log.
set -u
# shellcheck source=../../tests/lib/skiff-test.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/lib/skiff-test.sh"
BUILD=${BUILD:-build}
DEMO_BIN=${DEMO_BIN:-$BUILD/examples/bin}
HTTPLOAD=${HTTPLOAD:-$DEMO_BIN/httpload}
declare -A DEMO_PIDS=()
DEMO_TMP=$(mktemp -d /tmp/skiff-demo-test.XXXXXX)

demo_none_left() {
	local name
	for name in "${!DEMO_PIDS[@]}"; do
		pid_alive "${DEMO_PIDS[$name]}" && return 1
	done
	return 0
}

demo_cleanup() {
	local name
	# SIGTERM first (nginx's master then stops its workers), SIGKILL after 2 s
	for name in "${!DEMO_PIDS[@]}"; do
		kill -TERM "${DEMO_PIDS[$name]}" 2>/dev/null
	done
	poll 2 demo_none_left
	for name in "${!DEMO_PIDS[@]}"; do
		kill -9 "${DEMO_PIDS[$name]}" 2>/dev/null
	done
	for name in "${!DEMO_PIDS[@]}"; do
		wait "${DEMO_PIDS[$name]}" 2>/dev/null
	done
	if [ "${DEMO_KEEP:-0}" = 1 ]; then
		echo "kept $DEMO_TMP"
	else
		rm -rf "$DEMO_TMP"
	fi
}
trap demo_cleanup EXIT

fail_hook() {
	local f
	for f in "$DEMO_TMP"/*.log; do
		[ -e "$f" ] || continue
		echo "--- tail of $f"
		tail -n 15 "$f"
	done
}

# demo_start NAME CMD... — run CMD in the background, output in $DEMO_TMP/NAME.log
# (stdout to NAME.out when DEMO_STDOUT=1).
demo_start() {
	local name=$1
	shift
	if [ "${DEMO_STDOUT:-0}" = 1 ]; then
		"$@" >>"$DEMO_TMP/$name.out" 2>>"$DEMO_TMP/$name.log" &
	else
		"$@" >>"$DEMO_TMP/$name.log" 2>&1 &
	fi
	DEMO_PIDS[$name]=$!
}

# demo_kill NAME — kill -9 a process started by demo_start and reap it.
demo_kill() {
	local pid=${DEMO_PIDS[$1]:-}
	[ -n "$pid" ] || return 0
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "DEMO_PIDS[$1]"
}

# wait_http URL [SECONDS] — until URL answers 2xx.
wait_http() {
	wait_until "$1 to answer" "${2:-5}" curl -fs -o /dev/null --max-time 1 "$1"
}

# free_ports START COUNT — START, or START+1000, +2000 … when something already
# listens on 127.0.0.1 ports START..START+COUNT-1 (below the ephemeral range,
# so our own outgoing connections never take them).
free_ports() {
	local base=$1 n=$2 k
	for ((k = 0; k < 8; k++)); do
		if [ -z "$(ss -Hltn "sport >= :$base and sport < :$((base + n))" 2>/dev/null)" ]; then
			echo "$base"
			return
		fi
		base=$((base + 1000))
	done
	echo "$1"
}

# json FIELD — print a field of the JSON on stdin (jq is not assumed). A plain
# name is the first such key in the document (the top-level one in our
# programs' answers); a dotted path (a.b.0) goes through python3.
json() {
	if [[ $1 == *.* ]]; then
		python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v=v[k] if not isinstance(v,list) else v[int(k)]
print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1"
		return
	fi
	local v
	v=$(grep -o "\"$1\":\(\"[^\"]*\"\|\[[^]]*\]\|[^,}]*\)" | head -n 1)
	v=${v#*:}
	v=${v#\"}
	echo "${v%\"}"
}

# write_endpoints FILE ENDPOINT... — replace an endpoints file atomically, as the agent does.
write_endpoints() {
	local f=$1
	shift
	printf '%s\n' "$@" >"$f.tmp.$$" && mv "$f.tmp.$$" "$f"
}

# --- gateway ----------------------------------------------------------------

# check_gateway_spread URL N REPLICAS — N requests land exactly N/REPLICAS on each replica.
check_gateway_spread() {
	local url=$1 n=$2 replicas=$3 out
	out=$("$HTTPLOAD" -n "$n" -c 4 --count pod "$url") || fail "gateway spread: requests failed: $out"
	echo "spread: $out"
	python3 - "$out" "$n" "$replicas" <<'PY' || fail "gateway spread is not exactly even: $out"
import json, sys
r = json.loads(sys.argv[1]); n = int(sys.argv[2]); k = int(sys.argv[3])
c = r["counts"]
assert r["ok"] == n, r
assert len(c) == k, c
assert all(v == n // k for v in c.values()), c
PY
}

# check_gateway_kill URL KILL_CMD [RESTORE_CMD] — a steady stream of GETs through the
# gateway while KILL_CMD kills a replica (and RESTORE_CMD, if given, brings it back):
# zero failed requests.
check_gateway_kill() {
	local url=$1 kill_cmd=$2 restore_cmd=${3:-} out
	"$HTTPLOAD" -d 3 -c 8 -r 1500 --count pod "$url" >"$DEMO_TMP/stream.json" 2>"$DEMO_TMP/stream.err" &
	local lp=$!
	sleep 1
	eval "$kill_cmd"
	sleep 0.8
	[ -n "$restore_cmd" ] && eval "$restore_cmd"
	wait $lp
	out=$(cat "$DEMO_TMP/stream.json")
	echo "stream with a kill: $out"
	[ "$(echo "$out" | json failed)" = 0 ] || fail "failed requests during the kill: $out $(cat "$DEMO_TMP/stream.err")"
	[ "$(echo "$out" | json ok)" -gt 1000 ] || fail "stream too short: $out"
}

# --- queue ------------------------------------------------------------------

# produce_orders URL N RATE — POST N orders {"order":K} at RATE/s (retrying
# failures, as a client of an at-least-once system does); prints the httpload summary.
produce_orders() {
	"$HTTPLOAD" -n "$2" -r "$3" -c 8 -X POST -b '{"order":%d}' --retries 40 "$1"
}

# count_processed FIELD PATTERN FILE... — "unique total" of the numbers in
# "FIELD":N of the worker output lines matching PATTERN.
count_processed() {
	local field=$1 pat=$2
	shift 2
	cat "$@" 2>/dev/null | grep -h "$pat" | grep -o "\"$field\": *[0-9]*" | grep -o '[0-9]*$' |
		awk '{ n++; if (!seen[$1]++) u++ } END { printf "%d %d\n", u, n }'
}

# wait_processed N SECONDS FIELD PATTERN FILE... — until N distinct values were
# processed; prints "unique total".
processed_at_least() { # WANT FIELD PATTERN FILE...
	local want=$1 got
	shift
	got=$(count_processed "$@")
	[ "${got% *}" -ge "$want" ]
}
wait_processed() {
	local want=$1 secs=$2
	shift 2
	POLL_INTERVAL=0.1 poll "$secs" processed_at_least "$want" "$@"
	count_processed "$@"
}

# --- replica ----------------------------------------------------------------

# status_field URL FIELD — a field of URL's JSON.
status_field() {
	curl -fs --max-time 2 "$1" | json "$2" 2>/dev/null
}

# wait_pos STATUS_URL POS SECONDS — until the status' "pos" reaches POS.
pos_reached() { # STATUS_URL POS
	local p
	p=$(status_field "$1" pos)
	[ -n "$p" ] && [ "$p" -ge "$2" ]
}
wait_pos() {
	poll "$3" pos_reached "$1" "$2" ||
		fail "$1: position $(status_field "$1" pos || echo '?') did not reach $2 within $3 s"
}

# write_keys PRIMARY_URL N START — PUT key<K> = value-<K> for K in START..START+N-1.
write_keys() {
	"$HTTPLOAD" -n "$2" --start "$3" -c 8 -X PUT -b 'value-%d' "$1/kv/key%d" >"$DEMO_TMP/writes.json" ||
		fail "writes to the primary failed: $(cat "$DEMO_TMP/writes.json")"
}

# check_keys REPLICA_URL K... — each key<K> reads back as value-<K>.
check_keys() {
	local url=$1 k v
	shift
	for k in "$@"; do
		v=$(status_field "$url/kv/key$k" value)
		[ "$v" = "value-$k" ] || fail "$url: key$k is '${v}', expected value-$k"
	done
}
