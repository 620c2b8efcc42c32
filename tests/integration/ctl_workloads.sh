#!/bin/bash
# ctl_workloads.sh — skiffctl apply/get/describe/delete of the DaemonSet,
# Job and CronJob kinds (#18) against a real skiff-orchestrator on
# 127.0.0.1 (no nodes: the objects, their tables and their status).
set -u
. "$(dirname "$0")/lib/ctlbrain.sh"
ctl_init skiff-ctl-workloads
brain_up 17040

# the examples of kubernetes.io apply unchanged
run 0 apply -f examples/k8s/job.yaml
has out "^job/pi created$"
run 0 apply -f examples/k8s/daemonset.yaml
has out "^daemonset/fluentd-elasticsearch created$"
has err "tolerations is ignored by Skiff (nodes have no taints)"

cat >"$T/cron.yaml" <<'EOF2'
apiVersion: batch/v1
kind: CronJob
metadata:
  name: hello
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: hello
            image: skiff-demo:1
            command: [/bin/sh, -c, date]
          restartPolicy: OnFailure
EOF2
run 0 apply -f "$T/cron.yaml"
has out "^cronjob/hello created$"

run 0 get jobs
has out "^NAME  *STATUS  *COMPLETIONS  *DURATION  *AGE$"
has out "^pi  *Running  *0/1 "
run 0 get ds -o wide
has out "^NAME  *DESIRED  *CURRENT  *READY  *UP-TO-DATE  *AVAILABLE  *NODE SELECTOR  *AGE  *CONTAINERS  *IMAGES  *SELECTOR$"
has out "^fluentd-elasticsearch  *0  *0  *0  *0  *0  *<none> .* skiff-demo:1  *name=fluentd-elasticsearch$"
run 0 get cj
has out "^NAME  *SCHEDULE  *TIMEZONE  *SUSPEND  *ACTIVE  *LAST SCHEDULE  *AGE$"
has out "^hello  *\*/5 \* \* \* \*  *<none>  *False  *0  *<none> "
run 0 describe job pi
has out "backoffLimit: 4"
run 0 get cronjob hello -o yaml
has out "concurrencyPolicy: Allow"
has out "successfulJobsHistoryLimit: 3"

# bad values are refused with the field named
sed 's/\*\/5 \* \* \* \*/61 * * * */' "$T/cron.yaml" >"$T/bad.yaml"
run 1 apply -f "$T/bad.yaml"
has err "spec.schedule: minute: 61 is out of range 0-59"

run 0 delete job pi
run 1 get job pi
run 0 delete daemonset fluentd-elasticsearch
run 0 delete cronjob hello
echo "ctl_workloads: ok"
