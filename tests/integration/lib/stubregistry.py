#!/usr/bin/env python3
"""stubregistry.py — a small OCI distribution API server for the registry
tests, serving one OCI image layout on 127.0.0.1 over plain HTTP, with the
behaviours a real registry shows only now and then, picked by the
repository's first component:

  token/NAME     401 + WWW-Authenticate: Bearer until the token from /token
                 (given for scope repository:token/NAME:pull) is presented
  index/NAME     a tag answers with the layout's index.json (an OCI index)
  redirect/NAME  blobs answer 307 to /raw/<digest>
  fail/NAME      blobs answer 500 with an error body
  hang/NAME      blobs send their headers and a few bytes, then nothing
  plain/NAME     none of that

  stubregistry.py LAYOUT_DIR PORT_FILE   (writes the port it listens on)
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAYOUT = sys.argv[1]
TOKEN = "tok-" + str(os.getpid())
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"


def blob_path(digest):
    algo, _, hexd = digest.partition(":")
    if algo != "sha256" or len(hexd) != 64 or not all(c in "0123456789abcdef" for c in hexd):
        return None
    return os.path.join(LAYOUT, "blobs", "sha256", hexd)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body=b"", ctype="application/json", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, code, ecode, msg, extra=()):
        body = json.dumps({"errors": [{"code": ecode, "message": msg}]}).encode()
        self.send(code, body, extra=extra)

    def do_GET(self):
        port = self.server.server_address[1]
        path = self.path.split("?", 1)[0]
        if path == "/token":
            q = dict(kv.split("=", 1) for kv in self.path.split("?", 1)[1].split("&"))
            if q.get("scope", "").replace("%3A", ":").replace("%2F", "/") != \
                    "repository:token/web:pull":
                return self.error(403, "DENIED", "wrong scope")
            return self.send(200, json.dumps({"token": TOKEN}).encode())
        if path.startswith("/raw/"):
            return self.blob(path[5:], "plain")
        parts = path.split("/")
        # /v2/<mode>/<name>/(manifests|blobs)/<ref>
        if len(parts) != 6 or parts[1] != "v2":
            return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
        mode, kind, ref = parts[2], parts[4], parts[5]
        if mode == "token" and self.headers.get("Authorization") != "Bearer " + TOKEN:
            chal = ('Bearer realm="http://127.0.0.1:%d/token",service="stub",'
                    'scope="repository:token/%s:pull"' % (port, parts[3]))
            return self.error(401, "UNAUTHORIZED", "authentication required",
                              extra=[("WWW-Authenticate", chal)])
        if kind == "manifests":
            return self.manifest(mode, ref)
        if kind == "blobs":
            return self.blob(ref, mode)
        return self.error(404, "UNSUPPORTED", "unsupported")

    def manifest(self, mode, ref):
        with open(os.path.join(LAYOUT, "index.json"), "rb") as f:
            index = f.read()
        if ref.startswith("sha256:"):
            p = blob_path(ref)
            if not p or not os.path.exists(p):
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            with open(p, "rb") as f:
                return self.send(200, f.read(), MEDIA_MANIFEST)
        if ref != "1.5":
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        if mode == "index":
            return self.send(200, index, MEDIA_INDEX)
        d = json.loads(index)["manifests"][0]["digest"]
        with open(blob_path(d), "rb") as f:
            return self.send(200, f.read(), MEDIA_MANIFEST)

    def blob(self, digest, mode):
        p = blob_path(digest)
        if not p or not os.path.exists(p):
            return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        with open(p, "rb") as f:
            data = f.read()
        is_config = len(data) < 4096 and data[:1] == b"{"
        if mode == "redirect":
            return self.send(307, b"", extra=[("Location", "/raw/" + digest)])
        if mode == "fail" and not is_config:
            return self.error(500, "UNKNOWN", "storage backend unavailable")
        if mode == "hang" and not is_config:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:100])
            self.wfile.flush()
            time.sleep(120)
            return
        return self.send(200, data, "application/octet-stream")


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
threading.Thread(target=srv.serve_forever, daemon=True).start()
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    pass
