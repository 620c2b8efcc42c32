#!/bin/bash
# pki.sh — e2e on a 2-node lab whose brain issues node certificates for 20 s
# (--cert-validity): every agent renews its certificate by itself over its
# connection before 2/3 of that life, twice, with no pod restarted (the same
# container pids, restart counts 0); then vm2 is reinstalled (agent, containers
# and state dir gone): its JOIN as an existing node waits for an admin, and
# `skiffctl certificate approve vm2` lets it back in.
SKIFF_LAB_BRAIN_ARGS="--cert-validity 20s"
export SKIFF_LAB_BRAIN_ARGS
. "$(dirname "$0")/lib.sh"
e2e_start 180
lab_up 2

apply_deployment web 2 v1
wait_until "2 web pods Running" 30 all_running app=web 2
before=$(running_pods app=web)
renewals() { grep -c "renewed the node certificate" "$E2E_LAB/logs/$1.log" 2>/dev/null || true; }
renewed_twice() { [ "$(renewals vm1)" -ge 2 ] && [ "$(renewals vm2)" -ge 2 ]; }
# 20 s certificates: renewed at ~13 s of their life, then again ~13 s later
wait_until "both agents renewed their certificate twice" 60 renewed_twice
after=$(running_pods app=web)
[ "$after" = "$before" ] || fail "pods changed across the renewals:
before: $before
after:  $after"
nodes_ready 2 || fail "a node is not Ready after renewing its certificate"
step "renewed (vm1 $(renewals vm1)x, vm2 $(renewals vm2)x), pods untouched: $before"

# vm2 is reinstalled: a new key for an existing node name
lab node-down vm2 >/dev/null
# its identity gone (the pods' records stay: their netns may still be mounted)
rm -f "$E2E_LAB/vm2/state/node.crt" "$E2E_LAB/vm2/state/node.key" "$E2E_LAB/vm2/state/ca.crt"
lab node-up vm2 >/dev/null
pending() { ctl certificate list | grep -Eq '^vm2 +Pending '; }
wait_until "vm2's JOIN waits for approval" 30 pending
grep -q "waits for an admin: skiffctl certificate approve vm2" "$E2E_LAB/logs/vm2.log" ||
	fail "the agent's log does not say why it cannot join"
[ ! -e "$E2E_LAB/vm2/state/node.crt" ] || fail "vm2 got a certificate without approval"
ctl certificate approve vm2 >/dev/null
has_cert() { [ -e "$E2E_LAB/vm2/state/node.crt" ]; }
# (its refused attempts were slowed down by the JOIN limiter: up to 30 s)
wait_until "vm2 joined after the approval" 60 has_cert
wait_until "2 nodes Ready" 30 nodes_ready 2
wait_until "2 web pods Running" 30 all_running app=web 2
step "vm2 is back after approval: $(spread app=web)"
