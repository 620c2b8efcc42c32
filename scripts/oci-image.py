#!/usr/bin/env python3
"""oci-image.py — build an OCI image layout (directory, or tar with --tar)
from root filesystem directories, one gzip layer each (lowest first), with
an image config (Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts).

No network and no container tools: the layers are written with Python's
tarfile (owners 0:0 unless --keep-owners, modes and symlinks kept, mtimes
0, so the same input gives the same digests). Used by `make images` for the
demo image and by the registry tests.

  oci-image.py OUT --layer DIR [--layer DIR...] --name NAME:TAG
      [--entrypoint JSON] [--cmd JSON] [--env K=V]... [--workdir DIR]
      [--user USER] [--expose 80/tcp]... [--tar]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile


def blob(out, data):
    d = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(out, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d


def layer_tar(root, keep_owners):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in [""] + sorted(filenames) + sorted(
                    d for d in dirnames if os.path.islink(os.path.join(dirpath, d))):
                p = os.path.join(dirpath, name) if name else dirpath
                rel = os.path.relpath(p, root)
                if rel == ".":
                    continue
                ti = t.gettarinfo(p, arcname=rel)
                ti.mtime = 0
                if not keep_owners:
                    ti.uid = ti.gid = 0
                    ti.uname = ti.gname = ""
                if ti.isreg():
                    with open(p, "rb") as f:
                        t.addfile(ti, f)
                else:
                    t.addfile(ti)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layer", action="append", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--entrypoint")
    ap.add_argument("--cmd")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--workdir")
    ap.add_argument("--user")
    ap.add_argument("--expose", action="append", default=[])
    ap.add_argument("--keep-owners", action="store_true")
    ap.add_argument("--tar", action="store_true", help="write OUT as a tar of the layout")
    a = ap.parse_args()

    tag = a.name.rsplit(":", 1)[1] if ":" in a.name.rsplit("/", 1)[-1] else "latest"
    layout = a.out + ".d" if a.tar else a.out
    os.makedirs(layout, exist_ok=True)
    layers, diff_ids = [], []
    for root in a.layer:
        raw = layer_tar(root, a.keep_owners)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        gz = gzip.compress(raw, mtime=0)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": blob(layout, gz), "size": len(gz)})
    cfg = {}
    if a.entrypoint:
        cfg["Entrypoint"] = json.loads(a.entrypoint)
    if a.cmd:
        cfg["Cmd"] = json.loads(a.cmd)
    if a.env:
        cfg["Env"] = a.env
    if a.workdir:
        cfg["WorkingDir"] = a.workdir
    if a.user:
        cfg["User"] = a.user
    if a.expose:
        cfg["ExposedPorts"] = {p: {} for p in a.expose}
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": cfg,
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}},
                        sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": blob(layout, config), "size": len(config)},
        "layers": layers}, sort_keys=True).encode()
    md = blob(layout, manifest)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": md, "size": len(manifest),
                            "platform": {"architecture": "amd64", "os": "linux"},
                            "annotations": {"io.containerd.image.name": a.name,
                                            "org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f, sort_keys=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    if a.tar:
        with tarfile.open(a.out, "w") as t:
            for name in sorted(os.listdir(layout)):
                t.add(os.path.join(layout, name), arcname=name)
        shutil.rmtree(layout)
    print(md)


if __name__ == "__main__":
    sys.exit(main())
