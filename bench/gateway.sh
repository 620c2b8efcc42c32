#!/bin/bash
# gateway.sh — requests/s and p99 latency of the gateway demo on 127.0.0.1:
# straight to one echo-svc backend, through Skiff's gateway (round-robin over
# 3 backends), and through nginx as a round-robin reverse proxy to the same 3
# backends (one worker process, like the gateway's one event loop; keep-alive
# to the backends, like the gateway). Load: wrk, 32 connections, 5 s each.
# Figures only; nothing is asserted.
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
mkdir -p "$DEMO_TMP/nginx"
cat >"$DEMO_TMP/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $DEMO_TMP/nginx/nginx.pid;
error_log $DEMO_TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $DEMO_TMP/nginx/body;
	proxy_temp_path $DEMO_TMP/nginx/proxy;
	fastcgi_temp_path $DEMO_TMP/nginx/fastcgi;
	uwsgi_temp_path $DEMO_TMP/nginx/uwsgi;
	scgi_temp_path $DEMO_TMP/nginx/scgi;
	upstream users {
		server 127.0.0.1:$P;
		server 127.0.0.1:$((P + 1));
		server 127.0.0.1:$((P + 2));
		keepalive 64;
	}
	server {
		listen 127.0.0.1:$((P + 11));
		location /users/ {
			proxy_pass http://users;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_next_upstream error timeout;
		}
	}
}
NGINX
demo_start nginx /usr/sbin/nginx -e "$DEMO_TMP/nginx/error.log" -c "$DEMO_TMP/nginx/nginx.conf" -p "$DEMO_TMP/nginx"
for p in $P $((P + 1)) $((P + 2)) $((P + 10)) $((P + 11)); do
	wait_http http://127.0.0.1:$p/users/warmup
done

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
run "skiff gateway -> 3 backends (RR)" http://127.0.0.1:$((P + 10))/users/1
run "nginx 1 worker -> 3 backends (RR)" http://127.0.0.1:$((P + 11))/users/1
echo "gateway status: $(curl -fs http://127.0.0.1:$((P + 10))/gateway/status | head -c 300)"
