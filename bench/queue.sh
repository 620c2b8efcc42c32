#!/bin/bash
# queue.sh — messages/s of the queue demo on 127.0.0.1: sends (each fsync'ed
# before its answer; concurrent sends share an fsync), and end to end with
# poll-mode workers draining while messages arrive (batch 10, long polling).
# Figures only; nothing is asserted.
cd "$(dirname "$0")/.." || exit 1
. examples/common/testlib.sh
[ -x "$DEMO_BIN/queue-svc" ] || { echo "bench/queue: build first (make all)"; exit 0; }
P=${BENCH_PORT_BASE:-22100}
Q=127.0.0.1:$((P + 20))
N=${BENCH_MESSAGES:-20000}
WORKERS=${BENCH_WORKERS:-2}

demo_start queue "$DEMO_BIN/queue-svc" --listen $Q --data "$DEMO_TMP/queue" --queue bench,visibility=30 --queue drain,visibility=30
wait_http http://$Q/healthz

echo "bench/queue: $N messages, data on $(df -P "$DEMO_TMP" | awk 'NR == 2 { print $1 }')"
out=$("$HTTPLOAD" -n "$N" -c 16 -X POST -b '{"order":%d}' http://$Q/queues/bench/messages)
echo "send only (16 concurrent senders):       $(echo "$out" | json rps) msg/s, p99 $(echo "$out" | json p99_ms) ms"

for ((w = 0; w < WORKERS; w++)); do
	demo_start worker-$w "$DEMO_BIN/queue-worker" --server $Q --queue drain --batch 10 --wait 1
done
start=$(date +%s.%N)
out=$("$HTTPLOAD" -n "$N" -c 16 -X POST -b '{"order":%d}' http://$Q/queues/drain/messages)
for ((i = 0; i < 600; i++)); do
	deleted=$(status_field http://$Q/queues/drain Deleted)
	[ "${deleted:-0}" -ge "$N" ] && break
	sleep 0.1
done
end=$(date +%s.%N)
echo "end to end ($WORKERS workers, batch 10):      $(echo "$start $end $deleted" | awk '{ printf "%.0f", $3 / ($2 - $1) }') msg/s ($deleted of $N processed and deleted in $(echo "$start $end" | awk '{ printf "%.2f", $2 - $1 }') s; sends alone $(echo "$out" | json rps) msg/s)"
