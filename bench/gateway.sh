#!/bin/bash
# gateway.sh — requests/s and p99 latency of the gateway demo on 127.0.0.1:
# straight to one echo-svc backend, through Skiff's gateway (round-robin over
# 3 backends), and through nginx as a round-robin reverse proxy to the same 3
# backends, like with like: 1 gateway worker vs nginx worker_processes 1, then
# 2 gateway workers (--workers 2, SO_REUSEPORT) vs nginx worker_processes 2
# (listen ... reuseport). Both keep up to 64 idle keep-alive connections to the
# backends (gateway --conns 64 per backend, nginx `keepalive 64` per worker;
# with 32 client connections neither cap is reached), both speak HTTP/1.1 to
# them, neither logs requests. Load: wrk -t1 -c32 pinned to the last CPU;
# proxies and backends are not pinned (the same for both: pinning a 1-worker
# proxy to CPU 0 left the backends and wrk on CPU 1 as the limit, and both
# proxies measured the same ~8,700/s). Every row runs BENCH_ROUNDS times (3),
# interleaved, BENCH_SECONDS each (4), and the medians are printed (the
# machine is shared: single runs vary by ±25 %). Figures only; nothing is
# asserted. BENCH_GATEWAY_BASELINE=/path/to/an/older/gateway adds a row for
# that binary (1 worker), to measure a change before/after.
cd "$(dirname "$0")/.." || exit 1
. examples/common/testlib.sh
[ -x "$DEMO_BIN/gateway" ] || { echo "bench/gateway: build first (make all)"; exit 0; }
scripts/deps.sh nginx wrk >/dev/null || { echo "bench/gateway: cannot install nginx and wrk"; exit 0; }
P=${BENCH_PORT_BASE:-22100}
DUR=${BENCH_SECONDS:-4}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-32}
NCPU=$(nproc)
LAST=$((NCPU - 1))
EP=$DEMO_TMP/endpoints
mkdir -p "$EP"

for i in 0 1 2; do
	SKIFF_POD_NAME=users-$i demo_start users-$i "$DEMO_BIN/echo-svc" --listen 127.0.0.1:$((P + i)) --service users
done
write_endpoints "$EP/users" 127.0.0.1:$P 127.0.0.1:$((P + 1)) 127.0.0.1:$((P + 2))
SKIFF_ENDPOINTS_DIR=$EP demo_start gateway "$DEMO_BIN/gateway" --listen 127.0.0.1:$((P + 10)) --route /users/=users --conns 64
SKIFF_ENDPOINTS_DIR=$EP demo_start gateway2 "$DEMO_BIN/gateway" --listen 127.0.0.1:$((P + 12)) --route /users/=users --conns 64 --workers 2
BASE=${BENCH_GATEWAY_BASELINE:-}
[ -n "$BASE" ] && SKIFF_ENDPOINTS_DIR=$EP demo_start baseline "$BASE" --listen 127.0.0.1:$((P + 14)) --route /users/=users
# nginx_start WORKERS PORT: a round-robin reverse proxy to the 3 backends
nginx_start() {
	local d=$DEMO_TMP/nginx$1 reuse=
	mkdir -p "$d"
	[ "$1" -gt 1 ] && reuse=" reuseport"
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
		listen 127.0.0.1:$2$reuse;
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

declare -A RPS P99 CPU
LABELS=()
# cpu_ticks PID — utime + stime (clock ticks) of PID and its children (workers)
cpu_ticks() {
	local p t=0
	for p in $1 $(pgrep -P "$1"); do
		[ -r /proc/$p/stat ] && t=$((t + $(awk '{ print $14 + $15 }' /proc/$p/stat)))
	done
	echo $t
}
run() { # LABEL URL [PID of the proxy]
	local out rps p99 errs n t0 t1 us=-
	[ -n "${3:-}" ] && t0=$(cpu_ticks "$3")
	out=$(taskset -c $LAST wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$2" 2>&1)
	if [ -n "${3:-}" ]; then
		t1=$(cpu_ticks "$3")
		n=$(echo "$out" | awk '/requests in/ { print $1 }')
		[ "${n:-0}" -gt 0 ] && us=$(((t1 - t0) * 1000000 / $(getconf CLK_TCK) / n))
	fi
	CPU[$1]+="$us "
	rps=$(echo "$out" | awk '/^Requests\/sec/ { printf "%d", $2 }')
	p99=$(echo "$out" | awk '$1 == "99%" { print $2 }')
	errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ { $1 = $1; print }' | tr '\n' ' ')
	[[ " ${LABELS[*]} " == *" $1 "* ]] || LABELS+=("$1")
	RPS[$1]+="${rps:-0} "
	P99[$1]+="${p99:-?} "
	printf '  %-10s %10s req/s  p99 %8s  proxy CPU %4s us/request  %s\n' "$1" "${rps:-?}" "${p99:-?}" "$us" "$errs"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "bench/gateway: wrk -t1 -c$CONNS -d${DUR}s pinned to CPU $LAST, $ROUNDS interleaved rounds, $NCPU shared cores"
echo "  direct = straight to one echo-svc backend; gw1/nginx1 = 1 worker each;"
echo "  gw2/nginx2 = 2 workers each (SO_REUSEPORT); all proxies round-robin over the same"
echo "  3 backends with HTTP/1.1 keep-alive (gateway --conns 64, nginx keepalive 64)"
for ((r = 1; r <= ROUNDS; r++)); do
	echo "round $r"
	run direct http://127.0.0.1:$P/users/1
	[ -n "$BASE" ] && run baseline http://127.0.0.1:$((P + 14))/users/1 "${DEMO_PIDS[baseline]}"
	run gw1 http://127.0.0.1:$((P + 10))/users/1 "${DEMO_PIDS[gateway]}"
	run nginx1 http://127.0.0.1:$((P + 11))/users/1 "${DEMO_PIDS[nginx1]}"
	run gw2 http://127.0.0.1:$((P + 12))/users/1 "${DEMO_PIDS[gateway2]}"
	run nginx2 http://127.0.0.1:$((P + 13))/users/1 "${DEMO_PIDS[nginx2]}"
done
echo "medians of $ROUNDS rounds:"
printf '%-10s %12s %10s %18s\n' path requests/s p99 "proxy CPU us/req"
for l in "${LABELS[@]}"; do
	printf '%-10s %12s %10s %18s\n' "$l" "$(echo "${RPS[$l]}" | median)" \
		"$(echo "${P99[$l]}" | sed 's/ms//g; s/us/e-3/g' | tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] "ms" }')" \
		"$(echo "${CPU[$l]}" | tr -d '-' | median)"
done
g1=$(echo "${RPS[gw1]}" | median) n1=$(echo "${RPS[nginx1]}" | median)
g2=$(echo "${RPS[gw2]}" | median) n2=$(echo "${RPS[nginx2]}" | median)
echo "gateway/nginx (medians): 1 worker $((100 * g1 / (n1 > 0 ? n1 : 1)))%, 2 workers $((100 * g2 / (n2 > 0 ? n2 : 1)))%"
echo "gateway (2 workers) status: $(curl -fs http://127.0.0.1:$((P + 12))/gateway/status | head -c 300)"
