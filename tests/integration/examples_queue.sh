#!/bin/bash
# examples_queue.sh — the queue demo standalone on 127.0.0.1: 1,000 orders
# through the producer while an email worker and then the queue itself are
# killed (kill -9) and restarted -> every order processed, none lost, the
# duplicates counted and reported; push mode delivers every message to the
# webhook through refusals; a message received too often lands in the
# dead-letter queue.
. "$(dirname "$0")/../../examples/common/testlib.sh"
[ -x "$DEMO_BIN/queue-svc" ] || { echo "demo programs not built (make all)"; exit 77; }
P=$(free_ports $(( ${EXAMPLES_PORT_BASE:-21100} + 100 )) 10)
Q=127.0.0.1:$P
DATA=$DEMO_TMP/queue-data
export DEMO_STDOUT=1

start_queue() {
	demo_start "queue$1" "$DEMO_BIN/queue-svc" --listen $Q --data "$DATA" \
		--queue orders,visibility=2,max-receives=50 \
		--queue notifications,visibility=5,push=127.0.0.1:$((P + 3))/hook \
		--queue dl,visibility=0,max-receives=2
}
start_queue 1
demo_start producer "$DEMO_BIN/orders-producer" --listen 127.0.0.1:$((P + 1)) --server $Q --queue orders
for w in 0 1; do
	SKIFF_POD_NAME=email-$w demo_start email-$w "$DEMO_BIN/queue-worker" --server $Q --queue orders --wait 1 --visibility 2
done
SKIFF_POD_NAME=webhook-0 demo_start webhook "$DEMO_BIN/webhook-consumer" --listen 127.0.0.1:$((P + 3)) --fail-every 7
wait_http http://$Q/healthz
wait_http http://127.0.0.1:$((P + 1))/healthz
wait_http http://127.0.0.1:$((P + 3))/healthz

produce_orders http://127.0.0.1:$((P + 1))/orders 1000 800 >"$DEMO_TMP/produce.json" &
lp=$!
sleep 0.3
echo "killing email-0 and starting email-2"
demo_kill email-0
SKIFF_POD_NAME=email-2 demo_start email-2 "$DEMO_BIN/queue-worker" --server $Q --queue orders --wait 1 --visibility 2
sleep 0.3
echo "killing the queue (kill -9) and restarting it on its data"
demo_kill queue1
sleep 0.5
start_queue 2
wait $lp || fail "the producer did not get 1000 orders acknowledged: $(cat "$DEMO_TMP/produce.json")"
echo "produce: $(cat "$DEMO_TMP/produce.json")"
[ "$(json ok <"$DEMO_TMP/produce.json")" = 1000 ] || fail "not all orders acknowledged"

got=$(wait_processed 1000 20 order "queue=orders" "$DEMO_TMP"/email-*.out)
unique=${got% *} total=${got#* }
echo "orders processed: $unique distinct of 1000, $total processings, $((total - unique)) duplicates (at-least-once redeliveries)"
[ "$unique" = 1000 ] || fail "only $unique of 1000 orders processed"
stats=$(curl -fs http://$Q/queues/orders)
echo "queue: $stats"
sleep 0.3
stats=$(curl -fs http://$Q/queues/orders)
[ "$(echo "$stats" | json Visible)" = 0 ] && [ "$(echo "$stats" | json InFlight)" = 0 ] ||
	fail "messages left in the queue: $stats"

# push mode: 50 messages to the webhook, which refuses every 7th delivery
"$HTTPLOAD" -n 50 -c 4 -X POST -b '{"order":%d,"notify":true}' http://$Q/queues/notifications/messages >/dev/null ||
	fail "cannot send to the push queue"
got=$(wait_processed 50 15 order "queue=notifications" "$DEMO_TMP/webhook.out")
echo "push deliveries: ${got% *} distinct of 50 ($(curl -fs http://127.0.0.1:$((P + 3))/stats))"
[ "${got% *}" = 50 ] || fail "push mode delivered ${got% *} of 50"
curl -fs http://$Q/queues/notifications | grep -q '"PushFailed":[1-9]' || fail "no push retry happened"

# dead-letter queue: received twice without a delete -> moved on the third receive
curl -fs -X POST -d '{"poison":1}' http://$Q/queues/dl/messages >/dev/null || fail "send to dl"
for i in 1 2; do
	curl -fs "http://$Q/queues/dl/messages?max=1" | grep -q poison || fail "receive $i of the dl message"
	sleep 0.25 # visibility 0: visible again at the next 100 ms tick
done
[ "$(curl -fs "http://$Q/queues/dl/messages?max=1" | json Messages)" = "[]" ] || fail "message not dead-lettered"
curl -fs "http://$Q/queues/dl-dlq/messages?max=1" | grep -q poison || fail "message not in dl-dlq"
# ChangeMessageVisibility: release an in-flight message at once, then extend it
curl -fs -X POST -d '{"vis":1}' http://$Q/queues/vis/messages >/dev/null || fail "send to vis"
r=$(curl -fs "http://$Q/queues/vis/messages?max=1&visibility=600" | json ReceiptHandle)
[ -n "$r" ] || fail "receive from vis"
curl -fs -X POST "http://$Q/queues/vis/messages/$r/visibility?timeout=0" >/dev/null || fail "release $r"
sleep 0.25
r=$(curl -fs "http://$Q/queues/vis/messages?max=1&visibility=1" | json ReceiptHandle)
[ -n "$r" ] || fail "a released message was not visible again"
curl -fs -X POST "http://$Q/queues/vis/messages/$r/visibility?timeout=600" >/dev/null || fail "extend $r"
sleep 1.3
[ "$(curl -fs "http://$Q/queues/vis/messages?max=1" | json Messages)" = "[]" ] || fail "an extended message came back"
echo "queue: ok"
