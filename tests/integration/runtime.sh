#!/bin/bash
# runtime.sh — root integration tests of skiff-runtime: isolation, limits,
# capabilities and seccomp tried from inside, masked paths, fds, exit codes,
# one-line errors that leave nothing behind, the shim (state, log rotation,
# kill, delete, surviving its caller's kill -9), veth networking and joining
# another container's network namespace (--net ns:PATH).
#
# Everything it makes lives under a temp dir, the cgroup parent
# skiff-test-$$ and the bridge skt$$; the EXIT trap removes all of it, even
# when a check fails, and only signals processes this script started.
set -u
. "$(dirname "$0")/lib/runtime.sh"

T=$(mktemp -d /tmp/skiff-rt-test.XXXXXX)
CGP=skiff-test-$$
BR=skt$$
S=$T/state
STARTED_PIDS=()
RUNS=()
failures=0

cleanup() {
	local id
	for id in "$S"/*; do [ -e "$id" ] && "$R" delete --state "$S" "${id##*/}" --force >/dev/null 2>&1; done
	for p in "${STARTED_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for c in "${CG_ROOTS[@]}"; do
		for d in "$c/$CGP" "$c/$CGP-new" "$c/$CGP-old" "$c/$CGP-par"; do
			[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		done
	done
	ip netns del "skt-ns$$" 2>/dev/null
	ip link del "$BR" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap "exit 1" TERM INT HUP

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# No cgroup, layer dir or veth of ours may be left after a container ended.
assert_clean() {
	local what=$1 c left
	for c in "${CG_ROOTS[@]}"; do
		left=$(find "$c/$CGP" -mindepth 1 -type d 2>/dev/null)
		[ -z "$left" ] || fail "$what: cgroup left behind: $left"
	done
	left=$(ip -o link show 2>/dev/null | grep -o ' sk[0-9a-f]\{12\}' || true)
	[ -z "$left" ] || fail "$what: veth left behind:$left"
	left=$(find /run/skiff-runtime -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | grep -v -e '^seccomp-' -e '^layer$' || true)
	[ -z "$left" ] || fail "$what: left in /run/skiff-runtime: $left"
	left=$(ls -A /run/skiff-runtime/layer 2>/dev/null || true)
	[ -z "$left" ] || fail "$what: the shared layer mount point is not empty: $left"
	grep -q /run/skiff-runtime /proc/self/mountinfo && fail "$what: a mount leaked into the host"
}

# Named like an image dir (NAME:TAG): the overlay options must escape it.
make_rootfs "$T/img:1" "$PROBE"
RUN=("$R" run --rootfs "$T/img:1" --cgroup-parent "$CGP")

# --- acceptance and isolation ---------------------------------------------
out=$("${RUN[@]}" --hostname box -- /bin/sh -c 'echo $$; hostname')
[ "$out" = $'1\nbox' ] && ok "pid 1 and hostname" || fail "acceptance: got '$out'"
out=$("${RUN[@]}" -- /bin/sh -c 'echo $$; hostname')
[ "$(echo "$out" | head -1)" = 1 ] && [ -n "$(echo "$out" | sed -n 2p)" ] &&
	[ "$(echo "$out" | sed -n 2p)" != "$(hostname)" ] && ok "default hostname is the id" ||
	fail "default hostname: '$out'"
out=$("${RUN[@]}" -- /bin/sh -c "ls /proc | grep -c '^[0-9]'; test -e /proc/$$ && echo visible; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; readlink /proc/self/ns/net")
nproc_in=$(echo "$out" | head -1)
[ "$nproc_in" -le 3 ] && ok "host processes invisible ($nproc_in pids)" || fail "pids visible: $out"
echo "$out" | grep -q visible && fail "host pid $$ visible inside"
[ "$(echo "$out" | sed -n 2p)" = lo ] && [ "$(echo "$out" | wc -l)" = 3 ] && ok "own netns with lo only" ||
	fail "netns: $out"
[ "$(echo "$out" | tail -1)" != "$(readlink /proc/self/ns/net)" ] || fail "same net namespace as host"
out=$("${RUN[@]}" -- /bin/sh -c 'cat /proc/net/if_inet6 2>/dev/null | grep -c lo; ip link show lo | grep -c UP')
[ "$(echo "$out" | tail -1)" = 1 ] && ok "lo up" || fail "lo not up: $out"
assert_clean isolation

# --- image layers: several --rootfs, lowest first, stacked by overlayfs -----
# The top layer wins, an overlay whiteout (0:0 char device) hides a lower
# file, an opaque dir hides a lower dir's content; --read-only stacks them
# without an upper dir; 60 layers in one directory (an image store's
# layers/sha256/) fit although their absolute paths exceed a page.
mkdir -p "$T/l2/etc" "$T/l2/srv" "$T/l3/etc" "$T/l3/srv"
echo two >"$T/l2/etc/motd"; echo two >"$T/l2/etc/layer"; echo old >"$T/l2/srv/old"
echo three >"$T/l3/etc/motd"; mknod "$T/l3/etc/layer" c 0 0; echo new >"$T/l3/srv/new"
setfattr -n trusted.overlay.opaque -v y "$T/l3/srv"
LAYERS=("$R" run --rootfs "$T/img:1" --rootfs "$T/l2" --rootfs "$T/l3" --cgroup-parent "$CGP")
out=$("${LAYERS[@]}" -- /bin/sh -c 'cat /etc/motd; test -e /etc/layer && echo layer-visible; ls /srv; echo x >/etc/w && cat /etc/w' 2>&1)
[ "$out" = $'three\nnew\nx' ] && ok "three layers: top wins, whiteout and opaque dir hide, writable" ||
	fail "layers: '$out'"
[ "$(cat "$T/l3/etc/motd")" = three ] && [ ! -e "$T/l3/etc/w" ] && [ ! -e "$T/l2/etc/w" ] ||
	fail "layers: a layer dir was written to"
out=$("${LAYERS[@]}" --read-only -- /bin/sh -c 'cat /etc/motd; echo x >/etc/w || echo read-only' 2>&1)
echo "$out" | grep -qx three && echo "$out" | grep -qx read-only &&
	ok "--read-only with three layers" || fail "layers read-only: '$out'"
LS=$T/layers/sha256
hexname() { printf '%064x' "$1"; }
make_rootfs "$LS/$(hexname 0)" "$PROBE"
ML=("$R" run --cgroup-parent "$CGP" --rootfs "$LS/$(hexname 0)")
for i in $(seq 1 59); do
	mkdir -p "$LS/$(hexname "$i")/layers"; echo "$i" >"$LS/$(hexname "$i")/layers/$i"
	ML+=(--rootfs "$LS/$(hexname "$i")")
done
out=$("${ML[@]}" -- /bin/sh -c 'ls /layers | wc -l' 2>&1)
[ "$out" = 59 ] && ok "60 layers from one directory" || fail "60 layers: '$out'"
assert_clean layers

# --- capabilities, seccomp and read-only/masked paths from inside ---------
out=$("${RUN[@]}" -- /bin/probe)
expect() { # name result
	if echo "$out" | grep -qx "$1 $2"; then :; else fail "probe $1: want $2, got '$(echo "$out" | grep "^$1 ")'"; fi
}
for n in mount umount2 pivot_root unshare_user unshare_net unshare_mnt clone_newuser clone_newpid \
	setns kexec_load init_module finit_module delete_module reboot keyctl add_key request_key \
	ptrace bpf perf_event_open open_by_handle_at io_uring_setup clock_settime swapon syslog iopl raw_socket \
	net_admin sethostname rlimit_raise wake_alarm ipc_lock acct vhangup; do
	expect "$n" EPERM
done
expect clone3 ENOSYS
expect clone_plain ok
expect nice EACCES
expect mknod_open EACCES
expect proc_sys_write EROFS
expect sys_write EROFS
expect timer_list_read ENODATA
expect keys_read ENODATA
expect passwd_read ok
[ -r /proc/timer_list ] && [ -n "$(head -c1 /proc/timer_list)" ] || fail "host /proc/timer_list empty: masking test meaningless"
# Control: without the filter, clone3 reaches the kernel (then fails on caps).
out=$("${RUN[@]}" --seccomp unconfined -- /bin/probe)
expect clone3 EPERM
expect keyctl ok
# --cap-add keeps a capability and lifts the seccomp group tied to it.
out=$("${RUN[@]}" --cap-add NET_RAW --cap-add SYS_PTRACE -- /bin/probe)
expect raw_socket ok
expect ptrace ok
expect mount EPERM
# --seccomp FILE: its list replaces the default one.
printf '# test profile\nmkdir\n' >"$T/seccomp.list"
out=$("${RUN[@]}" --seccomp "$T/seccomp.list" -- /bin/sh -c 'mkdir /tmp/d 2>&1 || true; /bin/probe')
echo "$out" | grep -q "Operation not permitted" && ok "--seccomp FILE blocks what it lists" ||
	fail "--seccomp FILE: $(echo "$out" | head -2)"
expect keyctl ok
expect clone3 EPERM
out=$("${RUN[@]}" -- /bin/sh -c 'ls -A /sys/firmware | wc -l; grep NoNewPrivs /proc/self/status; grep CapBnd /proc/self/status')
[ "$(echo "$out" | head -1)" = 0 ] && ok "/sys/firmware masked" || fail "/sys/firmware: $out"
echo "$out" | grep -q 'NoNewPrivs:.1' && ok no_new_privs || fail "no_new_privs: $out"
echo "$out" | grep -q 'CapBnd:.00000000a80405fb' && ok "Docker default caps minus NET_RAW" || fail "caps: $out"
ok "seccomp and capability probes done"

# --- the image stays read-only; writes go to the container's own layer -----
out=$("${RUN[@]}" -- /bin/sh -c 'echo hi >/etc/written && cat /etc/written && rm /bin/ls && echo removed')
[ "$out" = $'hi\nremoved' ] && [ ! -e "$T/img:1/etc/written" ] && [ -e "$T/img:1/bin/ls" ] &&
	ok "writes land in the overlay, not in the image" || fail "overlay: '$out'"
out=$("${RUN[@]}" --read-only -- /bin/sh -c '{ echo hi >/etc/written; } 2>/dev/null || echo refused')
[ "$out" = refused ] && ok "--read-only root" || fail "read-only: '$out'"
mkdir -p "$T/vol" && echo from-host >"$T/vol/f"
out=$("${RUN[@]}" --volume "$T/vol:/data:ro" --volume "$T/vol:/rw" -- /bin/sh -c \
	'cat /data/f; { echo x >/data/g; } 2>/dev/null || echo ro-refused; echo y >/rw/h && echo rw-ok')
[ "$out" = $'from-host\nro-refused\nrw-ok' ] && [ -e "$T/vol/h" ] && ok "volumes ro and rw" ||
	fail "volumes: '$out'"

# --- user, env, workdir; the runtime binary is out of reach (CVE-2019-5736) --
out=$("${RUN[@]}" --user 1000:1001 --env FOO=bar --workdir /tmp -- /bin/sh -c \
	'id -u; id -g; echo $FOO; pwd; grep CapEff /proc/self/status')
[ "$out" = $'1000\n1001\nbar\n/tmp\nCapEff:\t0000000000000000' ] && ok "--user, --env, --workdir" ||
	fail "user/env/workdir: '$out'"
out=$("${RUN[@]}" --init -- /bin/sh -c 'cat /proc/1/exe >/dev/null 2>&1 && echo readable; readlink /proc/1/exe || echo hidden')
[ "$out" = hidden ] && ok "--init: /proc/1/exe (the runtime) unreachable" || fail "/proc/1/exe: '$out'"

# --- fds: nothing but 0-2 reaches the container ----------------------------
exec 7</dev/null 8>"$T/fd8"
out=$("${RUN[@]}" -- /bin/probe fds | tr '\n' ' ')
exec 7<&- 8>&-
[ "$out" = "fd 0 fd 1 fd 2 " ] && ok "only fds 0-2 inherited" || fail "fds: $out"
out=$("${RUN[@]}" -- /bin/sh -c 'readlink /proc/self/cwd')
[ "$out" = / ] || fail "cwd: $out"

# --- exit codes ------------------------------------------------------------
code() { "${RUN[@]}" "$@" >/dev/null 2>&1; echo $?; }
[ "$(code -- /bin/sh -c 'exit 3')" = 3 ] || fail "exit 3"
[ "$(code -- /nonexistent)" = 127 ] || fail "not found -> 127"
[ "$(code -- /etc/passwd)" = 126 ] || fail "cannot execute -> 126"
[ "$(code --init -- /bin/sh -c 'kill -9 $$')" = 137 ] || fail "signal 9 -> 137"
[ "$(code --init -- /bin/sh -c 'kill -TERM $$')" = 143 ] || fail "signal 15 -> 143"
out=$("${RUN[@]}" --init -- /bin/sh -c 'echo $$; sleep 0 & wait')
[ "$out" = 2 ] || fail "--init: command should be pid 2, got $out"
ok "exit codes"
assert_clean "exit codes"

# --- errors: one line, exit 125, nothing left behind ------------------------
err_case() { # description, args...
	local d=$1 rc lines
	shift
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	lines=$(wc -l <"$T/err")
	[ $rc = 125 ] && [ "$lines" = 1 ] && ok "error: $d: $(cut -d' ' -f4- "$T/err")" ||
		fail "error $d: rc=$rc lines=$lines: $(cat "$T/err")"
	assert_clean "error $d"
}
err_case "missing rootfs" "$R" run --rootfs "$T/nope" --cgroup-parent "$CGP" -- /bin/true
err_case "bad memory" "${RUN[@]}" --memory 12Q -- /bin/true
err_case "bad cpus" "${RUN[@]}" --cpus lots -- /bin/true
err_case "bridge name too long" "${RUN[@]}" --net bridge:thisnameiswaytoolong,ip=10.231.0.5/24 -- /bin/true
err_case "bad CIDR" "${RUN[@]}" --net bridge:"$BR",ip=10.231.0.500/24 -- /bin/true
err_case "bad volume" "${RUN[@]}" --volume "$T/none:/x" -- /bin/true
# an error of the container's own process (mounts.c) comes back over the sync socket
: >"$T/img:1/afile"
err_case "volume target below a file" "${RUN[@]}" --volume "$T/vol:/afile/x" -- /bin/true
grep -q "volume target /afile/x: Not a directory" "$T/err" || fail "volume target: $(cat "$T/err")"
rm -f "$T/img:1/afile"
err_case "non-root" setpriv --reuid 65534 --regid 65534 --clear-groups "${RUN[@]}" -- /bin/true
grep -q "bridge" "$T/err" 2>/dev/null || true
# An id whose cgroup exists already: refused, and the other cgroup untouched.
mkdir -p "$(cg cpu $CGP/clash)"
"${RUN[@]}" --name clash -- /bin/true 2>"$T/err"
rc=$?
[ $rc = 125 ] && grep -q "exists already" "$T/err" && [ -d "$(cg cpu $CGP/clash)" ] &&
	{ [ ! -d "$(cg memory "$CGP/clash")" ] || [ "$CGV" = 2 ]; } && ok "an existing cgroup is refused and left alone" ||
	fail "clash: rc=$rc $(cat "$T/err")"
rmdir "$(cg cpu $CGP/clash)"
assert_clean "cgroup exists"
"${RUN[@]}" --memory 16Mi --net bridge:"$BR",ip=10.231.0.7/24,gw=10.231.0.1 -- /nonexistent 2>/dev/null
[ $? = 127 ] || fail "command not found with net+cgroup: want 127"
assert_clean "not found after cgroup and veth were made"

# --- cgroup parents ----------------------------------------------------------
# A parent that does not exist (an agent started by hand: skiff/vm1) is made,
# with every missing level; the container removes, once empty, only the
# levels it made, never a parent that was there before it.
cg_all() { # REL: true when the cgroup directory exists in every controller
	local c
	for c in memory cpu pids; do [ -d "$(cg $c "$1")" ] || return 1; done
}
out=$("$R" run --rootfs "$T/img:1" --cgroup-parent "$CGP-new/vm1/sub" --name p1 -- /bin/sh -c 'echo ran' 2>&1)
[ "$out" = ran ] && ! cg_all "$CGP-new" && ok "a missing parent cgroup is made, and removed after" ||
	fail "missing parent: $out; left: $(ls -d /sys/fs/cgroup/*/"$CGP-new" 2>/dev/null)"
for c in "${CG_ROOTS[@]}"; do mkdir -p "$c/$CGP-old"; done
pid=$("$R" shim --state "$S" --rootfs "$T/img:1" --cgroup-parent "$CGP-old/vm1" --id p2 -- /bin/sleep 0.5)
if [ -n "$pid" ]; then
	grep -qx "$pid" "$(cg memory "$CGP-old/vm1/p2")/cgroup.procs" || fail "parent: pid not in $CGP-old/vm1/p2"
	for i in $(seq 50); do grep -q exited "$S/p2/state" 2>/dev/null && break; sleep 0.1; done
	"$R" delete --state "$S" p2 >/dev/null || fail "delete p2"
fi
cg_all "$CGP-old" && ! cg_all "$CGP-old/vm1" && ok "a parent that existed stays, the level made is removed" ||
	fail "existing parent: $(find /sys/fs/cgroup/*/"$CGP-old" -type d 2>/dev/null)"
for c in "${CG_ROOTS[@]}"; do rmdir "$c/$CGP-old"; done
# Containers starting and ending together under one new parent: none fails
# because another removed the parent it was making its cgroup in.
for i in $(seq 8); do
	"$R" run --rootfs "$T/img:1" --cgroup-parent "$CGP-par/vm1" --name "par$i" -- /bin/true >"$T/par$i" 2>&1 &
	RUNS+=($!)
done
bad=0
for i in $(seq 8); do wait "${RUNS[$((i - 1))]}" || { bad=1; fail "concurrent run $i: $(cat "$T/par$i")"; }; done
[ $bad = 0 ] && ok "8 concurrent containers under one new parent"
left=$(find /sys/fs/cgroup/{memory,cpu,pids}/"$CGP-par" -mindepth 2 -type d 2>/dev/null)
[ -z "$left" ] || fail "concurrent: cgroups left: $left"
for c in "${CG_ROOTS[@]}"; do [ -d "$c/$CGP-par" ] && find "$c/$CGP-par" -depth -type d -exec rmdir {} + 2>/dev/null; done
# 'ip netns exec' mounts a /sys without cgroups: one clear line, not ENOENT.
if ip netns add "skt-ns$$" 2>/dev/null; then
	err_case "no cgroups mounted (ip netns exec)" ip netns exec "skt-ns$$" "${RUN[@]}" -- /bin/true
	grep -q "nsenter --net" "$T/err" || fail "ip netns exec: $(cat "$T/err")"
	ip netns del "skt-ns$$"
fi
assert_clean "cgroup parents"

# --- limits ------------------------------------------------------------------
out=$("${RUN[@]}" --memory 32Mi -- /bin/sh -c 'tail /dev/zero' 2>"$T/err")
rc=$?
[ $rc = 137 ] && grep -q OOMKilled "$T/err" && ok "memory hog OOM-killed (137, OOMKilled)" ||
	fail "oom: rc=$rc $(cat "$T/err")"
out=$("${RUN[@]}" --pids 20 -- /bin/sh -c 'sh -c "for i in \$(seq 60); do sleep 2 & done" 2>/dev/null; set -- /proc/[0-9]*; echo $#' 2>&1)
n=$(echo "$out" | tail -1)
[ "$n" -le 20 ] && [ "$n" -ge 10 ] && ok "fork bomb stopped at --pids 20 ($n processes)" || fail "pids: $out"
assert_clean limits

# --- the shim ------------------------------------------------------------------
SHIM=("$R" shim --state "$S" --rootfs "$T/img:1" --cgroup-parent "$CGP")
pid=$("${SHIM[@]}" --id lim --memory 48Mi --cpus 0.5 --pids 33 -- /bin/sleep 30)
[ $? = 0 ] && [ -n "$pid" ] && kill -0 "$pid" || fail "shim start: '$pid'"
if [ $CGV = 2 ]; then
	[ "$(cat "$(cg cpu $CGP/lim)/cpu.max")" = "50000 100000" ] && ok "cpu quota written (v2)" ||
		fail "cpu.max: $(cat "$(cg cpu $CGP/lim)/cpu.max")"
	[ "$(cat "$(cg memory $CGP/lim)/memory.max")" = $((48 * 1024 * 1024)) ] || fail "memory.max"
else
	[ "$(cat "$(cg cpu $CGP/lim)/cpu.cfs_quota_us")" = 50000 ] &&
		[ "$(cat "$(cg cpu $CGP/lim)/cpu.cfs_period_us")" = 100000 ] && ok "cpu quota written (v1)" ||
		fail "cpu quota: $(cat "$(cg cpu $CGP/lim)/cpu.cfs_quota_us")"
	[ "$(cat "$(cg memory $CGP/lim)/memory.limit_in_bytes")" = $((48 * 1024 * 1024)) ] || fail "memory limit"
fi
[ "$(cat "$(cg pids $CGP/lim)/pids.max")" = 33 ] || fail "pids.max"
for c in memory cpu pids; do
	grep -qx "$pid" "$(cg $c $CGP/lim)/cgroup.procs" || fail "container pid not in its $c cgroup"
done
"$R" delete --state "$S" lim 2>/dev/null && fail "delete of a running container must need --force"
"$R" delete --state "$S" lim --force || fail "delete --force"
[ -e "$S/lim" ] && fail "delete left $S/lim"
kill -0 "$pid" 2>/dev/null && fail "delete --force left pid $pid"
assert_clean "shim delete --force"

# Caller dies (kill -9) right after starting the shim: the container lives on.
bash -c "'${SHIM[0]}' shim --state '$S' --rootfs '$T/img:1' --cgroup-parent '$CGP' --id orphan --init -- /bin/sh -c 'echo started; sleep 30' >'$T/orphan.pid'; sleep 60" &
caller=$!
STARTED_PIDS+=("$caller")
for i in $(seq 50); do [ -s "$T/orphan.pid" ] && break; sleep 0.1; done
kill -9 "$caller"; wait "$caller" 2>/dev/null
sleep 0.2
st=$("$R" state --state "$S" orphan)
cpid=$(echo "$st" | sed -E 's/.*"pid":([0-9]+).*/\1/')
spid=$(echo "$st" | sed -E 's/.*"shim_pid":([0-9]+).*/\1/')
echo "$st" | grep -q '"status":"running"' && kill -0 "$cpid" && kill -0 "$spid" &&
	[ "$(cat "$T/orphan.pid")" = "$cpid" ] && ok "shim survives its caller's kill -9" ||
	fail "orphan: $st"
[ "$(awk '{print $4}' /proc/$spid/stat)" != "$caller" ] || fail "shim is still the caller's child"
grep -qx started "$S/orphan/log" && ok "log written" || fail "log: $(cat "$S/orphan/log")"
"$R" list --state "$S" | grep -q '^orphan .*running' || fail "list: $("$R" list --state "$S")"
"$R" kill --state "$S" orphan TERM || fail "kill TERM"
for i in $(seq 50); do grep -q '"exited"' "$S/orphan/state" && break; sleep 0.1; done
st=$("$R" state --state "$S" orphan)
echo "$st" | grep -q '"status":"exited"' && echo "$st" | grep -q '"signal":15' &&
	echo "$st" | grep -q '"exit_code":143' && echo "$st" | grep -q '"reason":"Signaled"' &&
	ok "kill TERM through --init; state exited/Signaled/143" || fail "after kill: $st"
for i in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$spid" 2>/dev/null && fail "shim still running after its container ended"
"$R" kill --state "$S" orphan KILL 2>/dev/null && fail "kill of an exited container must fail"
"$R" list --state "$S" --json | grep -q '"id":"orphan"' || fail "list --json"
assert_clean "shim exit"

# run itself killed (kill -9): its container dies with it and run's guard
# removes the cgroup that nothing else would.
"${RUN[@]}" --id runkilled --memory 32Mi -- /bin/sleep 30 >/dev/null 2>&1 &
rpid=$!
STARTED_PIDS+=("$rpid")
d=$(cg memory "$CGP/runkilled")
for i in $(seq 50); do [ -s "$d/cgroup.procs" ] && break; sleep 0.1; done
cpids=$(cat "$d/cgroup.procs" 2>/dev/null)
[ -n "$cpids" ] || fail "run --id runkilled: no process in $d"
kill -9 "$rpid"
wait "$rpid" 2>/dev/null
for i in $(seq 50); do [ -d "$d" ] || break; sleep 0.1; done
[ -d "$d" ] && fail "kill -9 of run left its cgroup $d" || ok "kill -9 of run: cgroup removed"
for p in $cpids; do # (a zombie waiting for init to reap it is gone)
	st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ] && fail "container process $p outlived kill -9 of run"
done
assert_clean "kill -9 of run"

# The shim itself killed: delete --force still removes container and cgroup.
pid=$("${SHIM[@]}" --id lost --memory 32Mi -- /bin/sleep 30)
spid=$(sed -E 's/.*"shim_pid":([0-9]+).*/\1/' "$S/lost/state")
kill -9 "$spid"
for i in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" && [ -d "$(cg memory $CGP/lost)" ] || fail "container should outlive a killed shim"
"$R" delete --state "$S" lost --force || fail "delete --force without shim"
for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "container $pid survived delete --force"
[ -e "$S/lost" ] && fail "delete left $S/lost"
assert_clean "delete --force after the shim was killed"
ok "delete --force after the shim was killed"

# --layer-dir: the writable layer where the caller says (the agent's pod
# file system), recorded in the state, removed when the container ends, and
# by delete --force when its shim was killed.
mkdir -p "$T/pfs"
"${SHIM[@]}" --id lay --layer-dir "$T/pfs/lay" -- /bin/sh -c 'echo data >/written; sleep 1' >/dev/null ||
	fail "shim --layer-dir start"
for i in $(seq 50); do [ -f "$T/pfs/lay/upper/written" ] && break; sleep 0.02; done
[ -f "$T/pfs/lay/upper/written" ] && grep -q "\"layer\":\"$T/pfs/lay\"" "$S/lay/state" &&
	[ ! -e "$S/lay/rw" ] && ok "--layer-dir: the upper dir is there, recorded in the state" ||
	fail "--layer-dir: $(find "$T/pfs" | tr '\n' ' ') state $(cat "$S/lay/state")"
for i in $(seq 50); do grep -q '"status":"exited"' "$S/lay/state" && [ ! -e "$T/pfs/lay" ] && break; sleep 0.1; done
[ ! -e "$T/pfs/lay" ] && ok "--layer-dir: removed when the container ends" || fail "--layer-dir left $T/pfs/lay"
"$R" delete --state "$S" lay || fail "delete lay"
pid=$("${SHIM[@]}" --id lay2 --layer-dir "$T/pfs/lay2" -- /bin/sleep 30)
spid=$(sed -E 's/.*"shim_pid":([0-9]+).*/\1/' "$S/lay2/state")
kill -9 "$spid"
for i in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
"$R" delete --state "$S" lay2 --force || fail "delete --force lay2"
[ ! -e "$T/pfs/lay2" ] && [ ! -e "$S/lay2" ] && ok "--layer-dir: delete --force removes it after the shim was killed" ||
	fail "delete --force left $T/pfs/lay2"
out=$("$R" run --rootfs "$T/img:1" --layer-dir /x -- /bin/true 2>&1)
[ $? = 125 ] && [[ $out == *"--layer-dir '/x': an option of 'shim' only"* ]] &&
	ok "run --layer-dir refused" || fail "run --layer-dir: $out"
assert_clean "--layer-dir"

# kill is safe against pid reuse: a record pointing at our own shell with the
# wrong start time must not be signalled.
mkdir -p "$S/fake"
echo "{\"id\":\"fake\",\"status\":\"running\",\"pid\":$$,\"shim_pid\":$$,\"pid_starttime\":1,\"shim_starttime\":1}" >"$S/fake/state"
"$R" kill --state "$S" fake KILL 2>/dev/null && fail "kill signalled a reused pid"
ok "kill refuses a reused pid"
rm -rf "$S/fake"

# OOM reported in the state; log rotation.
"${SHIM[@]}" --id oom --memory 32Mi -- /bin/sh -c 'tail /dev/zero' >/dev/null || fail "shim oom start"
"${SHIM[@]}" --id chatty --log-max 1024 -- /bin/sh -c 'i=0; while [ $i -lt 100 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); [ $((i % 25)) = 0 ] && sleep 0.1; done' >/dev/null ||
	fail "shim chatty start"
for i in $(seq 100); do
	grep -q exited "$S/oom/state" && grep -q exited "$S/chatty/state" && break
	sleep 0.1
done
st=$(cat "$S/oom/state")
echo "$st" | grep -q '"oom":true' && echo "$st" | grep -q '"reason":"OOMKilled"' && ok "shim reports OOMKilled" ||
	fail "oom state: $st"
[ -e "$S/chatty/log.1" ] && [ "$(stat -c %s "$S/chatty/log")" -le 1024 ] &&
	[ "$(stat -c %s "$S/chatty/log.1")" -le 1024 ] && tail -1 "$S/chatty/log" | grep -q line-99 &&
	ok "log capped and rotated" || fail "log rotation: $(ls -l "$S/chatty")"
grep -q '"exit_code":0' "$S/chatty/state" && grep -q Completed "$S/chatty/state" || fail "chatty: $(cat "$S/chatty/state")"
out=$("${SHIM[@]}" --id bad -- /nonexistent 2>&1)
[ $? = 127 ] && [ ! -e "$S/bad" ] && ok "shim: not found -> 127, nothing left" || fail "shim bad: $out"
# --foreground (the agent's way): no fork; "OK PID" on stdout, then stdout is
# closed while the process goes on as the shim, the caller's child, and exits
# when the container ends; a failure is "ERR CODE MESSAGE" and exit CODE.
exec {fg}< <(exec "${SHIM[@]}" --foreground --id fg -- /bin/sh -c 'trap "exit 3" TERM; sleep 30 & wait' 2>"$T/fg.err")
fgpid=$!
STARTED_PIDS+=("$fgpid")
line='' rest=''
IFS= read -r -t 10 line <&"$fg"
IFS= read -r -t 10 rest <&"$fg" && fail "--foreground: more than one line on stdout: '$rest'"
exec {fg}<&-
cpid=${line#OK }
spid=$(sed -E 's/.*"shim_pid":([0-9]+).*/\1/' "$S/fg/state" 2>/dev/null)
[[ $line =~ ^OK\ [0-9]+$ ]] && [ "$spid" = "$fgpid" ] && kill -0 "$cpid" &&
	ok "shim --foreground: OK PID, stdout closed, the process is the shim" ||
	fail "shim --foreground: line '$line', shim_pid '$spid', process $fgpid: $(cat "$T/fg.err")"
kill -TERM "$fgpid" # forwarded to the container (sh: TERM ends it)
for i in $(seq 50); do kill -0 "$fgpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$fgpid" 2>/dev/null && fail "shim --foreground still runs after its container ended"
grep -q '"status":"exited"' "$S/fg/state" && ok "shim --foreground: exits with its container" ||
	fail "--foreground state: $(cat "$S/fg/state")"
"$R" delete --state "$S" fg || fail "delete fg"
out=$("${SHIM[@]}" --foreground --id fgbad -- /nonexistent 2>/dev/null)
code=$?
[ "$code" = 127 ] && [[ $out == "ERR 127 "*nonexistent* ]] && [ ! -e "$S/fgbad" ] &&
	ok "shim --foreground: not found -> ERR 127 line, exit 127, nothing left" ||
	fail "--foreground bad: exit $code, '$out'"
out=$("${RUN[@]}" --foreground -- /bin/true 2>&1)
[ $? = 125 ] && [[ $out == *"--foreground is an option of 'shim' only"* ]] &&
	ok "run --foreground refused" || fail "run --foreground: $out"
for id in oom chatty orphan; do "$R" delete --state "$S" $id || fail "delete $id"; done
assert_clean "shim"

# --- networking --------------------------------------------------------------
# (keep holds the bridge's carrier up while web below restarts, as the other
# pods of a node do: a bridge without ports drops its neighbour entries)
"${SHIM[@]}" --id keep --net bridge:"$BR",ip=10.231.0.9/24 -- /bin/sleep 60 >/dev/null ||
	fail "shim keep"
pid=$("${SHIM[@]}" --id web --net bridge:"$BR",ip=10.231.0.5/24,gw=10.231.0.1 -- /bin/sh -c \
	'ip -o addr show eth0; ip route; cat /sys/class/net/eth0/address; echo hello-from-container | nc -l -p 8080')
[ -n "$pid" ] || fail "shim with network"
for i in $(seq 30); do grep -q default "$S/web/log" 2>/dev/null && break; sleep 0.1; done
grep -q 'inet 10.231.0.5/24' "$S/web/log" && grep -q 'default via 10.231.0.1' "$S/web/log" &&
	ok "container address and default route" || fail "net inside: $(cat "$S/web/log")"
grep -q '"ip":"10.231.0.5"' "$S/web/state" || fail "state ip: $(cat "$S/web/state")"
ip -o addr show "$BR" | grep -q '10.231.0.1/24' || fail "bridge address"
for i in $(seq 20); do
	got=$(timeout 2 bash -c 'exec 3<>/dev/tcp/10.231.0.5/8080; cat <&3' 2>/dev/null) && [ -n "$got" ] && break
	sleep 0.1
done
[ "$got" = hello-from-container ] && ok "host reaches the container over the bridge" || fail "tcp: '$got'"
grep -qx '02:42:0a:e7:00:05' "$S/web/log" && ok "the container's MAC follows from its IP" ||
	fail "MAC of 10.231.0.5: $(cat "$S/web/log")"
for i in $(seq 50); do grep -q exited "$S/web/state" && break; sleep 0.1; done
"$R" delete --state "$S" web --force >/dev/null 2>&1
# A new container with the same IP (a restart): the host's neighbour entry,
# still fresh, is right at once (a new random MAC would go unanswered for
# 15-45 s, until the entry went stale).
pid=$("${SHIM[@]}" --id web2 --net bridge:"$BR",ip=10.231.0.5/24,gw=10.231.0.1 -- /bin/sh -c \
	'echo hello-again | nc -l -p 8080')
got=
for i in $(seq 20); do
	got=$(timeout 1 bash -c 'exec 3<>/dev/tcp/10.231.0.5/8080; cat <&3' 2>/dev/null) && [ -n "$got" ] && break
	sleep 0.1
done
[ "$got" = hello-again ] && ok "a restarted container with the same IP is reachable at once" ||
	fail "same IP again: '$got' ($(ip neigh show 10.231.0.5))"
for i in $(seq 50); do grep -q exited "$S/web2/state" && break; sleep 0.1; done
"$R" delete --state "$S" web2 --force >/dev/null 2>&1
"$R" delete --state "$S" keep --force >/dev/null 2>&1
assert_clean network
out=$("${RUN[@]}" --net host -- /bin/sh -c 'readlink /proc/self/ns/net')
[ "$out" = "$(readlink /proc/self/ns/net)" ] && ok "--net host shares the host netns" || fail "net host: $out"

# --net ns:PATH: a second container joins the first one's network namespace
# (the containers of a pod): same netns, same eth0 address, localhost shared.
pid=$("${SHIM[@]}" --id pod1 --net bridge:"$BR",ip=10.231.0.6/24,gw=10.231.0.1 -- /bin/sh -c \
	'echo hello-over-lo | nc -l -p 8081')
[ -n "$pid" ] || fail "shim pod1"
ns=$(readlink /proc/"$pid"/ns/net)
out=$("${RUN[@]}" --net ns:/proc/"$pid"/ns/net -- /bin/sh -c \
	'readlink /proc/self/ns/net; ip -o addr show eth0; for i in 1 2 3 4 5 6 7 8 9 10; do nc 127.0.0.1 8081 </dev/null && break; sleep 0.1; done' 2>&1)
[ "$(echo "$out" | head -1)" = "$ns" ] &&
	echo "$out" | grep -q 'inet 10.231.0.6/24' && echo "$out" | grep -q hello-over-lo &&
	ok "--net ns:PATH joins another container's netns (eth0 and 127.0.0.1 shared)" ||
	fail "net ns: $out // $(cat "$S/pod1/log" 2>/dev/null)"
for i in $(seq 50); do grep -q exited "$S/pod1/state" && break; sleep 0.1; done
"$R" delete --state "$S" pod1 --force >/dev/null 2>&1
assert_clean "net ns"
err_case "--net ns: not a netns" "${RUN[@]}" --net ns:/etc/passwd -- /bin/true

echo "runtime.sh: $failures failure(s)"
[ $failures = 0 ]
