#!/bin/bash
# demo.sh — `make demo`: bring up a local lab cluster and deploy the examples.
# Until the lab exists, it runs what exists and says so.
set -euo pipefail
BUILD=${BUILD:-build}
echo "skiff demo: built binaries:"
ls -1 "$BUILD/bin" 2>/dev/null | sed 's/^/  /' || true
if [ -x "$BUILD/bin/skiff-lab" ] || [ -x scripts/skiff-lab ]; then
	exec scripts/skiff-lab demo
fi
echo "skiff demo: the local lab cluster (skiff-lab) is not built yet; nothing more to run."
