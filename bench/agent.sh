#!/bin/bash
# agent.sh — skiff-agent figures: kill -9 of a container process -> its
# replacement running (median, p99 over many kills, each a pod's first crash),
# and the agent's RSS with 0 and with 100 pods. Runs the agent integration
# test binary in its benchmark mode (fake brain, private network namespace).
# Prints figures only; needs root.
set -u
BUILD=${BUILD:-build}
export SKIFF_BIN=${SKIFF_BIN:-$PWD/$BUILD/bin}
t=$BUILD/tests/integration/test_agent
if [ "$(id -u)" != 0 ]; then echo "agent: skipped (needs root)"; exit 0; fi
if [ ! -x "$t" ]; then echo "agent: skipped ($t not built; make $t)"; exit 0; fi
SKIFF_AGENT_BENCH=1 SKIFF_AGENT_BENCH_PODS=${PODS:-100} SKIFF_AGENT_BENCH_KILLS=${KILLS:-60} \
	timeout -k 10 600 "$t" 2>/dev/null | grep '^agent:'
