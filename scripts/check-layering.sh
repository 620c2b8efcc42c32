#!/bin/bash
# check-layering.sh — the one-way include rule (docs/architecture.md,
# "Layering"), run by `make check`:
#
#   lib/                                  lib/ and the generated skiff.pb-c.h
#   runtime/ agent/ orchestrator/ ctl/    their own folder, lib/, skiff.pb-c.h
#   hollow/
#   examples/                             its own folder, examples/common/, lib/
#   tests/ fuzz/ bench/                   anything (they test the binaries' insides)
#
# A quoted #include is resolved as the compiler does (the including file's
# folder, then -Ilib and the folder's extra -I); one that resolves into a
# folder the rule forbids, or that climbs with "../" outside tests/ and
# fuzz/, is reported as FILE:LINE: #include "X": why. Exit 1 when any is.
#
#   scripts/check-layering.sh [ROOT]     check the tree at ROOT (default: .)
#   scripts/check-layering.sh --self-test
set -u

check() { # root
	local root=$1 bad=0 f line inc dir folder target owner d
	cd "$root" || return 2
	while IFS=: read -r f line inc; do
		folder=${f%%/*}
		dir=${f%/*}
		inc=${inc#*\"}
		inc=${inc%%\"*}
		[ "$inc" = skiff.pb-c.h ] && continue # generated into build/gen
		if [[ $inc == *../* ]]; then
			echo "$f:$line: #include \"$inc\": $folder/ may not reach outside itself with ../ (what two binaries share moves to lib/)"
			bad=1
			continue
		fi
		target=
		for d in "$dir" lib examples/common; do
			[ "$d" = examples/common ] && [ "$folder" != examples ] && continue
			if [ -f "$d/$inc" ]; then
				target=$d/$inc
				break
			fi
		done
		if [ -z "$target" ]; then
			# not in the include path: a header of another folder
			# (found by a -I the rule does not allow) or a generated one
			owner=$(find runtime agent orchestrator ctl hollow examples tests -name "$(basename "$inc")" -path "*$inc" -print -quit 2>/dev/null)
			[ -z "$owner" ] && continue
			echo "$f:$line: #include \"$inc\": $folder/ may include only its own headers and lib/'s, and this is $owner"
			bad=1
			continue
		fi
		owner=${target%%/*}
		if [ "$folder" = lib ] && [ "$owner" != lib ]; then
			echo "$f:$line: #include \"$inc\": lib/ may include only lib/, and this is $target"
			bad=1
		fi
	done < <(find lib runtime agent orchestrator ctl hollow examples -name '*.[ch]' -print0 2>/dev/null |
		sort -z | xargs -0 -r grep -n -H -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"')
	return $bad
}

self_test() {
	local t rc out
	t=$(mktemp -d)
	trap 'rm -rf "$t"' RETURN
	mkdir -p "$t"/lib "$t"/agent "$t"/orchestrator "$t"/ctl "$t"/runtime "$t"/tests/unit
	printf '#include "util.h"\n' >"$t/lib/util.c"
	: >"$t/lib/util.h"
	: >"$t/agent/agent.h"
	: >"$t/orchestrator/brain.h"
	printf '#include "agent.h"\n#include "util.h"\n' >"$t/agent/main.c"
	printf '#include "../../agent/agent.h"\n' >"$t/tests/unit/test_a.c"
	out=$(check "$t")
	rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ] || {
		echo "check-layering self-test: a clean tree was refused: $out"
		return 1
	}
	printf '#include <stdio.h>\n\n#include "util.h"\n#include "../agent/agent.h"\n' >"$t/lib/bad.c"
	printf '#include "brain.h"\n' >"$t/ctl/cmd.c"
	out=$(check "$t")
	rc=$?
	[ $rc -eq 1 ] &&
		grep -q '^lib/bad.c:4: #include "../agent/agent.h": lib/ may not reach outside itself with ../' <<<"$out" &&
		grep -q '^ctl/cmd.c:1: #include "brain.h": ctl/ may include only its own headers and lib/.s, and this is orchestrator/brain.h$' <<<"$out" || {
		echo "check-layering self-test: forbidden includes were not named (rc=$rc): $out"
		return 1
	}
	return 0
}

if [ "${1:-}" = --self-test ]; then
	self_test || exit 1
	echo "check-layering: self-test ok"
	exit 0
fi
out=$(check "${1:-.}")
rc=$?
if [ $rc -ne 0 ]; then
	echo "$out"
	echo "check-layering: FAILED (docs/architecture.md, Layering)"
	exit 1
fi
echo "check-layering: ok"
