#!/bin/bash
# examples_gateway.sh — the gateway demo standalone on 127.0.0.1: strict
# round-robin (300 requests -> 100/100/100 over 3 users replicas, 2 orders
# replicas even), HTTP/1.1 details of the proxy path, live endpoint changes, and a users replica killed (some of
# its requests in flight) during a steady stream -> zero failed requests.
. "$(dirname "$0")/../../examples/common/testlib.sh"
[ -x "$DEMO_BIN/gateway" ] || { echo "demo programs not built (make all)"; exit 77; }
P=$(free_ports ${EXAMPLES_PORT_BASE:-21100} 30)
EP=$DEMO_TMP/endpoints
mkdir -p "$EP"
export SKIFF_ENDPOINTS_DIR=$EP

for i in 0 1 2; do
	delay=
	[ $i = 2 ] && delay="--delay-ms 30" # so some requests are in flight when it is killed
	SKIFF_POD_NAME=users-$i demo_start users-$i "$DEMO_BIN/echo-svc" --listen 127.0.0.1:$((P + i)) --service users $delay
done
for i in 0 1; do
	SKIFF_POD_NAME=orders-$i demo_start orders-$i "$DEMO_BIN/echo-svc" --listen 127.0.0.1:$((P + 10 + i)) --service orders
done
write_endpoints "$EP/users" 127.0.0.1:$P 127.0.0.1:$((P + 1)) 127.0.0.1:$((P + 2))
write_endpoints "$EP/orders" 127.0.0.1:$((P + 10)) 127.0.0.1:$((P + 11))
demo_start gateway "$DEMO_BIN/gateway" --listen 127.0.0.1:$((P + 20))
GW=http://127.0.0.1:$((P + 20))
for i in 0 1 2; do wait_http http://127.0.0.1:$((P + i))/healthz; done
wait_http $GW/healthz

check_gateway_spread "$GW/users/%d" 300 3
check_gateway_spread "$GW/orders/%d" 10 2

# HTTP/1.1 through the proxy path: bodies (Content-Length, with Expect:
# 100-continue, chunked), HEAD, HTTP/1.0, pipelining, the gateway's own errors
head -c 3000 /dev/zero | tr '\0' x >"$DEMO_TMP/body"
r=$(curl -fsS -X POST --data-binary @"$DEMO_TMP/body" $GW/orders/big) || fail "POST with a 3000-byte body (Expect: 100-continue) failed"
[ "$(echo "$r" | json bytes)" = 3000 ] && [ "$(echo "$r" | json method)" = POST ] || fail "POST body not passed on: $r"
r=$(curl -fsS -X PUT -H 'Transfer-Encoding: chunked' --data-binary @"$DEMO_TMP/body" $GW/orders/chunked) || fail "chunked PUT failed"
[ "$(echo "$r" | json bytes)" = 3000 ] || fail "chunked body not passed on: $r"
h=$(curl -fsS -I $GW/orders/head $GW/orders/after-head) || fail "HEAD (then a GET on the same connection) failed"
echo "$h" | grep -qi '^x-upstream: 127.0.0.1:' || fail "no X-Upstream header in: $h"
r=$(curl -fsS -0 $GW/orders/old) || fail "HTTP/1.0 request failed"
[ "$(echo "$r" | json path)" = /orders/old ] || fail "HTTP/1.0 answer: $r"
exec 3<>/dev/tcp/127.0.0.1/$((P + 20))
printf 'GET /orders/p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /orders/p2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
r=$(timeout 5 cat <&3)
exec 3<&-
[ "$(echo "$r" | grep -c '^HTTP/1.1 200')" = 2 ] && echo "$r" | grep -q '/orders/p1' && echo "$r" | grep -q '/orders/p2' ||
	fail "two pipelined requests did not get two answers in order: $r"
[ "$(curl -s -o /dev/null -w '%{http_code}' $GW/nowhere)" = 404 ] || fail "no 404 for an unrouted path"
head -c $((2 << 20)) /dev/zero >"$DEMO_TMP/huge"
[ "$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$DEMO_TMP/huge" $GW/orders/huge)" = 413 ] || fail "no 413 for a 2 MiB body"
printf 'NOT HTTP\r\n\r\n' >"$DEMO_TMP/junk"
r=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$((P + 20)); cat $DEMO_TMP/junk >&3; cat <&3")
echo "$r" | grep -q '^HTTP/1.1 400' || fail "no 400 for a malformed request: $r"

# live endpoint change: drop users-0 from the file -> 2 replicas share 100 requests
write_endpoints "$EP/users" 127.0.0.1:$((P + 1)) 127.0.0.1:$((P + 2))
check_gateway_spread "$GW/users/%d" 100 2
write_endpoints "$EP/users" 127.0.0.1:$P 127.0.0.1:$((P + 1)) 127.0.0.1:$((P + 2))

# kill users-2 mid-stream; the endpoints file drops it 0.5 s later (as the agent
# would after its probe fails), then a restarted replica is added back
check_gateway_kill "$GW/users/%d" \
	"demo_kill users-2; (sleep 0.5; write_endpoints $EP/users 127.0.0.1:$P 127.0.0.1:$((P + 1))) &" \
	"SKIFF_POD_NAME=users-2b demo_start users-2b $DEMO_BIN/echo-svc --listen 127.0.0.1:$((P + 3)) --service users; sleep 0.2; write_endpoints $EP/users 127.0.0.1:$P 127.0.0.1:$((P + 1)) 127.0.0.1:$((P + 3))"
check_gateway_spread "$GW/users/%d" 300 3
curl -fs $GW/gateway/status | grep -q '"retries":[1-9]' || fail "no retry was counted: $(curl -s $GW/gateway/status)"

# 2 worker processes (SO_REUSEPORT) keep one strict rotation and shared
# counters; a killed replica still costs no failed request
demo_start gateway2 "$DEMO_BIN/gateway" --listen 127.0.0.1:$((P + 21)) --workers 2
GW2=http://127.0.0.1:$((P + 21))
wait_http $GW2/healthz
check_gateway_spread "$GW2/users/%d" 300 3
check_gateway_spread "$GW2/orders/%d" 10 2
check_gateway_kill "$GW2/users/%d" \
	"demo_kill users-2b; (sleep 0.5; write_endpoints $EP/users 127.0.0.1:$P 127.0.0.1:$((P + 1))) &" \
	"SKIFF_POD_NAME=users-2c demo_start users-2c $DEMO_BIN/echo-svc --listen 127.0.0.1:$((P + 4)) --service users; sleep 0.2; write_endpoints $EP/users 127.0.0.1:$P 127.0.0.1:$((P + 1)) 127.0.0.1:$((P + 4))"
check_gateway_spread "$GW2/users/%d" 300 3
st=$(curl -fs $GW2/gateway/status)
echo "$st" | grep -q '"workers":2' || fail "the gateway does not report 2 workers: $st"
echo "$st" | grep -q '"retries":[1-9]' || fail "no retry was counted by the 2 workers: $st"
# 300 + 10 + the stream's (> 1000) + 300, counted by both workers together
[ "$(echo "$st" | json requests)" -gt 1610 ] || fail "the workers' shared request count is off: $st"
# client connections are capped below the open-file limit (64 -> 16): the
# 17th waits in the backlog, unanswered, until a client leaves
demo_start gateway3 bash -c "ulimit -n 64; exec $DEMO_BIN/gateway --listen 127.0.0.1:$((P + 22))"
GW3=http://127.0.0.1:$((P + 22))
wait_http $GW3/healthz
fds=()
for ((i = 0; i < 16; i++)); do
	exec {fd}<>/dev/tcp/127.0.0.1/$((P + 22)) || fail "connection $i to the capped gateway"
	fds+=("$fd")
done
sleep 0.2
curl -fs --max-time 1 -o /dev/null $GW3/orders/over-cap && fail "a 17th client was served over the cap of 16"
for fd in "${fds[@]}"; do exec {fd}<&-; done
curl -fs --max-time 3 -o /dev/null $GW3/orders/after-cap || fail "the capped gateway did not accept again after clients left"
grep -q "not accepting more" "$DEMO_TMP/gateway3.log" || fail "the cap was not logged"
echo "gateway: ok"
