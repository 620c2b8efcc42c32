#!/bin/bash
# replica.sh — replication lag of the replica demo on 127.0.0.1 under steady
# write loads: each write is fsync'ed on the primary, then shipped to 2
# replicas by long polling and fsync'ed there. Prints the write -> applied
# delay measured by the replicas (p50/p99 of the last 1024 writes) and the
# largest lag in records seen on the primary's /status while writing.
# Figures only; nothing is asserted.
cd "$(dirname "$0")/.." || exit 1
. examples/common/testlib.sh
[ -x "$DEMO_BIN/kvdb" ] || { echo "bench/replica: build first (make all)"; exit 0; }
P=${BENCH_PORT_BASE:-22100}
PRI=127.0.0.1:$((P + 30))
DUR=${BENCH_SECONDS:-5}

demo_start primary "$DEMO_BIN/kvdb" --role primary --listen $PRI --data "$DEMO_TMP/primary" --name primary
for r in 1 2; do
	demo_start replica-$r "$DEMO_BIN/kvdb" --role replica --listen 127.0.0.1:$((P + 30 + r)) \
		--data "$DEMO_TMP/replica-$r" --primary $PRI --name replica-$r
done
for p in 30 31 32; do wait_http http://127.0.0.1:$((P + p))/healthz; done

echo "bench/replica: steady writes for ${DUR}s each, 2 replicas"
printf '%-12s %10s %14s %14s %18s\n' "rate" "writes/s" "delay p50 ms" "delay p99 ms" "max lag (records)"
start=0
for rate in 200 1000 5000; do
	"$HTTPLOAD" -d "$DUR" -r $rate -c 16 -X PUT -b 'v%d' --start $start "http://$PRI/kv/k%d" >"$DEMO_TMP/w.json" &
	lp=$!
	maxlag=0
	while kill -0 $lp 2>/dev/null; do
		l=$(curl -fs http://$PRI/status | grep -o '"lag_records":[0-9]*' | cut -d: -f2 | sort -n | tail -1)
		[ -n "$l" ] && [ "$l" -gt "$maxlag" ] && maxlag=$l
		sleep 0.1
	done
	wait $lp
	n=$(json requests <"$DEMO_TMP/w.json")
	start=$((start + n))
	sleep 0.5
	d1=$(curl -fs http://127.0.0.1:$((P + 31))/status)
	printf '%-12s %10s %14s %14s %18s\n' "$rate/s" "$(json rps <"$DEMO_TMP/w.json")" \
		"$(echo "$d1" | json delay_ms.p50)" "$(echo "$d1" | json delay_ms.p99)" "$maxlag"
done
echo "primary: $(curl -fs http://$PRI/status)"
