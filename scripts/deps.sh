#!/bin/sh
# deps.sh — install the Debian packages Skiff needs to build, test and run.
#
# Does nothing when every package is present. Otherwise, as root, runs
# `apt-get update` once and `apt-get install -y` for the missing ones.
# Usage: scripts/deps.sh [extra-package...]
set -eu

PKGS="gcc make pkg-config libseccomp-dev libcap-dev libnl-3-dev libnl-route-3-dev
protobuf-c-compiler libprotobuf-c-dev check libyaml-dev libssl-dev libevent-dev libjansson-dev
libarchive-dev libzstd-dev libcurl4-openssl-dev
busybox-static iproute2 clang libclang-rt-14-dev clang-format shellcheck openssl curl"

# the runtime test marks an overlay layer dir opaque with setfattr
PKGS="$PKGS attr"

# the lab, the demo and the e2e tests read skiffctl's JSON with jq
PKGS="$PKGS jq"

# the registry tests: Debian's docker-registry (the CNCF distribution
# registry), skopeo to push to it, python3 for the OCI layout builder
# (scripts/oci-image.py, also used by make images) and the stub registry
PKGS="$PKGS docker-registry skopeo python3"

# the gateway demo parses HTTP/1.1 with nodejs' http_parser
PKGS="$PKGS libhttp-parser-dev"

# the agent formats each pod's size-limited file system (ephemeral storage)
# with mkfs.ext4
PKGS="$PKGS e2fsprogs"

# the VM lab (skiff-lab up --vm, tests/e2e/vm_*.sh): QEMU, qcow2 overlays,
# the guest image's Debian root filesystem (its kernel, linux-image-cloud-amd64,
# is installed into that root filesystem by mmdebstrap, not on this machine),
# and the guest agent's socket
PKGS="$PKGS qemu-system-x86 qemu-utils mmdebstrap socat"

missing=""
for p in $PKGS "$@"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing; run 'make deps' as root or apt-get install them" >&2
	exit 1
fi

echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2
