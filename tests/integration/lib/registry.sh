#!/bin/bash
# registry.sh — the registries the registry tests pull from, all under DIR
# and on 127.0.0.1 (nothing else is contacted):
#
#   registry.sh start DIR   a test CA and a server certificate for 127.0.0.1;
#                           an OCI layout of a busybox rootfs (user "app",
#                           Entrypoint/Cmd set) built by scripts/oci-image.py;
#                           Debian's docker-registry (the CNCF distribution
#                           registry) serving TLS with a config written here
#                           and storage in DIR/storage, the image pushed to it
#                           as team/web:1.5 with skopeo; the stub registry
#                           (stubregistry.py) on plain HTTP. Writes
#                           DIR/registry.addr, DIR/stub.addr, DIR/digest.
#   registry.sh stop DIR    ends the processes start began (by their pids)
#
# Exit 77 from start: docker-registry, skopeo or python3 is missing.
set -u
cmd=$1 D=$2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)

stop() {
	local f
	for f in "$D"/registry.pid "$D"/stub.pid; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
		rm -f "$f"
	done
}

wait_port() { # host:port, seconds
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		(exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

if [ "$cmd" = stop ]; then
	stop
	exit 0
fi

for t in docker-registry skopeo python3 openssl; do
	command -v "$t" >/dev/null || { echo "registry.sh: $t not installed" >&2; exit 77; }
done
mkdir -p "$D" && cd "$D" || exit 1

# the test CA and the registry's certificate
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
	-out ca.crt -days 2 -subj /CN=skiff-registry-test-ca 2>/dev/null || exit 1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout reg.key -out reg.csr \
	-subj /CN=127.0.0.1 2>/dev/null || exit 1
printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf
openssl x509 -req -in reg.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out reg.crt -days 2 \
	-extfile ext.cnf 2>/dev/null || exit 1
mkdir -p certs.d && cp ca.crt certs.d/

# the image: busybox with a user of its own
. "$here/rootfs.sh"
make_rootfs "$D/rootfs" >/dev/null
echo "app:x:1000:1000::/:/bin/sh" >>"$D/rootfs/etc/passwd"
echo "app:x:1000:" >>"$D/rootfs/etc/group"
python3 "$top/scripts/oci-image.py" "$D/oci" --layer "$D/rootfs" --name team/web:1.5 \
	--entrypoint '["/bin/sh","-c"]' --cmd '["echo hello from the image"]' \
	--env GREETING=image --workdir /tmp --user app --expose 8080/tcp >digest || exit 1

# a port nobody uses: the kernel's choice, released just before
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >config.yml <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $D/storage
http:
  addr: 127.0.0.1:$port
  secret: skiff-registry-test
  tls:
    certificate: $D/reg.crt
    key: $D/reg.key
EOF
docker-registry serve config.yml >registry.log 2>&1 &
echo $! >registry.pid
if ! wait_port "127.0.0.1:$port" 20; then
	echo "registry.sh: docker-registry did not listen on 127.0.0.1:$port" >&2
	tail -5 registry.log >&2
	stop
	exit 1
fi
echo "127.0.0.1:$port" >registry.addr
if ! skopeo --insecure-policy copy -q --dest-cert-dir "$D/certs.d" "oci:$D/oci:1.5" \
	"docker://127.0.0.1:$port/team/web:1.5" >skopeo.log 2>&1; then
	echo "registry.sh: skopeo copy failed" >&2
	cat skopeo.log >&2
	stop
	exit 1
fi

python3 "$here/stubregistry.py" "$D/oci" "$D/stub.port" >stub.log 2>&1 &
echo $! >stub.pid
for ((i = 0; i < 100; i++)); do [ -s stub.port ] && break; sleep 0.1; done
[ -s stub.port ] || { echo "registry.sh: the stub registry did not start" >&2; stop; exit 1; }
echo "127.0.0.1:$(cat stub.port)" >stub.addr
exit 0
