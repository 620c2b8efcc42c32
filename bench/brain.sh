#!/bin/bash
# brain.sh — benchmarks of skiff-orchestrator (prints figures, asserts nothing):
#   1. WAL writes/s: acknowledged APPLYs with group commit and with one fsync
#      per write (--no-group-commit), 64 requests in flight;
#   2. scheduling at scale: NODES hollow nodes (skiff-hollow), one deployment
#      of PODS replicas: end-to-end time from APPLY until every pod is in
#      its node's Assignment, placements/s, brain RSS per node and per pod.
# Sizes: BRAIN_BENCH_NODES (1000), BRAIN_BENCH_PODS (100000), BRAIN_BENCH_WRITES (5000).
set -u
BUILD=${BUILD:-build}
BIN=${SKIFF_BIN:-$PWD/$BUILD/bin}
NODES=${BRAIN_BENCH_NODES:-1000}
PODS=${BRAIN_BENCH_PODS:-100000}
WRITES=${BRAIN_BENCH_WRITES:-5000}
tmp=$(mktemp -d /tmp/skiff-bench-brain-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

start_brain() { # dir, extra args...
	local dir=$1; shift
	PORT=$(port)
	"$BIN/skiff-orchestrator" --data-dir "$dir" --listen "127.0.0.1:$PORT" --log-level warn \
		--node-grace 30s "$@" >"$dir.log" 2>&1 &
	BRAIN=$!
	pids+=("$BRAIN")
	for _ in $(seq 100); do
		grep -q "Use skiffctl" "$dir.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "brain did not start:"; cat "$dir.log"; exit 1
}

echo "== brain: WAL writes/s ($WRITES acknowledged APPLYs, 64 in flight)"
start_brain "$tmp/gc"
gc=$("$BIN/skiff-hollow" writes --config "$tmp/gc/admin.conf" --count "$WRITES" --inflight 64)
echo "  group commit:    $gc"
kill "$BRAIN"; wait "$BRAIN" 2>/dev/null
start_brain "$tmp/nogc" --no-group-commit
nogc=$("$BIN/skiff-hollow" writes --config "$tmp/nogc/admin.conf" --count "$WRITES" --inflight 64)
echo "  fsync per write: $nogc"
one=$("$BIN/skiff-hollow" writes --config "$tmp/nogc/admin.conf" --count 500 --inflight 1)
echo "  one at a time:   $one"
kill "$BRAIN"; wait "$BRAIN" 2>/dev/null

echo "== brain: $PODS pods onto $NODES hollow nodes"
start_brain "$tmp/scale" --cluster-cidr 10.0.0.0/8
rss0=$(rss_kb "$BRAIN")
token=$(cat "$tmp/scale/join-token")
"$BIN/skiff-hollow" nodes --server "127.0.0.1:$PORT" --token "$token" --count "$NODES" \
	--no-status --expect "$PODS" >"$tmp/hollow.out" 2>"$tmp/hollow.err" &
pids+=($!)
for _ in $(seq 1200); do
	grep -q "nodes registered" "$tmp/hollow.out" && break
	sleep 0.1
done
grep -q "nodes registered" "$tmp/hollow.out" || {
	echo "hollow nodes did not register"; tail -3 "$tmp/hollow.err"; echo "brain:"; tail -20 "$tmp/scale.log"; exit 1; }
sleep 1
rss1=$(rss_kb "$BRAIN")
"$BIN/skiff-hollow" deploy --config "$tmp/scale/admin.conf" --name bench --replicas "$PODS" >"$tmp/deploy.out" || exit 1
t_apply=$(awk '{print $NF}' "$tmp/deploy.out")
for _ in $(seq 1200); do
	grep -q " pods on " "$tmp/hollow.out" && break
	sleep 0.1
done
if ! grep -q " pods on " "$tmp/hollow.out"; then
	echo "  not all pods arrived within 120 s"; tail -3 "$tmp/hollow.out"; tail -5 "$tmp/scale.log"; exit 1
fi
line=$(grep " pods on " "$tmp/hollow.out")
t_done=$(echo "$line" | awk '{print $8}')
sleep 1
rss2=$(rss_kb "$BRAIN")
ms=$((t_done - t_apply))
echo "  end to end: $PODS pods bound and delivered to $NODES nodes in $ms ms" \
	"($(awk -v p="$PODS" -v m="$ms" 'BEGIN {printf "%.0f", p * 1000 / (m > 0 ? m : 1)}') placements/s)"
echo "  brain RSS: empty $((rss0 / 1024)) MiB, with nodes $((rss1 / 1024)) MiB, with pods $((rss2 / 1024)) MiB"
echo "  brain memory: $(( (rss1 - rss0) * 1024 / NODES )) bytes per node," \
	"$(( (rss2 - rss1) * 1024 / PODS )) bytes per pod"
echo "  (goal: 100,000 pods in < 10 s, < 1 KiB per pod; kube-scheduler CI threshold 270 pods/s)"
