#!/bin/bash
# examples_replica.sh — the replica demo standalone on 127.0.0.1: 1,000 writes
# to the primary visible on both replicas; a replica killed (kill -9) misses
# writes, the primary reports its lag, and once restarted it catches up from
# its persisted position; a killed primary restarts from its log and the
# replicas reconnect; replicas refuse writes.
. "$(dirname "$0")/../../examples/common/testlib.sh"
[ -x "$DEMO_BIN/kvdb" ] || { echo "demo programs not built (make all)"; exit 77; }
P=$(free_ports $(( ${EXAMPLES_PORT_BASE:-21100} + 300 )) 10)
PRI=http://127.0.0.1:$P

start_primary() {
	demo_start "primary$1" "$DEMO_BIN/kvdb" --role primary --listen 127.0.0.1:$P --data "$DEMO_TMP/primary" --name kv-primary-0
}
start_replica() { # N RUN
	demo_start "replica-$1$2" "$DEMO_BIN/kvdb" --role replica --listen 127.0.0.1:$((P + $1)) \
		--data "$DEMO_TMP/replica-$1" --primary 127.0.0.1:$P --name replica-$1
}
start_primary 1
start_replica 1 a
start_replica 2 a
R1=http://127.0.0.1:$((P + 1))
R2=http://127.0.0.1:$((P + 2))
wait_http $PRI/healthz
wait_http $R1/healthz
wait_http $R2/healthz

write_keys $PRI 1000 0
echo "1000 writes: $(cat "$DEMO_TMP/writes.json")"
wait_pos $R1/status 1000 10
wait_pos $R2/status 1000 10
check_keys $R1 0 1 500 998 999
check_keys $R2 0 1 500 998 999
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -d x $R1/kv/nope)
[ "$code" = 403 ] || fail "a replica accepted a write ($code)"

demo_kill replica-2a
write_keys $PRI 500 1000
sleep 0.3
st=$(curl -fs $PRI/status)
echo "primary with replica-2 down: $st"
python3 - "$st" <<'PY' || fail "the primary does not report replica-2's lag: $st"
import json, sys
s = json.loads(sys.argv[1])
r = {x["name"]: x for x in s["replicas"]}
assert s["pos"] == 1500, s
assert r["replica-2"]["pos"] == 1000 and r["replica-2"]["lag_records"] == 500, r
assert r["replica-2"]["lag_ms"] > 0, r
assert r["replica-1"]["lag_records"] == 0, r
PY
start_replica 2 b
wait_http $R2/healthz
grep -q "position 1000" "$DEMO_TMP/replica-2b.log" || fail "replica-2 did not restart from its position 1000"
wait_pos $R2/status 1500 10
check_keys $R2 1000 1250 1499
echo "replica-2 after restart: $(curl -fs $R2/status)"

demo_kill primary1
start_primary 2
wait_http $PRI/healthz
[ "$(status_field $PRI/status pos)" = 1500 ] || fail "the primary lost writes: $(curl -s $PRI/status)"
write_keys $PRI 100 1500
wait_pos $R1/status 1600 10
wait_pos $R2/status 1600 10
check_keys $R1 1599
check_keys $R2 1599
echo "after a primary restart: $(curl -fs $PRI/status)"
echo "replica: ok"
