#!/bin/bash
# run.sh — run Skiff's test suites and print one summary line.
#
#   tests/run.sh all|unit|integration|e2e [FILTER]
#
# Check suites print their own "N%: Checks: …" line; shell scenarios
# (tests/integration/*.sh, tests/e2e/*.sh) count as one test each: exit 0
# passes, 77 skips, anything else fails. Each runs under a time bound. The
# last line is "check: N passed, N failed, N skipped".
set -u
BUILD=${BUILD:-build}
what=${1:-all}
filter=${2:-}
export BUILD SKIFF_BIN=${SKIFF_BIN:-$PWD/$BUILD/bin}
passed=0 failed=0 skipped=0
failures=()

run_check() { # binary, timeout
	local t=$1 out rc
	[ -n "$filter" ] && [[ $t != *"$filter"* ]] && return
	echo "== $t"
	out=$(timeout -k 10 "$2" "$t" 2>&1); rc=$?
	echo "$out" | grep -v '^Running suite' | tail -n 40
	local line
	line=$(echo "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
	if [ -n "$line" ]; then
		local n f e
		n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
		f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
		e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
		passed=$((passed + n - f - e)); failed=$((failed + f + e))
		if [ $((f + e)) -gt 0 ] || [ $rc -ne 0 ]; then
			failures+=("$t")
			[ $((f + e)) -eq 0 ] && failed=$((failed + 1))
		fi
	else
		failed=$((failed + 1)); failures+=("$t (rc=$rc, no summary)")
	fi
}

run_script() { # script, timeout
	local t=$1 rc
	[ -n "$filter" ] && [[ $t != *"$filter"* ]] && return
	echo "== $t"
	timeout -k 10 "$2" bash "$t"; rc=$?
	case $rc in
	0) passed=$((passed + 1)); echo "PASS $t" ;;
	77) skipped=$((skipped + 1)); echo "SKIP $t" ;;
	*) failed=$((failed + 1)); failures+=("$t (rc=$rc)"); echo "FAIL $t (rc=$rc)" ;;
	esac
}

run_fuzz() {
	local f
	for f in "$BUILD"/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		[ -n "$filter" ] && [[ $f != *"$filter"* ]] && continue
		echo "== $f (smoke, 10 s)"
		mkdir -p "$BUILD/fuzz/corpus-$(basename "$f")"
		if timeout -k 10 120 "$f" -max_total_time=10 -rss_limit_mb=1024 \
			"$BUILD/fuzz/corpus-$(basename "$f")" >"$BUILD/fuzz/$(basename "$f").log" 2>&1; then
			passed=$((passed + 1)); echo "PASS $f ($(grep -c . "$BUILD/fuzz/$(basename "$f").log") log lines)"
		else
			failed=$((failed + 1)); failures+=("$f"); tail -n 30 "$BUILD/fuzz/$(basename "$f").log"
		fi
	done
}

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "== $1: skipped (needs root)"
		skipped=$((skipped + 1))
		return 1
	fi
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in "$BUILD"/tests/unit/test_*; do
		[ -x "$t" ] && [[ $t != *.o ]] && [[ $t != *.d ]] && run_check "$t" 300
	done
	[ "$what" = all ] && run_fuzz
fi
if [ "$what" = all ] || [ "$what" = integration ]; then
	if need_root integration; then
		for t in "$BUILD"/tests/integration/test_*; do
			[ -x "$t" ] && [[ $t != *.o ]] && [[ $t != *.d ]] && run_check "$t" 600
		done
		for t in tests/integration/*.sh; do
			[ -e "$t" ] && run_script "$t" 600
		done
	fi
fi
if [ "$what" = all ] || [ "$what" = e2e ]; then
	if need_root e2e; then
		for t in tests/e2e/*.sh; do
			[ "${t##*/}" = lib.sh ] && continue # shared helpers, not a scenario
			# a VM scenario may build the guest image first (minutes, once)
			[ -e "$t" ] && run_script "$t" "$([[ ${t##*/} == vm_* ]] && echo 1800 || echo 900)"
		done
	fi
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failures[@]}"
fi
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ $((passed)) -gt 0 ]
