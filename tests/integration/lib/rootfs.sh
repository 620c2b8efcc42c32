#!/bin/bash
# rootfs.sh — build a busybox-static test rootfs: `make_rootfs DIR [PROBE]`.
# Copies /bin/busybox into DIR/bin, installs its applet links inside DIR
# (`busybox --install -s` run chrooted), and adds the static probe program
# when given. Sourced by the runtime integration tests and the benchmark.
make_rootfs() {
	local dir=$1 probe=${2:-}
	mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,var/tmp,run}
	chmod 1777 "$dir/tmp"
	cp /bin/busybox "$dir/bin/busybox"
	chroot "$dir" /bin/busybox --install -s
	echo "root:x:0:0:root:/root:/bin/sh" >"$dir/etc/passwd"
	echo "root:x:0:" >"$dir/etc/group"
	if [ -n "$probe" ]; then cp "$probe" "$dir/bin/probe"; fi
}
