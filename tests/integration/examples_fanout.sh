#!/bin/bash
# examples_fanout.sh — the fanout demo standalone on 127.0.0.1: a topic with
# three subscribed queues (compress, notify, analytics), each drained by its
# own worker group; 100 VideoUploaded events published (the topic service
# killed -9 half-way and restarted WITHOUT its --subscribe flags, so the
# subscriptions must come from its log) -> each group processed all 100.
. "$(dirname "$0")/../../examples/common/testlib.sh"
[ -x "$DEMO_BIN/topic-svc" ] || { echo "demo programs not built (make all)"; exit 77; }
P=$(free_ports $(( ${EXAMPLES_PORT_BASE:-21100} + 200 )) 10)
Q=127.0.0.1:$P
T=http://127.0.0.1:$((P + 1))
export DEMO_STDOUT=1

demo_start queue "$DEMO_BIN/queue-svc" --listen $Q --data "$DEMO_TMP/queue" \
	--queue compress,visibility=5 --queue notify,visibility=5 --queue analytics,visibility=5
demo_start topics1 "$DEMO_BIN/topic-svc" --listen 127.0.0.1:$((P + 1)) --data "$DEMO_TMP/topics" \
	--server $Q --subscribe videos:compress=compress --subscribe videos:notify=notify \
	--subscribe videos:analytics=analytics
for g in compress notify analytics; do
	SKIFF_POD_NAME=$g-0 demo_start $g-0 "$DEMO_BIN/queue-worker" --server $Q --queue $g --wait 1
done
SKIFF_POD_NAME=compress-1 demo_start compress-1 "$DEMO_BIN/queue-worker" --server $Q --queue compress --wait 1
wait_http http://$Q/healthz
wait_http $T/healthz

pub='{"type":"VideoUploaded","video":%d}'
"$HTTPLOAD" -n 50 -c 4 -X POST -b "$pub" $T/topics/videos/publish >/dev/null || fail "publishing 0..49"
demo_kill topics1
demo_start topics2 "$DEMO_BIN/topic-svc" --listen 127.0.0.1:$((P + 1)) --data "$DEMO_TMP/topics" --server $Q
wait_http $T/healthz
"$HTTPLOAD" -n 50 --start 50 -c 4 -X POST -b "$pub" $T/topics/videos/publish >/dev/null || fail "publishing 50..99"

for g in compress notify analytics; do
	got=$(wait_processed 100 15 video "queue=$g" "$DEMO_TMP"/$g-*.out)
	echo "$g: ${got% *} distinct videos of 100, ${got#* } processings"
	[ "${got% *}" = 100 ] || fail "worker group $g processed ${got% *} of 100 events"
done
echo "topics: $(curl -fs $T/topics)"
echo "fanout: ok"
