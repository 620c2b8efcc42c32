#!/bin/bash
# ctl_verbs.sh — kubectl's everyday verbs and flags in skiffctl, against a
# real skiff-orchestrator on 127.0.0.1 (no agents, so pods stay Pending):
# get of several kinds and `all`, -o jsonpath and custom-columns, --sort-by,
# --show-labels, --field-selector; label and annotate (--overwrite, KEY-,
# -l, --all), set image, rollout restart|pause|resume, run.
# The brain runs with a temporary data dir and is killed by pid at the end.
set -u
. "$(dirname "$0")/lib/ctlbrain.sh"
ctl_init skiff-ctl-verbs
brain_up 19000
lacks() { grep -q -- "$2" "$T/$1" && fail "$1 of the last command has: $2"; return 0; }

cat >"$T/web.yaml" <<'YAML'
apiVersion: skiff/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - {name: web, image: skiff-demo:1, command: [/bin/echo-svc]}
---
apiVersion: skiff/v1
kind: Service
metadata:
  name: web
  labels: {tier: front}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata:
  name: solo
  labels: {app: solo}
spec:
  containers:
  - {name: c, image: skiff-demo:1, command: [/bin/sleep, "1000"]}
YAML
run 0 apply -f "$T/web.yaml"
wait_for 10 bash -c "[ \$('$CTL' get pods -o name | grep -c '^pod/web-') = 2 ]" ||
	fail "the deployment made no 2 pods"

# get of several kinds, and all: one table per kind, names as KIND/NAME
run 0 get po,svc
has out "^pod/solo  *0/1  *Pending "
has out "^service/web  *app=web "
lacks out "^deployment/"
run 0 get all
has out "^pod/web-"
has out "^service/web "
has out "^deployment/web  *0/2 "
[ "$(grep -c '^NAME ' "$T/out")" = 3 ] || fail "get all: expected 3 tables"
run 0 get deploy/web svc/web -o name
has out "^deployment/web$"
has out "^service/web$"
run 0 get po,deploy -o json
has out '"kind": "List"'
has out '"kind": "Pod"'
has out '"kind": "Deployment"'
run 2 get pods,widgets
has err 'unknown kind "widgets"'
run 2 get po,svc web
has err "needs one kind"

# -o jsonpath
run 0 get pods -o 'jsonpath={.items[*].metadata.name}'
has out "^solo web-[0-9a-f]*-[a-z0-9]* web-"
run 0 get pods -o 'jsonpath={range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}'
has out "^solo	Pending$"
[ "$(wc -l <"$T/out")" = 3 ] || fail "range printed $(wc -l <"$T/out") lines"
run 0 get pods -o 'jsonpath={.items[?(@.metadata.name=="solo")].spec.containers[0].command}'
has out '^\["/bin/sleep","1000"\]$'
run 0 get deploy web -o=jsonpath='{.spec.template.spec.containers[0].image}'
has out "^skiff-demo:1$"
run 2 get pods -o 'jsonpath={.items[*'
has err "^error: -o jsonpath: column 10: expected ']' after '\[\*'$"
run 2 get pods -o 'jsonpath={range .items[*]}{.x}'
has err "{range} without {end}"
[ "$(wc -l <"$T/err")" -le 2 ] || fail "a bad template gave more than one error line"

# -o custom-columns
run 0 get pods -o 'custom-columns=NAME:.metadata.name,APP:.metadata.labels.app,NODE:.spec.nodeName'
has out "^NAME  *APP  *NODE$"
has out "^solo  *solo  *<none>$"
has out "^web-[^ ]*  *web  *<none>$"
run 0 get svc --no-headers -o 'custom-columns=PORTS:.spec.ports[*].port'
has out "^80$"
run 2 get pods -o 'custom-columns=NAME'
has err "expected HEADER:PATH"

# --sort-by: by a string, and by a number (numerically)
run 0 get pods --sort-by=.metadata.name -o name
[ "$(head -n 1 "$T/out")" = pod/solo ] || fail "--sort-by name: $(cat "$T/out")"
run 0 get pods --sort-by='{.metadata.labels.app}' -o 'jsonpath={.items[*].metadata.labels.app}'
has out "^solo web web$"
run 0 get pods --sort-by=.metadata.createdMs -o name
[ "$(tail -n 1 "$T/out")" = pod/solo ] && head -n 1 "$T/out" | grep -q "^pod/web-" ||
	true # same millisecond possible: only that it sorts without error
run 2 get pods --sort-by='{.a'
has err "^error: --sort-by: "

# --show-labels
run 0 get pods --show-labels
has out "^NAME  *READY  *STATUS  *RESTARTS  *AGE  *LABELS$"
has out "^solo .* app=solo$"
run 0 get svc --show-labels
has out "^web .* tier=front$"

# --field-selector
run 0 get pods --field-selector status.phase=Pending -o name
[ "$(wc -l <"$T/out")" = 3 ] || fail "status.phase=Pending: $(cat "$T/out")"
run 0 get pods --field-selector=status.phase!=Pending
has err "^No pods found.$"
run 0 get pods --field-selector metadata.name=solo -o name
[ "$(cat "$T/out")" = pod/solo ] || fail "metadata.name=solo: $(cat "$T/out")"
run 0 get pods --field-selector 'metadata.name!=solo,status.phase==Pending' -o name
lacks out "pod/solo"
has out "^pod/web-"
run 0 get pods --field-selector spec.nodeName=vm1
has err "^No pods found.$"
run 0 get pods --field-selector spec.nodeName= -o name
[ "$(wc -l <"$T/out")" = 3 ] || fail "spec.nodeName= (unbound) should list the 3 pods"
run 2 get pods --field-selector bogus=1
has err "field label not supported: bogus"
run 2 get svc --field-selector status.phase=Running
has err "field label not supported for services: status.phase"
run 2 get pods --field-selector status.phase
has err "expected FIELD=VALUE"

# label: add, refuse a change without --overwrite, change, remove; by -l
run 0 label deploy web tier=front
has out "^deployment/web labeled$"
run 1 label deploy web tier=back
has err "'tier' already has a value (front), and --overwrite is false"
run 0 label deployment/web tier=back --overwrite
has out "^deployment/web labeled$"
run 0 label deployment/web tier=back --overwrite
has out "^deployment/web not labeled$"
run 0 get deploy web -o 'jsonpath={.metadata.labels.tier}'
has out "^back$"
run 0 label deploy web tier-
run 0 get deploy -l tier
has err "^No deployments found.$"
run 0 label pods -l app=web color=blue
[ "$(grep -c ' labeled$' "$T/out")" = 2 ] || fail "label -l app=web: $(cat "$T/out")"
run 0 get pods -l color=blue -o name
[ "$(wc -l <"$T/out")" = 2 ] || fail "2 pods should have color=blue"
run 0 label svc --all env=test
has out "^service/web labeled$"
run 2 label deploy web
has err "expected at least one KEY=VALUE or KEY-"
run 2 label deploy web =x
has err "expected KEY=VALUE or KEY-"
run 1 label deploy nope a=b
has err "not found"
run 1 label deploy web 'bad key!=x'
# annotate
run 0 annotate deploy web owner=team-a
has out "^deployment/web annotated$"
run 0 get deploy web -o 'jsonpath={.metadata.annotations.owner}'
has out "^team-a$"
run 0 annotate deploy web owner-
run 0 get deploy web -o 'jsonpath={.metadata.annotations}'
lacks out "owner"

# set image: the template changes (a new generation), a missing container fails
gen=$("$CTL" get deploy web -o 'jsonpath={.metadata.generation}')
run 0 set image deployment/web web=skiff-demo:2
has out "^deployment/web image updated$"
run 0 get deploy web -o 'jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}'
[ "$(cat "$T/out")" = "skiff-demo:2 $((gen + 1))" ] || fail "set image: $(cat "$T/out")"
run 1 set image deployment/web nope=x:1
has err 'has no container "nope"'
run 0 set image deploy/web '*=skiff-demo:1'
run 0 get deploy web -o 'jsonpath={.spec.template.spec.containers[*].image}'
has out "^skiff-demo:1$"

# rollout restart: the template annotation kubectl uses; pause/resume
run 0 rollout restart deployment/web
has out "^deployment/web restarted$"
run 0 get deploy web -o 'jsonpath={.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}'
has out "^20[0-9-]*T[0-9:.]*Z$"
run 0 rollout pause deployment/web
has out "^deployment/web paused$"
run 0 get deploy web -o 'jsonpath={.spec.paused}'
has out "^true$"
run 1 rollout pause deployment/web
has err 'is already paused'
"$CTL" get deploy web -o yaml | "$CTL" apply -f - >"$T/out" 2>"$T/err" ||
	fail "a paused deployment's yaml does not apply: $(cat "$T/err")"
has out "^deployment/web unchanged$"
run 1 rollout restart deployment/web
has err "can't restart paused deployment"
run 0 rollout resume deploy web
has out "^deployment/web resumed$"
run 1 rollout resume deploy web
has err "is not paused"

# run: one pod, labelled run=NAME; a second run of the name is refused
run 0 run tools --image=skiff-demo:1 --env MODE=x --port 8080 --restart Never --command -- /bin/sleep 3600
has out "^pod/tools created$"
run 0 get pod tools -o 'jsonpath={.metadata.labels.run} {.spec.containers[0].command} {.spec.restartPolicy} {.spec.containers[0].env[0].value} {.spec.containers[0].ports[0].containerPort}'
has out '^tools \["/bin/sleep","3600"\] Never x 8080$'
run 1 run tools --image=skiff-demo:1 --command -- /bin/true
has err "already exists"
run 0 run t2 --image=skiff-demo:1 --labels a=b --dry-run -o yaml --command -- /bin/true
has out "^  name: t2$"
has out "^    a: b$"
run 1 get pod t2
run 2 run t3
has err "image is required"
run 2 run t3 --image=x --restart Sometimes
has err "--restart takes Always, OnFailure or Never"
run 0 delete pod tools

echo "ctl_verbs: ok"
