#!/bin/sh
# test_infra.sh - "vkdr infra up|stop" with the real vkdr binary and the
# real "vkdr mirror serve" daemon, in a temporary VKDR_HOME.
#
# No k3d runs here: a stand-in script named k3d is put first on PATH. It
# records its arguments, and the test asserts the recorded call (for up:
# "cluster create vkdr-local --registry-config <path>"), not a cluster.
#
# Skips (exit 77) while the daemon or "vkdr mirror add" is not built yet.

set -u
VKDR=${VKDR_BIN:-../../core/vkdr}
work=$(mktemp -d "${TMPDIR:-/tmp}/vkdr-infra-XXXXXX") || exit 99
export VKDR_HOME="$work/home"
mkdir -p "$VKDR_HOME" "$work/bin"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY

cleanup() {
	PATH=/nonexistent "$VKDR" infra stop >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	[ -f "$VKDR_HOME/logs/mirror.log" ] && tail -n 20 "$VKDR_HOME/logs/mirror.log"
	exit 1
}

"$VKDR" mirror serve --help >/dev/null 2>&1 ||
	{ echo "SKIP: vkdr mirror serve is not built"; exit 77; }

port=$(/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])') || exit 99
"$VKDR" mirror add --host=docker.io --port="$port" >/dev/null 2>&1 ||
	{ echo "SKIP: vkdr mirror add does not work yet"; exit 77; }

cat >"$work/bin/k3d" <<'SCRIPT'
#!/bin/sh
echo "$*" >> "$K3D_RECORD"
exit 0
SCRIPT
chmod +x "$work/bin/k3d"
export K3D_RECORD="$work/k3d.calls"

# up: the daemon starts, the mirror is ready, k3d gets the registry file.
PATH="$work/bin:/usr/bin:/bin" "$VKDR" infra up --listen=127.0.0.1 \
	>"$work/up.out" 2>&1 || { cat "$work/up.out"; fail "infra up"; }
grep -q "docker.io .*ready" "$work/up.out" ||
	{ cat "$work/up.out"; fail "docker.io not reported ready"; }
grep -q "not ready" "$work/up.out" && fail "a mirror is not ready"
pid=$(cat "$VKDR_HOME/run/mirror.pid") || fail "no pid file"
kill -0 "$pid" || fail "daemon $pid is not running"
curl -sf --noproxy '*' "http://127.0.0.1:$port/v2/" >/dev/null ||
	fail "GET /v2/ on port $port"
registry_config="$VKDR_HOME/scripts/.util/configs/mirror-registry.yaml"
expected="cluster create vkdr-local --registry-config $registry_config"
[ "$(cat "$K3D_RECORD")" = "$expected" ] ||
	fail "k3d was called as '$(cat "$K3D_RECORD")'"

# up twice: one daemon.
PATH="$work/bin:/usr/bin:/bin" "$VKDR" infra up --listen=127.0.0.1 \
	>"$work/up2.out" 2>&1 || fail "second infra up"
grep -q "already runs" "$work/up2.out" || fail "second up started again"
[ "$(cat "$VKDR_HOME/run/mirror.pid")" = "$pid" ] || fail "pid changed"

# stop: the cluster, then the daemon; the pid file goes.
PATH="$work/bin:/usr/bin:/bin" "$VKDR" infra stop >"$work/stop.out" 2>&1 ||
	fail "infra stop"
[ -e "$VKDR_HOME/run/mirror.pid" ] && fail "pid file left behind"
tail -n 1 "$K3D_RECORD" | grep -qx "cluster stop vkdr-local" ||
	fail "k3d stop not called"
state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)
[ -z "$state" ] || [ "$state" = Z ] || fail "daemon $pid still runs"

# No k3d on PATH: the mirrors start anyway, exit 0.
PATH=/nonexistent "$VKDR" infra up --listen=127.0.0.1 >"$work/nok3d.out" 2>&1 ||
	fail "infra up without k3d"
grep -q "k3d is not on PATH" "$work/nok3d.out" || fail "no k3d message"
PATH=/nonexistent "$VKDR" infra stop >/dev/null 2>&1 || fail "stop"
PATH=/nonexistent "$VKDR" infra stop >"$work/stop2.out" 2>&1 ||
	fail "stop when stopped"
grep -q "not running" "$work/stop2.out" || fail "not-running message"

echo "PASS"
exit 0
