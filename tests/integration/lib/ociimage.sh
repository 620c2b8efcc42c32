# shellcheck shell=bash
# tests/integration/lib/ociimage.sh — write an OCI image layout with the
# shell's own tools (tar, gzip, sha256sum): `make_oci OUT NAME:TAG CONFIG_JSON
# LAYER_DIR…` makes OUT/ (oci-layout, index.json, blobs/sha256/…) with one
# gzip layer per LAYER_DIR (lowest first) and the image config
# {"config": CONFIG_JSON, …}, and OUT.tar of the same. Layers are made
# reproducibly (sorted names, fixed mtime, numeric owners), so one directory
# gives one digest however often it is packed. Sourced by tests and benches.

_oci_blob() { # _oci_blob OUT FILE -> prints sha256 hex, moves FILE into blobs
	local h
	h=$(sha256sum "$2" | cut -d' ' -f1)
	mv "$2" "$1/blobs/sha256/$h"
	echo "$h"
}

make_oci() {
	local out=$1 name=$2 config=$3; shift 3
	local layers="" diffs="" d h diff size
	rm -rf "$out" "$out.tar"
	mkdir -p "$out/blobs/sha256"
	for d in "$@"; do
		tar --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 \
			-C "$d" -cf "$out/layer.tar" .
		diff=$(sha256sum "$out/layer.tar" | cut -d' ' -f1)
		gzip -n -1 "$out/layer.tar"
		size=$(stat -c %s "$out/layer.tar.gz")
		h=$(_oci_blob "$out" "$out/layer.tar.gz")
		layers="$layers${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$h\",\"size\":$size}"
		diffs="$diffs${diffs:+,}\"sha256:$diff\""
	done
	printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]}}' \
		"$config" "$diffs" >"$out/config.json"
	size=$(stat -c %s "$out/config.json")
	h=$(_oci_blob "$out" "$out/config.json")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
		"$h" "$size" "$layers" >"$out/manifest.json"
	size=$(stat -c %s "$out/manifest.json")
	h=$(_oci_blob "$out" "$out/manifest.json")
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
		"$h" "$size" "$name" "${name##*:}" >"$out/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
	tar -C "$out" -cf "$out.tar" oci-layout index.json blobs
	# shellcheck disable=SC2034 # the result, read by the sourcing script
	OCI_MANIFEST=sha256:$h
}
