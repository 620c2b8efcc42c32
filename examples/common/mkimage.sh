#!/bin/sh
# mkimage.sh — build the demo image: a rootfs directory IMAGE_DIR/NAME/ and
# IMAGE_DIR/NAME.tar, from busybox-static (its applets as symlinks in /bin)
# plus the statically linked demo programs in /bin.
#
#   mkimage.sh IMAGE_DIR NAME BUSYBOX PROGRAM...
# The new rootfs is assembled beside the old one and swapped in, so a reader
# never sees a half-built image. IMAGE_DIR/NAME.oci.tar is the same root
# filesystem as an OCI image archive with a config (PATH, WorkingDir /, Cmd
# /bin/sh), for `skiffctl image load` and registries (scripts/oci-image.py,
# no network).
set -eu
dir=$1 name=$2 busybox=$3
shift 3
mkdir -p "$dir"
tmp="$dir/.$name.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/etc/skiff/endpoints" "$tmp/proc" "$tmp/sys" "$tmp/dev" \
	"$tmp/tmp" "$tmp/data" "$tmp/var/run" "$tmp/root"
chmod 1777 "$tmp/tmp"
cp "$busybox" "$tmp/bin/busybox"
"$busybox" --install -s "$tmp/bin"
# --install links to /bin/busybox by absolute path, which is right inside the image
for p in "$@"; do
	cp "$p" "$tmp/bin/"
	# the image needs no debug info (build/examples/bin keeps it)
	strip --strip-debug "$tmp/bin/$(basename "$p")" 2>/dev/null || true
done
ln -sf bin "$tmp/sbin"
mkdir -p "$tmp/usr"
ln -sf ../bin "$tmp/usr/bin"
ln -sf ../bin "$tmp/usr/sbin"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$tmp/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/etc/group"
printf '127.0.0.1 localhost\n' >"$tmp/etc/hosts"
printf 'skiff-demo image %s: busybox + %s\n' "$name" "$(for p in "$@"; do basename "$p"; done | tr '\n' ' ')" >"$tmp/etc/skiff-demo"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$tmp" -cf "$dir/.$name.tar.tmp" .
rm -rf "${dir:?}/${name:?}"
mv "$tmp" "$dir/$name"
mv "$dir/.$name.tar.tmp" "$dir/$name.tar"
top=$(cd "$(dirname "$0")/../.." && pwd)
python3 "$top/scripts/oci-image.py" "$dir/.$name.oci.tar.tmp" --tar --layer "$dir/$name" \
	--name "$name" --env PATH=/bin --workdir / --cmd '["/bin/sh"]' >/dev/null
mv "$dir/.$name.oci.tar.tmp" "$dir/$name.oci.tar"
echo "image $dir/$name ($(du -sh "$dir/$name.tar" | cut -f1) tar, OCI archive $name.oci.tar)"
