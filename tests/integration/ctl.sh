#!/bin/bash
# ctl.sh — the real skiffctl against a real skiff-orchestrator on 127.0.0.1
# (no agents): apply/unchanged/configured, the three-errors manifest changes
# nothing, get/describe/scale/rollout/delete, -o yaml round trip, exit codes,
# Kubernetes manifests (apps/v1, v1, named ports, ignored and refused fields),
# label selectors with !=, in, notin and !key, -o=json.
# The brain runs with a temporary data dir and is killed by pid at the end.
set -u
. "$(dirname "$0")/lib/ctlbrain.sh"
ctl_init skiff-ctl-test
brain_up 17000
run 0 version
has out "Client Version: "
has out "Server Version: "

cat >"$T/web.yaml" <<'EOF'
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
      - name: web
        image: skiff-demo:1
        command: [/bin/echo-svc]
        resources:
          requests: {cpu: 100m, memory: 16Mi}
---
apiVersion: skiff/v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
EOF

# --dry-run changes nothing
run 0 apply -f "$T/web.yaml" --dry-run
has out "^deployment/web created (dry run)$"
run 1 get deployment web

# apply twice: created, then unchanged
run 0 apply -f "$T/web.yaml"
has out "^deployment/web created$"
has out "^service/web created$"
run 0 apply -f "$T/web.yaml"
has out "^deployment/web unchanged$"
has out "^service/web unchanged$"

# the three-errors manifest (plus a valid object) reports all, sends nothing
cat >"$T/bad.yaml" <<'EOF'
apiVersion: skiff/v1
kind: Deployment
metadata:
  name: other
spec:
  template:
    spec:
      containers: [{name: c, image: i, command: [/bin/c]}]
---
apiVersion: skiff/v1
kind: Deployment
metadata:
  labels: {app: x}
spec:
  template:
    spec:
      containers:
      - name: x
        imagee: skiff-demo:1
        resources:
          limits: {memory: 64Mb}
EOF
run 1 apply -f "$T/bad.yaml"
has err "bad.yaml:13:3: metadata.name: required field is missing"
has err "bad.yaml:19:9: spec.template.spec.containers\[0\].imagee: unknown field \"imagee\", did you mean \"image\"?"
has err "bad.yaml:21:28: spec.template.spec.containers\[0\].resources.limits.memory: expected a memory quantity"
has err "nothing was sent"
[ -s "$T/out" ] && fail "apply with errors printed results"
run 1 get deployment other

# #18: what cannot run is refused at apply, each with its field and line
cat >"$T/norun.yaml" <<'EOF'
apiVersion: skiff/v1
kind: Pod
metadata: {name: tagless}
spec:
  containers:
  - {name: c, image: 'web:', command: [/x]}
---
apiVersion: skiff/v1
kind: Pod
metadata: {name: envs}
spec:
  containers:
  - name: c
    image: skiff-demo:1
    command: [/x]
    env:
    - {name: OK, value: "1"}
    - {name: 1BAD, value: "2"}
---
apiVersion: skiff/v1
kind: Pod
metadata: {name: mounts}
spec:
  volumes: [{name: data}]
  containers:
  - name: c
    image: skiff-demo:1
    command: [/x]
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: cache, mountPath: /cache}
---
apiVersion: skiff/v1
kind: Pod
metadata: {name: twins}
spec:
  containers:
  - {name: c, image: skiff-demo:1, command: [/x]}
  - {name: c, image: skiff-demo:1, command: [/y]}
EOF
run 1 apply -f "$T/norun.yaml"
has err "norun.yaml:6:22: spec.containers\[0\].image: 'web:' is not a valid image reference (\[HOST\[:PORT\]/\]NAME\[:TAG\]\[@sha256:DIGEST\]): the tag after ':' is empty$"
has err "norun.yaml:18:14: spec.containers\[0\].env\[1\].name: '1BAD' is not a valid environment variable name"
has err "norun.yaml:31:14: spec.containers\[0\].volumeMounts\[1\].name: no volume named 'cache' in volumes$"
has err "norun.yaml:39:12: spec.containers\[1\].name: container name 'c' is used twice$"
has err "4 errors in the manifests; nothing was sent"
# skiffctl cannot know an image's entrypoint: the brain judges it (a name
# of neither its store nor a registry has none), and skiffctl places it
cat >"$T/nocmd.yaml" <<'EOF'
apiVersion: skiff/v1
kind: Pod
metadata: {name: nocmd}
spec:
  containers: [{name: c, image: 'flat:1'}]
---
apiVersion: skiff/v1
kind: Pod
metadata: {name: pulled}
spec:
  containers: [{name: c, image: 'registry.local:5000/web:1'}]
EOF
run 1 apply --dry-run -f "$T/nocmd.yaml"
has err "pod/nocmd (.*nocmd.yaml:1): spec.containers\[0\].command: required field is missing (image 'flat:1' names no entrypoint)$"
has out "^pod/pulled created (dry run)$"

# get: table, -o name, -o yaml round trip into apply
run 0 get deployments
has out "^NAME  *READY  *UP-TO-DATE  *AVAILABLE  *AGE$"
has out "^web  *[0-9]*/2 "
run 0 get deploy web -o yaml
has out "^kind: Deployment$"
has out "^  replicas: 2$"
"$CTL" get deploy web -o yaml | "$CTL" apply -f - >"$T/out" 2>"$T/err" || fail "round trip apply failed"
has out "^deployment/web unchanged$"
"$CTL" get svc -o json | "$CTL" apply -f - >"$T/out" 2>"$T/err" || fail "round trip of a List failed"
has out "^service/web unchanged$"
run 0 get services
has out "^web  *app=web  *80/TCP "

# bash completion offers the cluster's names (through get -o name)
words=$(PATH=$BIN:$PATH bash -c 'source contrib/skiffctl.bash-completion
	COMP_WORDS=(skiffctl describe deploy ""); COMP_CWORD=3; _skiffctl; echo "${COMPREPLY[@]}"')
[ "$words" = "web" ] || fail "completion of deployment names gave \"$words\""

# the deployment controller makes two pods (Pending: no nodes)
for _ in $(seq 50); do
	[ "$("$CTL" get pods -o name 2>/dev/null | grep -c '^pod/web-')" = 2 ] && break
	sleep 0.1
done
run 0 get pods -o name
[ "$(grep -c '^pod/web-' "$T/out")" = 2 ] || fail "expected 2 pods of web"
pod=$(head -n 1 "$T/out" | cut -d/ -f2)
run 0 get pods -l app=web
has out "^NAME  *READY  *STATUS  *RESTARTS  *AGE$"
has out "^$pod  *0/1  *Pending "
run 0 describe pod "$pod"
has out "^Name: *$pod$"
has out "^Status: *Pending$"
has out "^Message: *0/0 nodes fit:$"
has out "^  - no nodes are registered$"
has out "^Controlled By: *Deployment/web$"
run 0 describe deployment web
has out "^Replicas: *2 desired"
run 0 get events
has out "^LAST SEEN  *TYPE  *REASON  *OBJECT  *MESSAGE$"
has out "FailedScheduling  *pod/$pod "

# no node can run the pods: rollout status shows progress, then times out
run 1 rollout status deployment/web --timeout 1s
has out 'Waiting for deployment "web" rollout to finish: 0 of 2 updated replicas are available...'
has err 'timed out waiting for deployment "web"'

# scale, then a changed manifest is "configured"
run 0 scale deployment/web --replicas 3
has out "^deployment/web scaled$"
run 0 get deployment web -o json
has out '"replicas": 3'
sed 's/replicas: 2/replicas: 1/' "$T/web.yaml" >"$T/web1.yaml"
run 0 apply -f "$T/web1.yaml"
has out "^deployment/web configured$"
has out "^service/web unchanged$"

# cordon of a node that does not exist: refused with the brain's reason
run 1 cordon vm-none
has err "^error: .*vm-none"

# delete by manifest, then by name of something gone
run 0 delete -f "$T/web.yaml"
has out "^deployment/web deleted$"
has out "^service/web deleted$"
run 1 get deployment web
has err "^error: "
run 1 delete deployment web
has err "^error: "
run 0 delete deployment web --ignore-not-found

# Kubernetes manifests: the Service of the Kubernetes docs applies unchanged
run 0 apply -f tests/fixtures/k8s/nginx-svc.yaml
has out "^service/my-nginx created$"
cat >"$T/k8s.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: k8s-web
  labels: {tier: front}
spec:
  selector:
    matchLabels:
      app: k8s-web
  template:
    metadata:
      labels:
        app: k8s-web
    spec:
      containers:
      - name: web
        image: skiff-demo:1
        imagePullPolicy: Always
        command: [/bin/echo-svc]
        ports:
        - name: http
          containerPort: 8080
        readinessProbe:
          httpGet:
            port: http
---
apiVersion: v1
kind: Service
metadata:
  name: k8s-web
spec:
  selector:
    app: k8s-web
  ports:
  - port: 80
    targetPort: http
EOF
run 0 apply -f "$T/k8s.yaml"
grep -q imagePullPolicy "$T/err" && fail "imagePullPolicy is a Skiff field, not ignored: $(cat "$T/err")"
has out "^deployment/k8s-web created$"
has out "^service/k8s-web created$"
run 0 get svc k8s-web -o yaml
has out "^    targetPort: http$"
run 0 describe svc k8s-web
has out "^TargetPort: *http/TCP$"
run 0 get deploy k8s-web -o yaml
has out "^ *port: http$"
# label selectors as kubectl takes them (the brain filters lists and watches)
run 0 get svc -l 'run!=my-nginx' -o name
has out "^service/k8s-web$"
grep -q "my-nginx" "$T/out" && fail "-l run!=my-nginx listed my-nginx"
run 0 get svc -l 'run in (my-nginx, other)' -o name
has out "^service/my-nginx$"
grep -q "k8s-web" "$T/out" && fail "-l 'run in (…)' listed k8s-web"
run 0 get deploy -l 'tier' -o name
has out "^deployment/k8s-web$"
run 0 get pods -l 'app notin (web)' -o name
has out "^pod/k8s-web-"
grep -q "^pod/web-" "$T/out" && fail "-l 'app notin (web)' listed a pod of web"
run 0 get deploy -l '!tier'
has err "^No deployments found.$"
run 2 get deploy -l 'app in web'
has err "-l: 'app in': expected '(' after 'in'"
run 0 get deploy k8s-web -o=json
has out '"kind": "Deployment"'
sed 's/^    spec:$/    spec:\n      affinity: {}/' "$T/k8s.yaml" >"$T/k8s-bad.yaml"
run 1 apply -f "$T/k8s-bad.yaml"
has err "k8s-bad.yaml:15:7: spec.template.spec.affinity is not supported by Skiff (use nodeSelector)$"
run 0 delete -f "$T/k8s.yaml"
run 0 delete -f tests/fixtures/k8s/nginx-svc.yaml

# usage errors exit 2, a missing config exits 1 with where it looked
run 2 get
run 2 get widgets
run 2 scale deployment web
run 2 frobnicate
run 0 get --help
has out "^Usage:"
SKIFF_CONFIG=$T/nope run 1 get pods
has err "looked at \$SKIFF_CONFIG ($T/nope)"
echo "ctl: ok"
