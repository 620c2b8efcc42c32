#!/bin/bash
# examples_announce.sh — a demo server started in a pod announces its MAC
# address to its gateway (examples/common/demo.c): a restarted pod keeps its
# IP but gets a new veth, and the node's neighbour entry that still holds the
# old MAC is replaced at once instead of black-holing the pod for 15-45 s.
# Two network namespaces of its own ("node" and "pod") joined by a veth; the
# node's entry for the pod IP is set to a stale MAC, then echo-svc starts in
# the pod with SKIFF_POD_IP set, as the agent starts it.
. "$(dirname "$0")/../../examples/common/testlib.sh"
[ "$(id -u)" = 0 ] || { echo "examples_announce: needs root"; exit 77; }
command -v ip >/dev/null || { echo "examples_announce: needs iproute2"; exit 77; }
[ -x "$DEMO_BIN/echo-svc" ] || { echo "demo programs not built (make all)"; exit 77; }
NODE=skdemo-node$$ POD=skdemo-pod$$
IPNODE=10.231.0.1 IPPOD=10.231.0.2
STALE=02:00:5e:00:00:01
remove_ns() {
	ip netns del "$NODE" 2>/dev/null
	ip netns del "$POD" 2>/dev/null
}
trap 'demo_cleanup; remove_ns' EXIT
ip netns add "$NODE" && ip netns add "$POD" || fail "cannot create network namespaces"
ip link add "skn$$" netns "$NODE" type veth peer name "skp$$" netns "$POD" || fail "cannot create a veth"
ip -n "$NODE" addr add $IPNODE/24 dev "skn$$"
ip -n "$NODE" link set "skn$$" up
ip -n "$POD" addr add $IPPOD/24 dev "skp$$"
ip -n "$POD" link set "skp$$" up
ip -n "$POD" link set lo up
ip -n "$POD" route add default via $IPNODE
MAC=$(ip -n "$POD" -o link show "skp$$" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
[ -n "$MAC" ] || fail "no MAC address on the pod's veth"

# the node still maps the pod IP to the MAC of the pod's previous veth
ip -n "$NODE" neigh replace $IPPOD lladdr $STALE dev "skn$$" nud reachable
ip -n "$NODE" neigh show $IPPOD | grep -q $STALE || fail "cannot set the stale entry"

SKIFF_POD_NAME=echo-0 SKIFF_POD_IP=$IPPOD demo_start echo ip netns exec "$POD" \
	"$DEMO_BIN/echo-svc" --listen 0.0.0.0:8080 --service echo
for ((i = 0; i < 60; i++)); do
	ip -n "$NODE" neigh show $IPPOD | grep -q "$MAC" && break
	sleep 0.05
done
entry=$(ip -n "$NODE" neigh show $IPPOD)
echo "node's entry for the pod after the server started: $entry (pod MAC $MAC)"
echo "$entry" | grep -q "$MAC" || fail "the node's neighbour entry still holds the stale MAC: $entry"
ip netns exec "$NODE" curl -fs --max-time 2 -o /dev/null http://$IPPOD:8080/healthz ||
	fail "the restarted server does not answer from the node"
echo "announce: ok"
