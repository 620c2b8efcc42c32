#!/bin/bash
# exec.sh — e2e of `skiffctl exec` through the whole stack (skiffctl → brain →
# the node's agent → skiff-runtime exec) on a 1-node lab: output and exit
# code of a command in a pod and in deployment/NAME, stdout and stderr apart,
# output streamed while the command runs, stdin with -i (streamed from a
# pipe, whole from a file), large output, a reader that goes away, -t (a
# terminal of the local terminal's size, resized with it, an interactive sh
# with Ctrl-C, the local terminal restored, a warning without a terminal),
# -c in a two-container pod, 127 for a missing command, --timeout, and one-line errors with exit 1 for a pod that does not
# exist, a container that does not exist, an agent lost mid-exec and a node
# whose agent is not connected.
. "$(dirname "$0")/lib.sh"
e2e_start 60
lab_up 1

apply_deployment web 1 v1
cat >"$E2E_TMP/duo.yaml" <<EOF
apiVersion: skiff/v1
kind: Pod
metadata:
  name: duo
  labels:
    app: duo
spec:
  terminationGracePeriodSeconds: 5
  containers:
    - name: first
      image: $E2E_IMAGE
      command: ["sh", "-c", $(yaml_quote "$E2E_SLEEPER"), "one"]
    - name: second
      image: $E2E_IMAGE
      command: ["sh", "-c", $(yaml_quote "$E2E_SLEEPER"), "two"]
EOF
ctl apply -f "$E2E_TMP/duo.yaml" >/dev/null || fail "skiffctl apply of pod duo failed"
wait_until "1 web pod Running" 30 all_running app=web 1
pod=$(q pods '.[] | select(.status.phase == "Running") | .metadata.name' -l app=web)

# --- output, exit code, namespaces -------------------------------------------------
out=$(ctl exec "$pod" -- hostname) || fail "exec hostname failed ($?): $out"
[ "$out" = "$pod" ] || fail "exec hostname: want '$pod', got '$out'"
out=$(ctl exec "$pod" -- sh -c 'tr "\0" " " </proc/1/cmdline') || fail "exec /proc/1/cmdline: $?"
[[ $out == "sh -c "*v1* ]] || fail "exec: /proc/1 is not the container's init: '$out'"
rc=0
out=$(ctl exec deployment/web -- sh -c 'echo out; echo err >&2; exit 7' 2>"$E2E_TMP/err") || rc=$?
[ "$rc" = 7 ] || fail "exec deployment/web ... exit 7: skiffctl exited $rc"
[ "$out" = out ] || fail "exec: stdout '$out'"
grep -qx err "$E2E_TMP/err" || fail "exec: stderr '$(cat "$E2E_TMP/err")'"
step "exec in $pod and deployment/web: output, stderr apart, exit code 7"
out=$(printf 'a\nb\nc\n' | ctl exec -i "$pod" -- wc -l) || fail "exec -i failed"
[ "$(echo $out)" = 3 ] || fail "exec -i: wc -l got '$out'"
printf '1\n2\n3\n4\n' >"$E2E_TMP/in"
out=$(ctl exec -i "$pod" -- wc -l <"$E2E_TMP/in") || fail "exec -i <file failed"
[ "$(echo $out)" = 4 ] || fail "exec -i <file: wc -l got '$out'"
# stdin streams: the command answers the first line before the second is typed
{ echo one; sleep 3; echo two; } | ctl exec -i "$pod" -- sh -c 'while read l; do echo "got $l"; done' >"$E2E_TMP/echo" &
ep=$!
got_one() { grep -qx "got one" "$E2E_TMP/echo"; }
wait_until "the answer to the first line of a streamed stdin" 3 got_one
grep -q two "$E2E_TMP/echo" && fail "exec -i: 'two' answered before it was sent"
wait $ep || fail "exec -i with streamed stdin failed"
[ "$(cat "$E2E_TMP/echo")" = $'got one\ngot two' ] || fail "exec -i stream: '$(cat "$E2E_TMP/echo")'"
step "exec -i: stdin streamed (first answer in $WAITED_MS ms), a file sent whole"
out=$(ctl exec "$pod" -- sh -c 'echo "$@"' sh --config x -- y) || fail "exec: arguments after -- failed"
[ "$out" = "--config x -- y" ] || fail "exec: the command's arguments after -- came as '$out'"
n=$(ctl exec "$pod" -- head -c 3000000 /dev/zero | wc -c)
[ "$n" = 3000000 ] || fail "exec: 3,000,000 bytes of output arrived as $n"
{ ctl exec "$pod" -- yes || true; } | head -n 2 >/dev/null
no_yes() { [ "$(ctl exec "$pod" -- sh -c 'ps -o comm | grep -c "^yes$"; true')" = 0 ]; }
wait_until "'yes' stopped after skiffctl's reader left" 5 no_yes
wait_until "pod duo's 2 containers Running" 30 all_running app=duo 1
out=$(ctl exec -c second duo -- sh -c 'tr "\0" " " </proc/1/cmdline') || fail "exec -c second failed"
[[ $out == *" two " ]] || fail "exec -c second ran in another container: '$out'"
out=$(ctl exec duo -- sh -c 'tr "\0" " " </proc/1/cmdline') || fail "exec into duo failed"
[[ $out == *" one " ]] || fail "exec without -c did not use the first container: '$out'"
step "exec -i, arguments after --, 3 MB of output, a reader that left, -c in a 2-container pod"

# streamed: the first line is here while the command still runs
ctl exec "$pod" -- sh -c 'echo first; sleep 3; echo second' >"$E2E_TMP/stream" &
sp=$!
first_seen() { grep -qx first "$E2E_TMP/stream"; }
wait_until "exec output streamed before the command ends" 2 first_seen
grep -q second "$E2E_TMP/stream" && fail "exec: 'second' arrived before 3 s"
wait $sp || fail "streaming exec failed"
[ "$(cat "$E2E_TMP/stream")" = $'first\nsecond' ] || fail "stream: '$(cat "$E2E_TMP/stream")'"
step "exec output streamed (first line in $WAITED_MS ms)"

rc=0
ctl exec "$pod" -- /nosuch 2>"$E2E_TMP/err" || rc=$?
[ "$rc" = 127 ] || fail "exec of a missing command: exit $rc, want 127"
grep -q "command not found" "$E2E_TMP/err" || fail "missing command: '$(cat "$E2E_TMP/err")'"
t=$(now_ms)
rc=0
ctl exec --timeout 1s "$pod" -- sleep 30 2>"$E2E_TMP/err" || rc=$?
[ "$rc" = 1 ] && grep -q "timed out" "$E2E_TMP/err" ||
	fail "exec --timeout 1s: exit $rc, '$(cat "$E2E_TMP/err")'"
[ $(($(now_ms) - t)) -lt 8000 ] || fail "exec --timeout 1s took $(($(now_ms) - t)) ms"
left=$(ctl exec "$pod" -- sh -c 'ps -o comm | grep -c "^sleep$" || true')
[ "$left" -le 1 ] || fail "the timed-out 'sleep 30' still runs in the pod ($left sleeps)"
step "127 for a missing command; --timeout 1s killed the command"

# --- -t: a terminal (util-linux `script` gives skiffctl one) ---------------------
SC=$(printf %q "$SKIFF_BIN/skiffctl")
rc=0
timeout 30 script -qfec "stty rows 33 cols 101; $SC exec -it $pod -- sh -c 'stty size; tty; exit 3'" \
	/dev/null </dev/null >"$E2E_TMP/tty" 2>&1 || rc=$?
out=$(tr -d '\r' <"$E2E_TMP/tty")
[ "$rc" = 3 ] || fail "exec -it under script: exit $rc, want 3 ($out)"
[ "$(echo "$out" | sed -n 1p)" = "33 101" ] || fail "exec -it: the terminal's size: '$out'"
echo "$out" | sed -n 2p | grep -qx '/dev/pts/[0-9]*' || fail "exec -it: tty: '$out'"
step "exec -it: a 33x101 terminal at $(echo "$out" | sed -n 2p), exit code 3"
# an interactive shell: typed lines run, Ctrl-C (raw mode: a byte for the
# container's terminal, not a signal for skiffctl) interrupts the command
rc=0
{ sleep 1; echo 'echo hi-$((1 + 2))'; echo 'sleep 20'; sleep 1; printf '\003'; sleep 0.5; echo 'echo after-$?'; echo 'exit 9'; sleep 2; } |
	timeout 30 script -qfec "$SC exec -it $pod -- sh" /dev/null >"$E2E_TMP/tty" 2>&1 || rc=$?
out=$(tr -d '\r' <"$E2E_TMP/tty")
[ "$rc" = 9 ] || fail "exec -it sh: exit $rc, want 9 ($out)"
echo "$out" | grep -qx 'hi-3' || fail "exec -it sh: a typed command did not run: '$out'"
echo "$out" | grep -qx 'after-130' || fail "exec -it sh: Ctrl-C did not interrupt sleep: '$out'"
step "exec -it sh: typed commands run, Ctrl-C interrupts in the container, exit 9"
# SIGWINCH: the local terminal resized (again and again until the command
# has its trap set) reaches the command as its terminal's new size
rc=0
timeout 30 script -qfec "stty rows 33 cols 101; (for i in \$(seq 40); do sleep 0.25; stty -F /dev/tty rows 40 cols \$((120 + i)) || exit; done) & exec $SC exec -t $pod -- sh -c 'trap \"stty size; exit 5\" WINCH; stty size; i=0; while [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done'" \
	/dev/null </dev/null >"$E2E_TMP/tty" 2>&1 || rc=$?
out=$(tr -d '\r' <"$E2E_TMP/tty")
[ "$rc" = 5 ] || fail "exec -t resized: exit $rc, want 5 ($out)"
echo "$out" | tail -n 1 | grep -qx '40 1[2-6][0-9]' || fail "exec -t resized: sizes '$out'"
step "exec -t: a resize of the local terminal reached the command ($(echo $out))"
# the local terminal leaves raw mode on every way out: an error from the
# brain (after raw mode began) and SIGTERM to skiffctl mid-exec
timeout 30 script -qfec "stty -g >$E2E_TMP/st0; $SC exec -it nosuch -- true; stty -g >$E2E_TMP/st1; $SC exec -it $pod -- sleep 20 </dev/tty & sleep 1.5; stty -F /dev/tty -g >$E2E_TMP/raw; kill -TERM \$!; wait; stty -g >$E2E_TMP/st2" \
	/dev/null </dev/null >"$E2E_TMP/tty" 2>&1
grep -q "pod 'nosuch' not found" "$E2E_TMP/tty" || fail "exec -it nosuch: '$(cat "$E2E_TMP/tty")'"
[ -s "$E2E_TMP/st0" ] && cmp -s "$E2E_TMP/st0" "$E2E_TMP/st1" ||
	fail "exec -it: the terminal stayed changed after an error"
! cmp -s "$E2E_TMP/st0" "$E2E_TMP/raw" || fail "exec -it: the terminal was not in raw mode"
cmp -s "$E2E_TMP/st0" "$E2E_TMP/st2" || fail "exec -it: the terminal stayed raw after SIGTERM"
step "exec -it: the local terminal restored after an error and after SIGTERM"
rc=0
out=$(ctl exec -it "$pod" -- sh -c '[ -t 0 ] || echo "no tty"; cat; exit 4' </dev/null 2>"$E2E_TMP/err") || rc=$?
[ "$rc" = 4 ] && [ "$out" = "no tty" ] || fail "exec -it without a terminal: exit $rc, '$out'"
[ "$(cat "$E2E_TMP/err")" = "Unable to use a TTY - input is not a terminal or the right kind of file" ] ||
	fail "exec -it without a terminal: stderr '$(cat "$E2E_TMP/err")'"
step "exec -it without a terminal: kubectl's warning, runs without one"

# --- errors: one line, exit 1 ------------------------------------------------------
one_line_error "exec into a pod that does not exist" "pod 'nosuch' not found" \
	ctl exec nosuch -- true
one_line_error "exec into a container that does not exist" "has no container 'nope'" \
	ctl exec -c nope "$pod" -- true
step "no such pod / container: one line, exit 1"

# the agent dies mid-exec: skiffctl says so at once instead of hanging
ctl exec "$pod" -- sleep 20 >/dev/null 2>"$E2E_TMP/lost" &
lp=$!
sleep 1
t=$(now_ms)
lab kill vm1 >/dev/null
rc=0
wait $lp || rc=$?
[ "$rc" = 1 ] && grep -q "connection was lost" "$E2E_TMP/lost" ||
	fail "exec while the agent is killed: exit $rc, '$(cat "$E2E_TMP/lost")'"
step "agent killed mid-exec: skiffctl failed in $(($(now_ms) - t)) ms: $(cat "$E2E_TMP/lost")"
one_line_error "exec while the node's agent is down" "is not connected" ctl exec "$pod" -- true
step "exec to a node whose agent is down: one line, exit 1"
