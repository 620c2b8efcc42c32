#!/bin/bash
# runtime.sh — container start benchmark: median wall and CPU time of running
# /bin/true with full isolation (pid, mount, uts, ipc, net, cgroup namespaces,
# memory/cpu/pids cgroup limits, Docker's capability set, a seccomp filter,
# masked paths) through skiff-runtime, crun and runc on the same busybox
# rootfs with an equivalent OCI config, then with a veth on a bridge (skiff:
# libnl inside the runtime; crun: the usual `ip` commands around it). Prints
# every figure and skiff's ratio to each peer. Not a test: it asserts nothing.
#
#   bench/runtime.sh [RUNS]        (default 30; root; installs crun and runc
#                                   through scripts/deps.sh when missing)
#
# Debian 12's crun 1.8 refuses a hybrid cgroup host whose v2 tree lists a
# controller (here hugetlb sits in /sys/fs/cgroup/unified): for the run the
# script mounts hugetlb as a v1 hierarchy, and undoes it on exit.
set -u
[ "$(id -u)" = 0 ] || { echo "bench/runtime.sh: needs root" >&2; exit 1; }
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
N=${1:-30}
R=$PWD/$BUILD/bin/skiff-runtime
[ -x "$R" ] || { echo "bench/runtime.sh: build first (make)" >&2; exit 1; }
scripts/deps.sh crun runc >&2 || exit 1
. tests/integration/lib/rootfs.sh

T=$(mktemp -d /tmp/skiff-bench.XXXXXX)
CGP=skiff-bench-$$
BR=skb$$
HUGETLB_MOUNTED=
cleanup() {
	crun delete -f skb-crun >/dev/null 2>&1
	runc delete -f skb-runc >/dev/null 2>&1
	ip netns del skb-$$ 2>/dev/null
	ip link del "$BR" 2>/dev/null
	for c in memory cpu pids cpuset devices freezer blkio cpuacct hugetlb systemd unified; do
		[ -d /sys/fs/cgroup/$c/$CGP ] && find /sys/fs/cgroup/$c/$CGP -depth -type d -exec rmdir {} + 2>/dev/null
	done
	if [ -n "$HUGETLB_MOUNTED" ]; then
		umount /sys/fs/cgroup/hugetlb && rmdir /sys/fs/cgroup/hugetlb
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap "exit 1" TERM INT HUP

make_rootfs "$T/rootfs"
if grep -q . /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
	mkdir -p /sys/fs/cgroup/hugetlb &&
		mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb && HUGETLB_MOUNTED=1
fi

# The OCI equivalent of `skiff-runtime run --memory 64Mi --cpus 1 --pids 128`.
BLOCKED='"mount","umount2","pivot_root","setns","open_tree","move_mount","fsopen","fsconfig",
"fsmount","fspick","mount_setattr","quotactl","lookup_dcookie","fanotify_init",
"name_to_handle_at","syslog","kexec_load","kexec_file_load","keyctl","add_key","request_key",
"bpf","perf_event_open","open_by_handle_at","userfaultfd","uselib","acct","swapon","swapoff",
"init_module","finit_module","delete_module","reboot","ptrace","process_vm_readv",
"process_vm_writev","kcmp","settimeofday","clock_settime","clock_adjtime","iopl","ioperm",
"set_mempolicy","mbind","migrate_pages","move_pages"'
oci_config() { # seccomp(0/1) netns-path
	local seccomp='' netns='{ "type": "network" }'
	if [ "$1" = 1 ]; then
		seccomp=',"seccomp": { "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
		"syscalls": [ { "names": ['"$BLOCKED"'], "action": "SCMP_ACT_ERRNO" },
		{ "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 },
		{ "names": ["unshare","clone"], "action": "SCMP_ACT_ERRNO",
		  "args": [ { "index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" } ] } ] }'
	fi
	[ -n "$2" ] && netns='{ "type": "network", "path": "'"$2"'" }'
	local caps='"CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_SETGID",
	"CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"'
	cat <<JSON
{ "ociVersion": "1.0.2",
  "process": { "terminal": false, "user": { "uid": 0, "gid": 0 }, "args": ["/bin/true"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
    "capabilities": { "bounding": [$caps], "effective": [$caps], "permitted": [$caps] },
    "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": $(ulimit -Hn), "soft": $(ulimit -Hn) } ],
    "noNewPrivileges": true },
  "root": { "path": "$T/rootfs", "readonly": true },
  "hostname": "bench",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","strictatime","mode=755","size=65536k"] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid","noexec","nodev","mode=1777","size=65536k"] },
    { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid","noexec","nodev"] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid","noexec","nodev","ro"] },
    { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","nodev"] } ],
  "linux": {
    "cgroupsPath": "/$CGP/oci",
    "resources": { "devices": [ { "allow": false, "access": "rwm" } ],
      "memory": { "limit": 67108864 }, "cpu": { "quota": 100000, "period": 100000 }, "pids": { "limit": 128 } },
    "namespaces": [ { "type": "pid" }, $netns, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" } ],
    "maskedPaths": [ "/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats",
      "/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi" ],
    "readonlyPaths": [ "/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger" ]
    $seccomp } }
JSON
}
mkdir -p "$T/plain" "$T/sec" "$T/net"
oci_config 0 "" >"$T/plain/config.json"
oci_config 1 "" >"$T/sec/config.json"
oci_config 1 "/var/run/netns/skb-$$" >"$T/net/config.json"

# Variants run interleaved (one run of each per round) so that load from
# other processes on the machine hits them all alike. Per variant: median
# wall and median CPU (user+sys of the command and its children), in ms.
NAMES=()
CMDS=()
variant() { # NAME CMD...
	local name=$1
	shift
	if ! "$@" >/dev/null 2>"$T/err"; then
		echo "$name: skipped, it fails: $(tail -1 "$T/err")" >&2
		return
	fi
	NAMES+=("$name")
	CMDS+=("$(printf '%q ' "$@")")
}
declare -A WALL CPU
run_all() {
	local k TIMEFORMAT='%3R %3U %3S'
	for _ in $(seq "$N"); do
		for k in "${!NAMES[@]}"; do
			{ time eval "${CMDS[$k]}" >/dev/null 2>&1; } 2>>"$T/times.$k"
		done
	done
	for k in "${!NAMES[@]}"; do
		local name=${NAMES[$k]}
		WALL[$name]=$(awk '{print $1 * 1000}' "$T/times.$k" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
		CPU[$name]=$(awk '{print ($2 + $3) * 1000}' "$T/times.$k" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
		printf '%-44s wall %7.1f ms   cpu %7.1f ms\n' "$name" "${WALL[$name]}" "${CPU[$name]}"
	done
}

crun_net() { # the usual way: a named netns and a veth made by ip, then crun
	ip netns add skb-$$ && ip link add skbh$$ type veth peer name eth0 netns skb-$$ &&
		ip link set skbh$$ master "$BR" up && ip -n skb-$$ addr add 10.232.0.6/24 dev eth0 &&
		ip -n skb-$$ link set eth0 up && ip -n skb-$$ link set lo up &&
		ip -n skb-$$ route add default via 10.232.0.1 &&
		crun run -b "$T/net" skb-crun
	local rc=$?
	ip netns del skb-$$ 2>/dev/null
	return $rc
}

echo "container start, /bin/true, $N runs each, $(nproc) CPUs, $(uname -r)"
echo "skiff-runtime $("$R" --version | cut -d' ' -f2), $(crun --version | head -1), $(runc --version | head -1)"
SK=("$R" run --rootfs "$T/rootfs" --cgroup-parent "$CGP" --memory 64Mi --cpus 1 --pids 128)
NET=(--net "bridge:$BR,ip=10.232.0.5/24,gw=10.232.0.1")
"$R" run --rootfs "$T/rootfs" --cgroup-parent "$CGP" "${NET[@]}" -- /bin/true # makes the bridge
variant "/bin/true (no container)" /bin/true
variant "unshare -pmuin --fork (namespaces only)" unshare -pmuin --fork /bin/true
variant "skiff-runtime (seccomp)" "${SK[@]}" -- /bin/true
variant "skiff-runtime --seccomp unconfined" "${SK[@]}" --seccomp unconfined -- /bin/true
variant "skiff-runtime --read-only (no overlay)" "${SK[@]}" --read-only -- /bin/true
variant "crun run (no seccomp)" crun run -b "$T/plain" skb-crun
variant "crun run (seccomp)" crun run -b "$T/sec" skb-crun
variant "runc run (seccomp)" runc run -b "$T/sec" skb-runc
variant "skiff-runtime (seccomp, veth)" "${SK[@]}" "${NET[@]}" -- /bin/true
variant "crun run (seccomp, veth by ip)" crun_net
run_all

ratio() {
	[ "${WALL[$1]}" = NA ] || [ "${WALL[$2]}" = NA ] && { echo "$1 vs $2: n/a"; return; }
	awk -v a="${WALL[$1]}" -v b="${WALL[$2]}" -v c="${CPU[$1]}" -v d="${CPU[$2]}" -v n1="$1" -v n2="$2" \
		'BEGIN { printf "%-30s / %-30s wall %.2f  cpu %.2f\n", n1, n2, a / b, (d > 0 ? c / d : 0) }'
}
echo "ratios (skiff / peer; goal: wall <= 0.5 vs crun):"
ratio "skiff-runtime (seccomp)" "crun run (seccomp)"
ratio "skiff-runtime (seccomp)" "crun run (no seccomp)"
ratio "skiff-runtime (seccomp)" "runc run (seccomp)"
ratio "skiff-runtime (seccomp, veth)" "crun run (seccomp, veth by ip)"
