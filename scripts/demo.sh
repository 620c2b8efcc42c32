#!/bin/bash
# demo.sh — `make demo`: a 3-node lab cluster on this machine with the
# examples deployed, then what to try. Safe to run again: a lab that is up is
# reused and applying the same manifests changes nothing.
#
# `make demo` has built the binaries already; this builds the demo image
# (`make images`), brings up the lab (scripts/skiff-lab), links the image into
# the lab's image dir, applies examples/*/*.yaml, and shows the cluster.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
BIN=$ROOT/$BUILD/bin
LAB_DIR=${SKIFF_LAB_DIR:-/var/lib/skiff-lab}
export SKIFF_BIN=$BIN SKIFF_IMAGES=$ROOT/$BUILD/images
LAB=$ROOT/scripts/skiff-lab

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

[ "$(id -u)" = 0 ] || {
	echo "make demo: run as root (the lab makes network namespaces, a bridge and cgroups)" >&2
	exit 1
}
missing=
for b in skiff-orchestrator skiff-agent skiff-runtime skiffctl; do
	[ -x "$BIN/$b" ] || missing="$missing $b"
done
if [ -n "$missing" ]; then
	echo "make demo: not built yet:$missing (they are being written); built so far:" >&2
	ls -1 "$BIN" 2>/dev/null | sed 's/^/  /' >&2 || true
	exit 1
fi

say "demo image (make images)"
make --no-print-directory -C "$ROOT" BUILD="$BUILD" images
ls -1d "$ROOT/$BUILD/images"/*/ 2>/dev/null | sed "s|$ROOT/||; s|^|  |" || echo "  (no image built)"

say "lab cluster: 3 VMs (skiff-lab up --nodes 3)"
"$LAB" up --nodes 3 --dir "$LAB_DIR" | sed -n '/export SKIFF_CONFIG/p'
export SKIFF_CONFIG=$LAB_DIR/admin.conf
skiffctl() { "$BIN/skiffctl" "$@"; }

# the images built above, in the lab's image dir (links: rebuilds show up)
mkdir -p "$LAB_DIR/images"
for img in "$ROOT/$BUILD/images"/*; do
	[ -e "$img" ] || continue
	case "$img" in *.stamp) continue ;; esac
	ln -sfn "$img" "$LAB_DIR/images/$(basename "$img")"
done

say "examples"
applied=0
for d in "$ROOT"/examples/*/; do
	ls "$d"*.yaml >/dev/null 2>&1 || continue
	for f in "$d"*.yaml; do
		if skiffctl apply -f "$f"; then
			applied=$((applied + 1))
		else
			echo "  (skiffctl apply -f ${f#"$ROOT"/} failed; the rest goes on)"
		fi
	done
done
[ "$applied" -gt 0 ] || echo "  no example manifests yet (examples/*/*.yaml)"

# give the pods a moment to start and become ready (at most 20 s)
if [ "$applied" -gt 0 ]; then
	for _ in $(seq 1 200); do
		n=$(skiffctl get pods -o json 2>/dev/null | jq '[(.items? // .) | if type == "array" then .[] else . end
			| select(.status.phase != "Running" or .status.ready != true)] | length' 2>/dev/null || echo 1)
		[ "$n" = 0 ] && break
		sleep 0.1
	done
fi

say "skiffctl get nodes"
skiffctl get nodes -o wide
say "skiffctl get pods -o wide"
skiffctl get pods -o wide

say "try this"
cat <<EOF
  export SKIFF_CONFIG=$SKIFF_CONFIG PATH=$BIN:$ROOT/scripts:\$PATH

  skiffctl get pods -o wide -w &                 # watch the cluster heal
  kill -9 <PID>        # a container's main process (pid: skiffctl get pods -o json);
                       # the same pod restarts on its node at once, RESTARTS +1
  skiff-lab kill vm2   # kill -9 an agent: no container stops;
  skiff-lab start vm2  #   restarted, it re-adopts them (same pids)
  skiff-lab node-down vm2   # take a node away: its pods run elsewhere within the grace
  skiff-lab node-up vm2     # bring it back: nothing runs twice
  skiffctl scale deployment <NAME> --replicas 5
  skiffctl exec -it deployment/<NAME> -- sh     # a shell in one of its containers
  skiffctl logs -f deployment/<NAME>
  skiffctl get events
  skiff-lab status     # processes, nodes, lab dir
  skiff-lab down       # remove everything the lab made
EOF
shopt -s nullglob
demos=("$ROOT"/docs/demos/*.md)
if [ ${#demos[@]} -gt 0 ]; then
	echo
	echo "  per demo (walkthroughs in docs/demos/; pod IPs are reachable from this machine):"
	for f in "${demos[@]}"; do
		# curl lines that stand alone (no shell variable set elsewhere in the page)
		cmds=$(grep -E '^\s*(\$ )?curl ' "$f" | sed -E 's/^\s*(\$ )?//' |
			grep -vE '\$[A-Za-z_{]' | head -n 4 || true)
		[ -n "$cmds" ] || continue
		echo "  # $(basename "$f" .md)"
		sed 's/^/    /' <<<"$cmds"
	done
fi
