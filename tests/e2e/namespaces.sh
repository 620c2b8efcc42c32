#!/bin/bash
# namespaces.sh — e2e of namespaces on a 1-node lab: `create namespace`, the
# same deployment name in "default" and "team-a", both Running side by side
# on one node (distinct pods, uids and pod dirs), `get -A` with a NAMESPACE
# column, exec/logs/scale by -n, apply's namespace rules (the manifest's
# wins; a conflicting -n is an error; a namespace that does not exist is
# refused), "default" undeletable, and `delete namespace team-a` taking its
# pods, deployment and service while default's keep running untouched.
. "$(dirname "$0")/lib.sh"
e2e_start 60
lab_up 1

out=$(ctl create namespace team-a) || fail "create namespace team-a failed: $out"
[ "$out" = "namespace/team-a created" ] || fail "create namespace: '$out'"
one_line_error "create namespace team-a again" "already exists" ctl create namespace team-a
[ "$(q ns '.[] | select(.metadata.name == "team-a") | .status.phase')" = Active ] ||
	fail "namespace team-a is not Active: $(ctl get ns 2>&1)"
step "namespace team-a created, Active"

apply_deployment web 2 v1
ctl -n team-a apply -f "$E2E_TMP/web.yaml" >/dev/null || fail "apply -n team-a failed"
ns_running() { # NS N: N web pods Running in NS
	local s
	s=$(q pods 'map(select((.metadata.deletedMs // 0) == 0))
		| "\(length) \([.[] | select(.status.phase == "Running")] | length)"' \
		-l app=web -n "$1") || return 1
	[ "$s" = "$2 $2" ]
}
wait_until "2 web pods Running in default" 60 ns_running default 2
wait_until "2 web pods Running in team-a" 60 ns_running team-a 2
uids_default=$(q pods '[.[].metadata.uid] | sort | join(",")' -l app=web)
uids_team=$(q pods '[.[].metadata.uid] | sort | join(",")' -l app=web -n team-a)
[ "$uids_default" != "$uids_team" ] || fail "the two namespaces share pods"
[ "$(q pods '[.[].metadata.namespace] | unique | join(",")' -n team-a)" = team-a ] ||
	fail "team-a's pods do not say their namespace"
# node side: every pod has its own directory (by uid)
for u in ${uids_default//,/ } ${uids_team//,/ }; do
	[ -d "$E2E_LAB/vm1/state/pods/$u" ] || fail "no pod directory for uid $u on the node"
done
step "web in default and web in team-a: 2 + 2 Running, distinct uids and pod dirs"

# get -A: NAMESPACE first, both namespaces
ctl get pods -A >"$E2E_TMP/all" || fail "get pods -A failed"
head -1 "$E2E_TMP/all" | grep -q '^NAMESPACE  *NAME  *READY' ||
	fail "get pods -A: header '$(head -1 "$E2E_TMP/all")'"
[ "$(grep -c '^team-a  *web-' "$E2E_TMP/all")" = 2 ] && [ "$(grep -c '^default  *web-' "$E2E_TMP/all")" = 2 ] ||
	fail "get pods -A: $(cat "$E2E_TMP/all")"
[ "$(ctl get deployments -A --no-headers | wc -l)" = 2 ] || fail "get deployments -A"
[ "$(ctl get pods --no-headers | wc -l)" = 2 ] || fail "get pods (default only): $(ctl get pods)"
step "get pods -A: a NAMESPACE column, both namespaces; get pods: default only"

# exec and scale by namespace
tpod=$(q pods '.[0].metadata.name' -n team-a -l app=web)
out=$(ctl exec -n team-a "$tpod" -- hostname) || fail "exec -n team-a failed: $out"
[ "$out" = "$tpod" ] || fail "exec -n team-a hostname: '$out'"
one_line_error "exec into team-a's pod without -n" "not found" ctl exec "$tpod" -- true
ctl logs -n team-a "$tpod" >/dev/null || fail "logs -n team-a failed"
ctl -n team-a scale deployment web --replicas 3 >/dev/null || fail "scale -n team-a failed"
wait_until "3 web pods Running in team-a" 60 ns_running team-a 3
ns_running default 2 || fail "scaling team-a's web changed default's"
step "exec, logs and scale with -n team-a; default's web untouched"

# apply: the manifest's namespace wins; a conflicting -n is an error
sed 's/^  name: web$/  name: api\n  namespace: team-a/' "$E2E_TMP/web.yaml" >"$E2E_TMP/api.yaml"
one_line_error "apply -n default of a team-a manifest" "does not match the namespace" \
	ctl apply -n default -f "$E2E_TMP/api.yaml"
sed 's/namespace: team-a/namespace: nope/' "$E2E_TMP/api.yaml" >"$E2E_TMP/nope.yaml"
one_line_error "apply into a namespace that does not exist" 'namespaces "nope" not found' \
	ctl apply -f "$E2E_TMP/nope.yaml"
cat >"$E2E_TMP/svc.yaml" <<EOS
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: team-a
spec:
  selector:
    app: web
  ports:
    - port: 80
EOS
ctl apply -f "$E2E_TMP/svc.yaml" >/dev/null || fail "apply of team-a's service failed"
svc_eps() { [ "$(q svc '.[0].status.endpoints | length' -n team-a)" = 3 ]; }
wait_until "team-a's service has its 3 pods as endpoints" 30 svc_eps
step "apply: a conflicting -n and a missing namespace refused; team-a's service selects its 3 pods"

one_line_error "delete namespace default" "may not be deleted" ctl delete namespace default
before=$(running_pods app=web)
t=$(now_ms)
ctl delete namespace team-a >/dev/null || fail "delete namespace team-a failed"
team_gone() {
	! ctl get namespace team-a >/dev/null 2>&1 &&
		[ "$(ctl get pods -A --no-headers | grep -c '^team-a ')" = 0 ]
}
wait_until "namespace team-a and its pods gone" 60 team_gone
[ "$(ctl get deployments -A --no-headers | grep -c '^team-a ')" = 0 ] || fail "team-a's deployment is left"
[ "$(ctl get svc -A --no-headers 2>/dev/null | grep -c '^team-a ')" = 0 ] || fail "team-a's service is left"
[ "$(running_pods app=web)" = "$before" ] || fail "default's pods changed: $before -> $(running_pods app=web)"
step "delete namespace team-a: it and its pods, deployment, service gone in $(($(now_ms) - t)) ms; default's pods untouched"
