#!/bin/sh
# test_status.sh - "vkdr mirror status" with the real vkdr binary and the
# real "vkdr mirror serve" daemon, in a temporary VKDR_HOME.
#
# Two mirrors on free loopback ports: docker.io, whose upstream is a
# loopback port nobody listens on, and ghcr.io, whose upstream is a
# python http.server (it answers /v2/ with 404, and any answer means
# reachable). With the daemon running, status must report the ports
# listening, the upstreams as they are, and the daemon's metrics; with the
# daemon stopped, it must say so and still exit 0.
#
# Skips (exit 77) while the daemon or "vkdr mirror add" is not built.

set -u
VKDR=${VKDR_BIN:-../../core/vkdr}
work=$(mktemp -d "${TMPDIR:-/tmp}/vkdr-status-XXXXXX") || exit 99
export VKDR_HOME="$work/home"
mkdir -p "$VKDR_HOME"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
daemon=
upstream=

cleanup() {
	for pid in $daemon $upstream; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
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

# Free ports: two mirrors', one left closed, one for the live upstream.
ports=$(/usr/bin/python3 -c 'import socket
s = [socket.socket() for i in range(4)]
for x in s:
    x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))') || exit 99
set -- $ports
port=$1 port2=$2 closed=$3 live=$4
"$VKDR" mirror add --host=docker.io --port="$port" \
	--upstream="http://127.0.0.1:$closed" >/dev/null 2>&1 &&
	"$VKDR" mirror add --host=ghcr.io --port="$port2" \
		--upstream="http://127.0.0.1:$live" >/dev/null 2>&1 ||
	{ echo "SKIP: vkdr mirror add does not work yet"; exit 77; }

# wait_http URL WHAT: poll URL until it answers, with a deadline.
wait_http() {
	i=0
	until curl -s --noproxy '*' -o /dev/null "$1"; do
		i=$((i + 1))
		[ $i -lt 300 ] || fail "$2 did not answer at $1"
		sleep 0.1
	done
}

/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$work" \
	"$live" >"$work/upstream.log" 2>&1 &
upstream=$!
wait_http "http://127.0.0.1:$live/" "the upstream"

# Stopped: reported, not an error, and the upstream is still asked.
"$VKDR" mirror status -o json >"$work/out" 2>&1 ||
	fail "status without a daemon exits non-zero"
grep -q '"running": false' "$work/out" || fail "daemon not reported stopped"
grep -q '"listening": false' "$work/out" || fail "port reported listening"
grep -q '"upstream_reachable": false' "$work/out" ||
	fail "closed upstream reported reachable"
grep -q '"upstream_reachable": true' "$work/out" ||
	fail "live upstream reported unreachable"
grep -q '"upstream_status": 404' "$work/out" || fail "live upstream status"
"$VKDR" mirror status >"$work/out" 2>&1 || fail "table output"
grep -q '^Daemon: not running' "$work/out" || fail "table: not running"
grep -q "^docker.io *$port *no .* no  " "$work/out" ||
	fail "table: docker.io row"
grep -q "^ghcr.io *$port2 *no .* yes (404)" "$work/out" ||
	fail "table: ghcr.io row"
# Colour only on a terminal (script(1) gives one), and never with NO_COLOR.
esc=$(printf '\033')
grep -q "$esc" "$work/out" && fail "colour codes written to a file"
if command -v script >/dev/null 2>&1; then
	script -qec "'$VKDR' mirror status" /dev/null >"$work/out" 2>&1 ||
		fail "status on a terminal"
	grep -q "$esc\[31mno" "$work/out" || fail "no colour on a terminal"
	NO_COLOR=1 script -qec "'$VKDR' mirror status" /dev/null \
		>"$work/out" 2>&1 || fail "status on a terminal"
	grep -q "$esc" "$work/out" && fail "colour despite NO_COLOR"
fi

# Running: wait (with a deadline) until the port answers.
"$VKDR" mirror serve --listen=127.0.0.1 >"$work/serve.log" 2>&1 &
daemon=$!
wait_http "http://127.0.0.1:$port/v2/" "the daemon"
wait_http "http://127.0.0.1:$port2/v2/" "the daemon"
"$VKDR" mirror status -o json >"$work/out" 2>&1 ||
	fail "status with a daemon exits non-zero"
grep -q '"running": true' "$work/out" || fail "daemon not reported running"
grep -q "\"metrics_port\": $port" "$work/out" || fail "metrics port"
grep -q '"listening": true' "$work/out" || fail "port not listening"
grep -q '"upstream_reachable": false' "$work/out" ||
	fail "closed upstream reported reachable"
grep -q '"bytes_served": ' "$work/out" || fail "no metrics read"
grep -q '"source": "metrics"' "$work/out" ||
	fail "cache size not taken from the daemon's /metrics"
# A proxy in the environment must not hide the daemon on loopback.
http_proxy="http://127.0.0.1:$closed" "$VKDR" mirror status >"$work/out" \
	2>&1 || fail "table output"
grep -q "^Daemon: running, metrics from port $port" "$work/out" ||
	fail "table: running (through http_proxy)"
grep -q "^docker.io *$port *yes " "$work/out" || fail "table: docker.io row"
grep -q "^ghcr.io *$port2 *yes .* yes (404)" "$work/out" ||
	fail "table: ghcr.io row"
echo "PASS: status with and without the daemon"
