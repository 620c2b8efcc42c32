#!/bin/bash
# runtime_exec.sh — root integration test of `skiff-runtime exec`: a command
# run in a running shim container sees the container's pid, mount, net and
# uts namespaces, cgroup, env, workdir and user, has no capability the
# container lacks (same bounding set, no_new_privs, seccomp), gets stdin,
# passes its output and exit code through (127 not found, 126 cannot
# execute), dies with its process group on SIGTERM, and exec into a stopped
# or unknown container is one clear line with 125.
#
# Everything lives under a temp dir and the cgroup parent skiff-test-exec-$$;
# the EXIT trap deletes the containers (by their shims) and all of it, even
# when a check fails, and only signals processes this script started.
set -u
. "$(dirname "$0")/lib/runtime.sh"

T=$(mktemp -d /tmp/skiff-exec-test.XXXXXX)
CGP=skiff-test-exec-$$
S=$T/state
STARTED_PIDS=()
failures=0

cleanup() {
	local id p c
	for p in "${STARTED_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for id in "$S"/*; do [ -e "$id" ] && "$R" delete --state "$S" "${id##*/}" --force >/dev/null 2>&1; done
	for c in "${CG_ROOTS[@]}"; do
		[ -d "$c/$CGP" ] && find "$c/$CGP" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap "exit 1" TERM INT HUP

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
check() { # name want got
	[ "$2" = "$3" ] && ok "$1" || fail "$1: want '$2', got '$3'"
}

make_rootfs "$T/img" "$PROBE"
echo inside >"$T/img/marker"
printf '#!/bin/sh\necho hi\n' >"$T/img/noexec.sh" # not executable: 126

shim() { # ID [OPTIONS] -- CMD: starts a container, prints its pid
	local id=$1
	shift
	"$R" shim --state "$S" --id "$id" --rootfs "$T/img" --cgroup-parent "$CGP" "$@"
}
# every exec is bounded: a hang fails the test instead of blocking it
EXEC=(timeout -k 5 20 "$R" exec --state "$S")

pid=$(shim c1 --hostname box --env FOO=bar --workdir /tmp -- /bin/sleep 1000) ||
	{ fail "shim c1 did not start"; exit 1; }

# --- output, exit code, env, workdir ------------------------------------------
out=$("${EXEC[@]}" c1 -- /bin/sh -c 'echo "$FOO $(pwd) $HOSTNAME"; echo err >&2; exit 3' 2>"$T/err")
rc=$?
check "stdout, env, workdir" "bar /tmp box" "$out"
check "stderr" err "$(cat "$T/err")"
check "exit code" 3 "$rc"
out=$("${EXEC[@]}" -e FOO=baz -w / c1 -- /bin/sh -c 'echo "$FOO $(pwd)"')
check "-e and -w override" "baz /" "$out"
out=$(printf 'line1\nline2\n' | "${EXEC[@]}" c1 -- /bin/sh -c 'wc -l')
check "stdin reaches the command" 2 "$(echo $out)"

# --- --tty: a terminal in the container ---------------------------------------
out=$("${EXEC[@]}" --tty --rows 33 --cols 101 c1 -- /bin/sh -c '[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo terminal; stty size; tty; echo "$TERM"; exit 4' </dev/null)
rc=$?
out=$(printf '%s' "$out" | tr -d '\r')
check "--tty: stdin, stdout, stderr are a terminal" terminal "$(echo "$out" | sed -n 1p)"
check "--tty: stty size" "33 101" "$(echo "$out" | sed -n 2p)"
echo "$out" | sed -n 3p | grep -qx '/dev/pts/[0-9]*' && ok "--tty: the container's /dev/pts" ||
	fail "--tty: tty: $(echo "$out" | sed -n 3p)"
check "--tty: TERM" xterm "$(echo "$out" | sed -n 4p)"
check "--tty: exit code" 4 "$rc"
out=$("${EXEC[@]}" -t -e TERM=vt100 c1 -- /bin/sh -c 'echo "$TERM"; echo err >&2' </dev/null 2>"$T/err" | tr -d '\r')
check "--tty: TERM from the env, stderr merged into stdout" "vt100 err" "$(echo $out)"
check "--tty: nothing on stderr" "" "$(cat "$T/err")"
# stdin goes through the terminal; its end is the terminal's ^D
out=$(printf 'abc\n' | "${EXEC[@]}" --tty c1 -- /bin/sh -c 'stty -echo; read l; echo "got $l"; cat; echo eof' | tr -d '\r')
check "--tty: stdin through the terminal, eof as ^D" "got abc eof" "$(echo $out | sed 's/^abc //')"
# resize: a "ROWS COLS" line on --resize-fd sets the size (the command gets SIGWINCH)
mkfifo "$T/rz"
(sleep 0.3; echo "40 120" >&3; sleep 5) 3>"$T/rz" &
rzpid=$!
STARTED_PIDS+=("$rzpid")
("${EXEC[@]}" --tty --rows 10 --cols 20 --resize-fd 3 c1 -- /bin/sh -c 'trap "stty size; exit 5" WINCH; stty size; i=0; while [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done' 3<"$T/rz" </dev/null >"$T/out")
rc=$?
out=$(tr -d '\r' <"$T/out")
kill $rzpid 2>/dev/null
check "--tty --resize-fd: SIGWINCH and the new size" "10 20 40 120" "$(echo $out)"
check "--tty --resize-fd: exit code" 5 "$rc"
"${EXEC[@]}" --tty --rows 0 --cols 80 c1 -- true 2>"$T/err"
check "--tty bad size: 125" 125 "$?"
grep -q -- "--rows '0'" "$T/err" && ok "--tty bad size: message" || fail "bad size message: $(cat "$T/err")"
"${EXEC[@]}" --rows 24 --cols 80 c1 -- true 2>"$T/err"
grep -q "need --tty" "$T/err" && ok "--rows without --tty refused" || fail "--rows without --tty: $(cat "$T/err")"

# --- namespaces -----------------------------------------------------------------
out=$("${EXEC[@]}" c1 -- /bin/sh -c 'hostname; cat /marker; test -e '"$T"' && echo host-visible; tr "\0" " " </proc/1/cmdline; echo; for n in net uts ipc; do readlink /proc/self/ns/$n; done; echo $$')
check "uts: container hostname" box "$(echo "$out" | sed -n 1p)"
check "mnt: container root" inside "$(echo "$out" | sed -n 2p)"
echo "$out" | grep -q host-visible && fail "mnt: the host's $T is visible"
check "pid: /proc/1 is the container's init" "/bin/sleep 1000 " "$(echo "$out" | sed -n 3p)"
check "net ns" "$(readlink /proc/$pid/ns/net)" "$(echo "$out" | sed -n 4p)"
check "uts ns" "$(readlink /proc/$pid/ns/uts)" "$(echo "$out" | sed -n 5p)"
check "ipc ns" "$(readlink /proc/$pid/ns/ipc)" "$(echo "$out" | sed -n 6p)"
n=$(echo "$out" | sed -n 7p)
[ "$n" -gt 1 ] && [ "$n" -lt 100 ] && ok "pid in the container's pid namespace ($n)" || fail "pid: $n"
[ "$(readlink /proc/$pid/ns/net)" != "$(readlink /proc/self/ns/net)" ] || fail "net ns is the host's: check meaningless"

# cgroup: the exec'd process is in the container's cgroup (seen from the host)
"${EXEC[@]}" c1 -- /bin/sleep 30 &
bgpid=$!
STARTED_PIDS+=("$bgpid")
for _ in $(seq 50); do
	procs=$(cat "${CG_ROOTS[0]}/$CGP/c1/cgroup.procs" 2>/dev/null | wc -l)
	[ "$procs" -ge 2 ] && break
	sleep 0.05
done
check "exec joins the container's cgroup" 2 "$procs"
# SIGTERM to exec ends the command (its process group) and exits 128+15
kill -TERM $bgpid
wait $bgpid
check "SIGTERM forwarded: exit code" 143 "$?"
procs=$(cat "${CG_ROOTS[0]}/$CGP/c1/cgroup.procs" | wc -l)
check "the command is gone after SIGTERM" 1 "$procs"

# --- privileges: the same as the container's -------------------------------------
out=$("${EXEC[@]}" c1 -- /bin/sh -c 'grep -e CapBnd -e CapEff -e NoNewPrivs -e "^Seccomp:" /proc/self/status')
check "bounding set as the container's" "$(grep CapBnd /proc/$pid/status)" "$(echo "$out" | grep CapBnd)"
check "effective set as the container's" "$(grep CapEff /proc/$pid/status)" "$(echo "$out" | grep CapEff)"
echo "$out" | grep -q "NoNewPrivs:.1" && ok "no_new_privs" || fail "no_new_privs: $out"
echo "$out" | grep -q "Seccomp:.2" && ok "seccomp filter" || fail "seccomp: $out"
out=$("${EXEC[@]}" c1 -- /bin/probe)
for n in raw_socket net_admin sethostname mount unshare_net ptrace; do
	echo "$out" | grep -qx "$n EPERM" && ok "exec lacks what the container lacks: $n" ||
		fail "probe $n: $(echo "$out" | grep "^$n ")"
done
# control: a container given NET_RAW passes it on to exec, with its user
shim c2 --cap-add NET_RAW --user 1000:1000 -- /bin/sleep 1000 >/dev/null || fail "shim c2"
out=$("${EXEC[@]}" c2 -- /bin/sh -c 'id -u; grep CapBnd /proc/self/status')
check "container user" 1000 "$(echo "$out" | head -1)"
check "--cap-add in the bounding set" "$(grep CapBnd "/proc/$(grep -o '"pid":[0-9]*' "$S/c2/state" | cut -d: -f2)/status")" "$(echo "$out" | grep CapBnd)"
out=$("${EXEC[@]}" -u 0 c2 -- /bin/probe | grep raw_socket)
check "--cap-add NET_RAW reaches exec" "raw_socket ok" "$out"

# --- errors -------------------------------------------------------------------------
"${EXEC[@]}" c1 -- /nosuch 2>"$T/err"
check "missing command: 127" 127 "$?"
grep -q "command not found: '/nosuch'" "$T/err" && ok "missing command: message" || fail "message: $(cat "$T/err")"
"${EXEC[@]}" --error-fd 3 c1 -- /bin/sh -c 'echo own >&2; /nosuch' 3>"$T/errfd" 2>"$T/err"
check "--error-fd: 127" 127 "$?"
grep -qx own "$T/err" && [ ! -s "$T/errfd" ] && ok "--error-fd: the command's stderr stays on stderr" ||
	fail "stderr: $(cat "$T/err") / error fd: $(cat "$T/errfd")"
"${EXEC[@]}" --error-fd 3 c1 -- /nosuch 3>"$T/errfd" 2>"$T/err"
check "--error-fd: bare line" "exec: command not found: '/nosuch' in container c1: No such file or directory" "$(cat "$T/errfd")"
check "--error-fd: nothing on stderr" "" "$(cat "$T/err")"
"${EXEC[@]}" c1 -- /noexec.sh 2>/dev/null
check "not executable: 126" 126 "$?"
"${EXEC[@]}" nosuch -- true 2>"$T/err"
check "unknown container: 125" 125 "$?"
[ "$(wc -l <"$T/err")" = 1 ] && grep -q "no container 'nosuch'" "$T/err" && ok "unknown container: one line" ||
	fail "unknown container message: $(cat "$T/err")"
shim c3 -- /bin/true >/dev/null || fail "shim c3"
for _ in $(seq 100); do grep -q '"status":"exited"' "$S/c3/state" && break; sleep 0.05; done
"${EXEC[@]}" c3 -- true 2>"$T/err"
check "stopped container: 125" 125 "$?"
grep -q "container 'c3' is not running" "$T/err" && ok "stopped container: message" ||
	fail "stopped container message: $(cat "$T/err")"
"$R" kill --state "$S" c1 KILL >/dev/null
for _ in $(seq 100); do grep -q '"status":"exited"' "$S/c1/state" && break; sleep 0.05; done
"${EXEC[@]}" c1 -- true 2>"$T/err"
check "killed container: 125" 125 "$?"

for id in c1 c2 c3; do "$R" delete --state "$S" "$id" --force >/dev/null 2>&1; done
for c in "${CG_ROOTS[@]}"; do
	left=$(find "$c/$CGP" -mindepth 1 -type d 2>/dev/null)
	[ -z "$left" ] || fail "cgroup left behind: $left"
done

[ $failures = 0 ] && echo "runtime_exec: all passed" || echo "runtime_exec: $failures failed"
[ $failures = 0 ]
