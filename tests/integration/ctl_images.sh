#!/bin/bash
# ctl_images.sh — skiffctl image load|ls|rm against a real brain (no agents):
# an OCI layout directory, the same as a tar on stdin (nothing uploaded
# twice), a second image sharing a layer (only the new blobs go up), a
# `docker save`-style archive name, a rootfs tar with --name, ls as a table
# and -o json, the records surviving a brain restart, rm freeing the blobs no
# other image uses, and a tampered blob refused naming its digest.
set -u
. "$(dirname "$0")/lib/ctlbrain.sh"
. "$(dirname "$0")/lib/ociimage.sh"
ctl_init skiff-ctl-images
brain_up 18000

mkdir -p "$T/l1/bin" "$T/l2/etc" "$T/l3/etc"
cp /bin/busybox "$T/l1/bin/"
echo one >"$T/l2/etc/version"
echo two >"$T/l3/etc/version"
make_oci "$T/web1" web:1 '{"Entrypoint":["/bin/busybox","sleep"],"Cmd":["1000"]}' "$T/l1" "$T/l2"
web1=$OCI_MANIFEST
make_oci "$T/web2" web:2 '{"Entrypoint":["/bin/busybox","sleep"],"Cmd":["1000"]}' "$T/l1" "$T/l3"

run 0 image ls
has out "No images"
run 0 image load "$T/web1"
has out "^Loaded image web:1 ($web1, 2 layers"
has out "4 blobs uploaded"
"$CTL" image load - <"$T/web1.tar" >"$T/out" 2>"$T/err" || fail "load from stdin"
has out "0 blobs uploaded (0B), 4 already in the cluster"
run 0 image load "$T/web2.tar"
has out "^Loaded image web:2 "
has out "3 blobs uploaded"
has out "1 already in the cluster"

# a rootfs tar needs a name
tar -C "$T/l2" -czf "$T/rootfs.tar.gz" .
run 1 image load "$T/rootfs.tar.gz"
has err "names no image: give one with --name"
run 0 image load --name tools "$T/rootfs.tar.gz"
has out "^Loaded image tools:latest "
run 2 image load --name 'Bad Name' "$T/rootfs.tar.gz"

run 0 image ls
has out "^NAME  *TAG  *DIGEST  *SIZE  *NODES"
has out "^web  *1  *${web1:0:19}  *1\.[0-9]MiB  *<none>"
has out "^web  *2 "
has out "^tools  *latest "
run 0 image ls -o json
[ "$(jq -r '.items[] | select(.name=="web:1") | .entrypoint | join(" ")' "$T/out")" = \
	"/bin/busybox sleep" ] || fail "image ls -o json lacks web:1's entrypoint"
[ "$(jq -r '.items[] | select(.name=="web:1") | .layers | length' "$T/out")" = 2 ] ||
	fail "image ls -o json: web:1 should have 2 layers"

# durable: a restarted brain still has them
kill "$brain_pid"; wait "$brain_pid" 2>/dev/null
"$BRAIN" --data-dir "$brain_dir" --listen "127.0.0.1:$port" >>"$T/brain.log" 2>&1 &
brain_pid=$!
ctl_started "$brain_pid"
wait_for 10 "$CTL" version >/dev/null 2>&1 || fail "the brain did not come back"
run 0 image ls
has out "^web  *1 "

# rm: the record, and the blobs only it used (l2's layer, its config, manifest)
nblobs() { find "$brain_dir/images/blobs/sha256" -type f | wc -l; }
before=$(nblobs)
run 0 image rm web:1
has out "^image web:1 removed ($web1)"
[ "$(nblobs)" = $((before - 3)) ] || fail "rm web:1 should free 3 blobs, $(nblobs) of $before left"
run 1 image rm web:1
has err "image 'web:1' not found"
run 0 image ls
grep -q "^web  *1 " "$T/out" && fail "web:1 still listed"

# a tampered layer is refused by the local check before anything is recorded
cp -r "$T/web1" "$T/bad"
big=$(ls -S "$T/bad/blobs/sha256" | head -1)
chmod u+w "$T/bad/blobs/sha256/$big"
printf 'X' | dd of="$T/bad/blobs/sha256/$big" bs=1 seek=100 conv=notrunc 2>/dev/null
run 1 image load "$T/bad"
has err "$big: content does not match its digest"
run 0 image ls
grep -q "^web  *1 " "$T/out" && fail "a tampered image was recorded"
echo "ok"
