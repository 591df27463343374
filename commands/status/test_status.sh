#!/bin/sh
# test_status.sh - "vkdr mirror status" with the real vkdr binary and the
# real "vkdr mirror serve" daemon, in a temporary VKDR_HOME.
#
# One mirror on a free loopback port whose upstream is a loopback port
# nobody listens on. With the daemon running, status must report the
# port listening, the upstream unreachable, and the daemon's metrics;
# with the daemon stopped, it must say so and still exit 0.
#
# Skips (exit 77) while the daemon or "vkdr mirror add" is not built.

set -u
VKDR=${VKDR_BIN:-../../core/vkdr}
work=$(mktemp -d "${TMPDIR:-/tmp}/vkdr-status-XXXXXX") || exit 99
export VKDR_HOME="$work/home"
mkdir -p "$VKDR_HOME"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
daemon=

cleanup() {
	if [ -n "$daemon" ]; then
		kill -TERM "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	[ -f "$work/out" ] && cat "$work/out"
	[ -f "$work/serve.log" ] && tail -n 20 "$work/serve.log"
	exit 1
}

"$VKDR" mirror serve --help >/dev/null 2>&1 ||
	{ echo "SKIP: vkdr mirror serve is not built"; exit 77; }
"$VKDR" mirror status --help >/dev/null 2>&1 ||
	{ echo "SKIP: vkdr mirror status is not built"; exit 77; }

# Two free ports: the mirror's, and one left closed for the upstream.
ports=$(/usr/bin/python3 -c 'import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0))
b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])') || exit 99
port=${ports% *}
closed=${ports#* }
"$VKDR" mirror add --host=docker.io --port="$port" \
	--upstream="http://127.0.0.1:$closed" >/dev/null 2>&1 ||
	{ echo "SKIP: vkdr mirror add does not work yet"; exit 77; }

# Stopped: reported, not an error, and the upstream is still asked.
"$VKDR" mirror status -o json >"$work/out" 2>&1 ||
	fail "status without a daemon exits non-zero"
grep -q '"running": false' "$work/out" || fail "daemon not reported stopped"
grep -q '"listening": false' "$work/out" || fail "port reported listening"
grep -q '"upstream_reachable": false' "$work/out" ||
	fail "closed upstream reported reachable"
NO_COLOR= "$VKDR" mirror status >"$work/out" 2>&1 || fail "table output"
grep -q '^Daemon: not running' "$work/out" || fail "table: not running"
grep -q "^docker.io *$port *no " "$work/out" || fail "table: mirror row"

# Running: wait (with a deadline) until the port answers.
"$VKDR" mirror serve --listen=127.0.0.1 >"$work/serve.log" 2>&1 &
daemon=$!
i=0
until curl -s --noproxy '*' -o /dev/null "http://127.0.0.1:$port/v2/"; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "daemon did not answer on port $port"
	kill -0 "$daemon" 2>/dev/null || fail "daemon exited"
	sleep 0.1
done
"$VKDR" mirror status -o json >"$work/out" 2>&1 ||
	fail "status with a daemon exits non-zero"
grep -q '"running": true' "$work/out" || fail "daemon not reported running"
grep -q "\"metrics_port\": $port" "$work/out" || fail "metrics port"
grep -q '"listening": true' "$work/out" || fail "port not listening"
grep -q '"upstream_reachable": false' "$work/out" ||
	fail "closed upstream reported reachable"
grep -q '"bytes_served": ' "$work/out" || fail "no metrics read"
grep -q '"source": "store"' "$work/out" || fail "cache size not read"
# A proxy in the environment must not hide the daemon on loopback.
http_proxy="http://127.0.0.1:$closed" "$VKDR" mirror status >"$work/out" \
	2>&1 || fail "table output"
grep -q "^Daemon: running, metrics from port $port" "$work/out" ||
	fail "table: running (through http_proxy)"
grep -q "^docker.io *$port *yes " "$work/out" || fail "table: mirror row"
echo "PASS: status with and without the daemon"
