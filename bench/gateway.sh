#!/bin/bash
# gateway.sh — requests/s and p99 latency of the gateway demo on 127.0.0.1:
# straight to one echo-svc backend, through Skiff's gateway (round-robin over
# 3 backends), and through nginx as a round-robin reverse proxy to the same 3
# backends, like with like: 1 gateway worker vs nginx worker_processes 1, then
# 2 gateway workers (--workers 2, SO_REUSEPORT) vs nginx worker_processes 2
# (Debian's default "auto" on this 2-core machine); keep-alive to the backends
# in both. Load: wrk, 32 connections, 5 s each (BENCH_SECONDS). Figures only;
# nothing is asserted. BENCH_GATEWAY_BASELINE=/path/to/an/older/gateway adds
# a row for that binary (1 worker), to measure a change before/after.
cd "$(dirname "$0")/.." || exit 1
. examples/common/testlib.sh
[ -x "$DEMO_BIN/gateway" ] || { echo "bench/gateway: build first (make all)"; exit 0; }
scripts/deps.sh nginx wrk >/dev/null || { echo "bench/gateway: cannot install nginx and wrk"; exit 0; }
P=${BENCH_PORT_BASE:-22100}
DUR=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-32}
EP=$DEMO_TMP/endpoints
mkdir -p "$EP"

for i in 0 1 2; do
	SKIFF_POD_NAME=users-$i demo_start users-$i "$DEMO_BIN/echo-svc" --listen 127.0.0.1:$((P + i)) --service users
done
write_endpoints "$EP/users" 127.0.0.1:$P 127.0.0.1:$((P + 1)) 127.0.0.1:$((P + 2))
SKIFF_ENDPOINTS_DIR=$EP demo_start gateway "$DEMO_BIN/gateway" --listen 127.0.0.1:$((P + 10)) --route /users/=users
SKIFF_ENDPOINTS_DIR=$EP demo_start gateway2 "$DEMO_BIN/gateway" --listen 127.0.0.1:$((P + 12)) --route /users/=users --workers 2
BASE=${BENCH_GATEWAY_BASELINE:-}
[ -n "$BASE" ] && SKIFF_ENDPOINTS_DIR=$EP demo_start baseline "$BASE" --listen 127.0.0.1:$((P + 14)) --route /users/=users
# nginx_start WORKERS PORT: a round-robin reverse proxy to the 3 backends
nginx_start() {
	local d=$DEMO_TMP/nginx$1
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<NGINX
worker_processes $1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	upstream users {
		server 127.0.0.1:$P;
		server 127.0.0.1:$((P + 1));
		server 127.0.0.1:$((P + 2));
		keepalive 64;
	}
	server {
		listen 127.0.0.1:$2;
		location /users/ {
			proxy_pass http://users;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_next_upstream error timeout;
		}
	}
}
NGINX
	demo_start nginx$1 /usr/sbin/nginx -e "$d/error.log" -c "$d/nginx.conf" -p "$d"
}
nginx_start 1 $((P + 11))
nginx_start 2 $((P + 13))
for p in $P $((P + 1)) $((P + 2)) $((P + 10)) $((P + 11)) $((P + 12)) $((P + 13)); do
	wait_http http://127.0.0.1:$p/users/warmup
done
[ -n "$BASE" ] && wait_http http://127.0.0.1:$((P + 14))/users/warmup

run() { # LABEL URL
	local out rps p99
	out=$(wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$2" 2>&1)
	rps=$(echo "$out" | awk '/^Requests\/sec/ { print $2 }')
	p99=$(echo "$out" | awk '$1 == "99%" { print $2 }')
	p50=$(echo "$out" | awk '$1 == "50%" { print $2 }')
	errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ { $1 = $1; print }' | tr '\n' ' ')
	printf '%-36s %12s %10s %10s  %s\n' "$1" "${rps:-?}" "${p50:-?}" "${p99:-?}" "$errs"
}

echo "bench/gateway: wrk -t1 -c$CONNS -d${DUR}s, 2 shared cores (wrk, proxy and backends compete)"
printf '%-36s %12s %10s %10s\n' "path" "requests/s" "p50" "p99"
run "direct to one echo-svc backend" http://127.0.0.1:$P/users/1
[ -n "$BASE" ] && run "baseline gateway 1 worker -> 3 (RR)" http://127.0.0.1:$((P + 14))/users/1
run "skiff gateway 1 worker -> 3 (RR)" http://127.0.0.1:$((P + 10))/users/1
run "nginx 1 worker -> 3 (RR)" http://127.0.0.1:$((P + 11))/users/1
run "skiff gateway 2 workers -> 3 (RR)" http://127.0.0.1:$((P + 12))/users/1
run "nginx 2 workers -> 3 (RR)" http://127.0.0.1:$((P + 13))/users/1
echo "gateway (2 workers) status: $(curl -fs http://127.0.0.1:$((P + 12))/gateway/status | head -c 300)"
