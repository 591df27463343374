#!/bin/sh
# tools/lint.sh - static analysis of vkdr's own C code: cppcheck, then
# clang-tidy with the checks of .clang-tidy.
#
# Usage: tools/lint.sh [FILE.c...]
#
# Without arguments it checks every .c file under core/, commands/,
# plugins/ and backends/ except the unit tests (test_*.c). It needs no
# configured build tree: the few macros config.h and the Makefiles
# provide are defined here. Exits 0 when neither tool reports anything,
# 1 when one does, 2 when a tool is missing.
#
# LINT_JOBS sets how many clang-tidy processes run at once (default: the
# number of processors). CPPCHECK and CLANG_TIDY name the programs.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

CPPCHECK=${CPPCHECK:-cppcheck}
CLANG_TIDY=${CLANG_TIDY:-clang-tidy}
LINT_JOBS=${LINT_JOBS:-$(nproc 2>/dev/null || echo 2)}

for tool in "$CPPCHECK" "$CLANG_TIDY"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "lint: $tool not found (apt-get install cppcheck" \
		     "clang-tidy)" >&2
		exit 2
	fi
done

if [ $# -gt 0 ]; then
	files="$*"
else
	files=$(find core commands plugins backends -name '*.c' \
		! -name 'test_*.c' | LC_ALL=C sort)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# What configure puts in config.h and the Makefiles pass with -D, as far
# as the code uses it.
cat >"$tmp/config.h" <<'EOH'
#define PACKAGE_VERSION "lint"
#define VERSION "lint"
EOH
# The backslashes are for the shell that runs each clang-tidy.
defines='-DVKDR_PKGLIBDIR=\"/lint/lib\" -DVKDR_BUILD_BINDIR=\"/lint/bin\"'
defines="$defines "'-DVKDR_BUILD_MODULEDIR=\"/lint/modules\"'
includes="-I$tmp -Icore/include -Icore -Icommands/serve -Iplugins/common"
includes="$includes -Ibackends/filesystem"

status=0

echo "lint: cppcheck"
# shellcheck disable=SC2086
if ! "$CPPCHECK" --enable=warning,style,performance,portability \
	--inline-suppr --error-exitcode=1 --quiet --std=c11 \
	--suppressions-list=.cppcheck-suppressions \
	--template='{file}:{line}: {severity}: {message} [{id}]' \
	$includes $files; then
	status=1
fi

echo "lint: clang-tidy ($LINT_JOBS at a time)"
# One clang-tidy per file; the daemon's files are compiled with
# _GNU_SOURCE by their Makefile, the others define it themselves.
for f in $files; do
	case $f in
	commands/serve/*) echo "$f -D_GNU_SOURCE" ;;
	*) echo "$f" ;;
	esac
done >"$tmp/list"
# shellcheck disable=SC2086
if ! xargs -P "$LINT_JOBS" -L 1 sh -c '
	f=$1; shift
	out=$('"$CLANG_TIDY"' --quiet "$f" -- -std=gnu11 '"$includes"' \
		'"$defines"' "$@" 2>&1) && ! printf "%s\n" "$out" |
		grep -q "warning:\|error:" && exit 0
	printf "%s\n" "$out" | grep -v "warnings* generated\.$" >&2
	exit 1
' lint <"$tmp/list"; then
	status=1
fi

if [ $status -eq 0 ]; then
	echo "lint: no findings"
else
	echo "lint: findings above" >&2
fi
exit $status
