#!/bin/sh
# cli.sh - the vkdr command line as a user meets it: exit codes, messages,
# output formats and twenty concurrent adds. Run by "make check" with
# $VKDR pointing at the build tree's binary.
set -u

: "${VKDR:=../../core/vkdr}"
VKDR_HOME=$(mktemp -d "${TMPDIR:-/tmp}/vkdr-cli-XXXXXX")
export VKDR_HOME
trap 'rm -rf "$VKDR_HOME"' EXIT
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# expect STATUS PATTERN COMMAND...: run vkdr, check the exit status and
# that stdout+stderr match the grep -E PATTERN (empty: no check).
expect() {
	want=$1 pattern=$2
	shift 2
	out=$("$VKDR" "$@" 2>&1)
	got=$?
	[ "$got" -eq "$want" ] ||
		fail "vkdr $*: exit $got, wanted $want; output: $out"
	if [ -n "$pattern" ] && ! printf '%s\n' "$out" | grep -Eq -e "$pattern"
	then
		fail "vkdr $*: output lacks /$pattern/: $out"
	fi
}

expect 0 'vkdr [0-9.]+ \(module ABI [0-9]+\)' --version
expect 0 'Usage: vkdr' --help
expect 2 'Usage: vkdr' 
expect 2 'unknown option' --frobnicate
expect 2 'unknown group' nosuchgroup
expect 0 'list' mirror --help
expect 0 'Usage: vkdr mirror add --host=HOST' mirror add --help

expect 0 'No mirror is configured' mirror list
expect 0 '^\[\]$' mirror list -o json
expect 0 '^\[\]$' mirror list -o yaml
expect 2 'unknown output format' mirror list -o xml
expect 2 'unknown option' mirror list --bogus

expect 0 \
	'Added a mirror for registry.example.com at http://host.k3d.internal:6000' \
	mirror add --host=registry.example.com
expect 0 'restart|Restart' mirror add --host other.example.com
expect 0 'already mirrored at http://host.k3d.internal:6000' \
	mirror add --host=registry.example.com
expect 0 'http://host.k3d.internal:6050' \
	mirror add --host=third.example.com --port=6050 \
	--upstream=http://127.0.0.1:5000
expect 1 'port 6050 is taken' mirror add --host=fourth.example.com --port 6050
expect 2 'use .ghcr.io.' mirror add --host=https://ghcr.io/
expect 2 'which registry' mirror add
expect 2 'needs a value' mirror add --host
expect 2 '--port must be a number' mirror add --host=x.example.com --port=abc
expect 2 '--upstream must be a URL' \
	mirror add --host=x.example.com --upstream=nope

expect 0 'HOST +ENDPOINT +UPSTREAM +PLUGIN' mirror list
expect 0 \
	'third.example.com +http://host.k3d.internal:6050 +http://127.0.0.1:5000' \
	mirror list
json=$("$VKDR" mirror list -o json) || fail "list -o json failed"
printf '%s' "$json" | /usr/bin/python3 -c '
import json, sys
rows = json.load(sys.stdin)
assert [r["host"] for r in rows] == ["registry.example.com",
    "other.example.com", "third.example.com"], rows
assert [r["port"] for r in rows] == [6000, 6001, 6050], rows
assert rows[2]["upstream"] == "http://127.0.0.1:5000", rows
assert set(rows[0]) == {"host", "endpoint", "port", "upstream", "plugin"}
' || fail "list -o json: unexpected objects: $json"
expect 0 '^- host: registry.example.com' mirror list -o yaml

expect 0 'Removed the mirror for other.example.com' \
	mirror remove --host=other.example.com
expect 1 'no mirror for other.example.com is configured' \
	mirror remove --host=other.example.com
expect 2 'which registry' mirror remove

expect 0 'pod -> containerd' mirror explain
expect 0 'third.example.com -> http://host.k3d.internal:6050' mirror explain
wide=$("$VKDR" mirror explain | awk 'length($0) > 80')
[ -z "$wide" ] || fail "explain has lines over 80 columns: $wide"
expect 0 'command +mirror ' mirror plugins

# A malformed file is reported with its line and column, and kept.
reg="$VKDR_HOME/scripts/.util/configs/mirror-registry.yaml"
cp "$reg" "$reg.good"
printf 'mirrors:\n  a: [1, 2\n' > "$reg"
expect 1 'mirror-registry.yaml:3:1: ' mirror list
expect 1 'mirror-registry.yaml:3:1: ' mirror add --host=new.example.com
printf 'mirrors:\n  a: [1, 2\n' | cmp -s - "$reg" ||
	fail "a malformed file was rewritten"
mv "$reg.good" "$reg"

# Twenty processes at once: twenty entries, twenty distinct ports.
rm -rf "$VKDR_HOME/scripts"
i=0
while [ $i -lt 20 ]; do
	"$VKDR" mirror add --host=c$i.example.com >/dev/null 2>&1 &
	i=$((i + 1))
done
wait
ports=$("$VKDR" mirror list -o json | /usr/bin/python3 -c '
import json, sys
print(" ".join(str(r["port"]) for r in json.load(sys.stdin)))')
n=$(echo $ports | wc -w)
distinct=$(echo $ports | tr ' ' '\n' | sort -u | wc -l)
[ "$n" -eq 20 ] && [ "$distinct" -eq 20 ] ||
	fail "20 concurrent adds gave $n entries, $distinct ports: $ports"

[ $failures -eq 0 ] || exit 1
echo "cli.sh: all checks passed"
