#!/bin/sh
# test_unit.sh - the systemd user unit is one systemd accepts.
#
# The unit built for installation names the installed binary, which need
# not exist yet; a copy naming the build tree's binary is checked with
# "systemd-analyze verify --user" instead. Any message fails the test:
# systemd only warns about unknown keys. Skips (exit 77) without
# systemd-analyze.

set -u
VKDR=${VKDR_BIN:-../core/vkdr}
unit=vkdr-mirror.service

[ -f "$unit" ] || { echo "FAIL: $unit was not built"; exit 1; }
grep -q '@[a-z]*@' "$unit" && { echo "FAIL: $unit: unsubstituted"; exit 1; }
grep -q '^ExecStart=/.*/vkdr mirror serve$' "$unit" ||
	{ echo "FAIL: $unit: ExecStart"; exit 1; }
grep -q '^ExecReload=kill -HUP \$MAINPID$' "$unit" ||
	{ echo "FAIL: $unit: ExecReload"; exit 1; }
grep -q '^Restart=on-failure$' "$unit" ||
	{ echo "FAIL: $unit: Restart"; exit 1; }
command -v systemd-analyze >/dev/null 2>&1 ||
	{ echo "SKIP: systemd-analyze is not installed"; exit 77; }
[ -x "$VKDR" ] || { echo "SKIP: $VKDR is not built"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vkdr-unit-XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
vkdr_abs=$(cd "$(dirname "$VKDR")" && pwd)/$(basename "$VKDR")
sed "s|^ExecStart=.*/vkdr |ExecStart=$vkdr_abs |" "$unit" >"$work/$unit"
mkdir -m 700 "$work/run"
out=$(XDG_RUNTIME_DIR="$work/run" systemd-analyze verify --user --man=no \
	"$work/$unit" 2>&1)
rc=$?
if [ $rc != 0 ] || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify: status $rc"
	echo "$out"
	exit 1
fi
echo "PASS: $unit verifies"
