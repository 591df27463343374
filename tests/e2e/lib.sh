# lib.sh - fixtures for the end-to-end tests, sourced by every test.
#
# A test gets a fresh temporary directory ($E2E_TMP) and real processes on
# loopback ports: an upstream registry (docker-registry), the mirror under
# test (vkdr mirror serve), containerd, or the python stand-in upstream for
# failures a real registry cannot be asked for. Everything a test starts is
# stopped, and the directory removed, when the test exits for any reason.
#
# Exit status follows automake: 0 pass, 1 fail, 77 skip (a tool is
# missing). Waits are polls with a deadline; a deadline that passes fails
# the test, it never makes it pass.

set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$E2E_DIR/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
VKDR=${VKDR:-$top_builddir/vkdr}
PYTHON=${PYTHON:-/usr/bin/python3}
E2E_NAME=$(basename "$0" .sh)

# Generous deadlines: a loaded CI machine must never turn them into
# failures, while a hang still ends the test.
E2E_START_DEADLINE=${E2E_START_DEADLINE:-30}
E2E_PULL_DEADLINE=${E2E_PULL_DEADLINE:-120}

# shellcheck source=../lib/procs.sh
. "$E2E_DIR/../lib/procs.sh"

E2E_PIDS=()
E2E_LOGS=()
E2E_SANITIZER_REPORT='ERROR: (Address|Leak)Sanitizer|runtime error:'

note()
{
	echo "$E2E_NAME: $*"
}

fail()
{
	echo "FAIL: $E2E_NAME: $*" >&2
	exit 1
}

skip()
{
	echo "SKIP: $E2E_NAME: $*" >&2
	exit 77
}

# need_tools TOOL... - skip the test unless every TOOL is on the PATH.
need_tools()
{
	local t

	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || skip "$t is not installed"
	done
}

need_root()
{
	[ "$(id -u)" = 0 ] || skip "needs root (containerd)"
}

# need_vkdr - the mirror under test must have been built.
need_vkdr()
{
	[ -x "$VKDR" ] || fail "$VKDR not found: build the tree first (make)"
}

# ------------------------------------------------------------------------
# Processes (pid_exited, stop_pid, free_port and http_ok come from
# tests/lib/procs.sh)

# spawn VAR LOG CMD... - run CMD in the background in a process group of
# its own, stdout and stderr to LOG; store its pid in VAR.
spawn()
{
	local var=$1 log=$2 pid

	shift 2
	setsid "$@" >"$log" 2>&1 </dev/null &
	pid=$!
	E2E_PIDS+=("$pid")
	E2E_LOGS+=("$log")
	printf -v "$var" '%s' "$pid"
}

# Forget PID once it has been stopped by hand.
forget_pid()
{
	local kept=() p

	for p in "${E2E_PIDS[@]}"; do
		[ "$p" = "$1" ] || kept+=("$p")
	done
	E2E_PIDS=("${kept[@]+"${kept[@]}"}")
}

e2e_cleanup()
{
	local rc=$? i log

	trap - EXIT
	for ((i = ${#E2E_PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${E2E_PIDS[i]}"
	done
	# In a sanitizer build, vkdr reports to its stderr, often only at
	# exit (leaks): such a report fails a test that otherwise passed.
	if [ "$rc" = 0 ] && grep -qE "$E2E_SANITIZER_REPORT" \
		"$E2E_TMP"/mirror*.log 2>/dev/null; then
		echo "FAIL: $E2E_NAME: vkdr reported a sanitizer error" >&2
		grep -hE -A 30 "$E2E_SANITIZER_REPORT" \
			"$E2E_TMP"/mirror*.log >&2
		rc=1
	fi
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		for log in "${E2E_LOGS[@]+"${E2E_LOGS[@]}"}"; do
			[ -s "$log" ] || continue
			echo "---- last lines of ${log#"$E2E_TMP"/} ----" >&2
			tail -n 20 "$log" >&2
		done
	fi
	if [ -n "${E2E_KEEP:-}" ]; then
		echo "$E2E_NAME: kept $E2E_TMP" >&2
	else
		rm -rf "$E2E_TMP"
	fi
	exit "$rc"
}

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vkdr-e2e.XXXXXX")
trap e2e_cleanup EXIT
trap 'exit 1' INT TERM HUP

# ------------------------------------------------------------------------
# Waiting and HTTP

# wait_until SECONDS WHAT CMD... - poll CMD until it succeeds; fail the test
# naming WHAT when SECONDS pass first.
wait_until()
{
	local secs=$1 what=$2 end

	shift 2
	end=$((SECONDS + secs))
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] ||
			fail "gave up after ${secs}s waiting for $what"
		sleep 0.1
	done
}

# http_req OUT URL [CURL_ARGS...] - one request; the body goes to OUT.
# Sets HTTP_CODE (000 when no answer came) and HTTP_RC (curl's exit
# status: 0, or e.g. 18 for a short body, 28 for a timeout).
http_req()
{
	local out=$1 url=$2

	shift 2
	HTTP_RC=0
	HTTP_CODE=$(curl -sS -o "$out" -w '%{http_code}' --max-time 30 \
		"$@" "$url") || HTTP_RC=$?
	HTTP_CODE=${HTTP_CODE:-000}
}

# sha256 of FILE as "sha256:HEX".
file_digest()
{
	local sum

	sum=$(sha256sum "$1")
	echo "sha256:${sum%% *}"
}

# Path of the blob DIGEST inside the OCI layout DIR.
layout_blob()
{
	echo "$1/blobs/sha256/${2#sha256:}"
}

# ------------------------------------------------------------------------
# The upstream: CNCF Distribution (Debian's docker-registry)

# start_upstream - a registry on 127.0.0.1:$UPSTREAM_PORT, storage in the
# temp dir. Its access log ($UPSTREAM_ACCESS) has one line per request.
start_upstream()
{
	need_tools docker-registry
	UPSTREAM_PORT=${UPSTREAM_PORT:-$(free_port)}
	UPSTREAM_URL=http://127.0.0.1:$UPSTREAM_PORT
	UPSTREAM_ACCESS=$E2E_TMP/upstream-access.log
	mkdir -p "$E2E_TMP/upstream"
	cat >"$E2E_TMP/upstream.yml" <<-EOF
	version: 0.1
	log:
	  level: info
	  accesslog:
	    disabled: false
	storage:
	  filesystem:
	    rootdirectory: $E2E_TMP/upstream
	  delete:
	    enabled: true
	http:
	  addr: 127.0.0.1:$UPSTREAM_PORT
	  secret: vkdr-e2e-not-a-secret
	EOF
	# Distribution writes its access log to stdout, the rest to stderr.
	spawn UPSTREAM_PID "$E2E_TMP/upstream.log" sh -c \
		'exec docker-registry serve "$1" >"$2"' sh \
		"$E2E_TMP/upstream.yml" "$UPSTREAM_ACCESS"
	E2E_LOGS+=("$UPSTREAM_ACCESS")
	wait_until "$E2E_START_DEADLINE" "the upstream registry" \
		http_ok "$UPSTREAM_URL/v2/"
}

stop_upstream()
{
	stop_pid "$UPSTREAM_PID"
	forget_pid "$UPSTREAM_PID"
}

# upstream_gets PATTERN - how many GETs the upstream answered whose target
# matches the extended regex PATTERN (e.g. "/blobs/$digest").
upstream_gets()
{
	grep -cE "\"GET [^ \"]*$1[^ \"]* HTTP/" "$UPSTREAM_ACCESS" || true
}

# Distribution writes an access log line after the answer is sent, so a
# client can finish before the line is there. upstream_sync makes one
# request of its own and waits for its line: lines of requests answered
# earlier are then written too.
upstream_sync()
{
	local mark=e2e-sync-$RANDOM$RANDOM

	curl -s -o /dev/null --max-time 10 "$UPSTREAM_URL/v2/?$mark" || true
	wait_until 10 "the upstream access log" \
		grep -q "$mark" "$UPSTREAM_ACCESS"
}

# ------------------------------------------------------------------------
# Images

# make_image [--index] [--no-gzip] NAME TAG [SIZE_MiB...] - write an OCI
# layout to $E2E_TMP/images/NAME-TAG and set the IMAGE_* variables (see
# make_image.py): IMAGE_DIR, IMAGE_TOP, IMAGE_MANIFEST, IMAGE_LAYERS...
make_image()
{
	local opts=() vars

	while [ "${1:-}" != "${1#--}" ]; do
		opts+=("$1")
		shift
	done
	vars=$("$PYTHON" "$E2E_DIR/make_image.py" "${opts[@]+"${opts[@]}"}" \
		"$E2E_TMP/images/$1-$2" "$2" "${@:3}") ||
		fail "make_image.py failed"
	eval "$vars"
}

skopeo_policy()
{
	local policy=$E2E_TMP/policy.json

	[ -f "$policy" ] ||
		echo '{"default":[{"type":"insecureAcceptAnything"}]}' \
			>"$policy"
	echo "$policy"
}

# push_image DIR NAME TAG - copy the layout DIR's TAG (all platforms) to
# the upstream as library/NAME:TAG, byte for byte.
push_image()
{
	need_tools skopeo
	skopeo --policy "$(skopeo_policy)" copy --quiet --all \
		--dest-tls-verify=false "oci:$1:$3" \
		"docker://127.0.0.1:$UPSTREAM_PORT/library/$2:$3" ||
		fail "pushing $2:$3 to the upstream failed"
}

# skopeo_pull REF OUTDIR TAG [SKOPEO_ARGS...] - copy REF (without the
# docker:// prefix) into the OCI layout OUTDIR. Returns skopeo's status.
skopeo_pull()
{
	local ref=$1 out=$2 tag=$3

	shift 3
	need_tools skopeo
	timeout "$E2E_PULL_DEADLINE" skopeo --policy "$(skopeo_policy)" \
		"$@" copy --quiet --src-tls-verify=false \
		"docker://$ref" "oci:$out:$tag"
}

# same_blobs DIR DIGEST... - every blob in the layout DIR is there, hashes
# to its name, and equals the bytes the image was made of ($IMAGE_DIR).
same_blobs()
{
	local dir=$1 d got

	shift
	for d in "$@"; do
		got=$(layout_blob "$dir" "$d")
		[ -f "$got" ] || fail "blob $d missing from $dir"
		[ "$(file_digest "$got")" = "$d" ] ||
			fail "blob $d in $dir has the wrong digest"
		cmp -s "$got" "$(layout_blob "$IMAGE_DIR" "$d")" ||
			fail "blob $d differs from what was pushed"
	done
}

# ------------------------------------------------------------------------
# The fake upstream (fake_upstream.py)

# start_fake_upstream LAYOUT - serve the OCI layout LAYOUT on
# 127.0.0.1:$UPSTREAM_PORT; requests are logged to $FAKE_LOG; behaviour
# per reference is set with fake_mode.
start_fake_upstream()
{
	UPSTREAM_PORT=${UPSTREAM_PORT:-$(free_port)}
	UPSTREAM_URL=http://127.0.0.1:$UPSTREAM_PORT
	FAKE_LOG=$E2E_TMP/fake-requests.log
	FAKE_CONTROL=$E2E_TMP/fake-control
	mkdir -p "$FAKE_CONTROL"
	: >"$FAKE_LOG"
	spawn UPSTREAM_PID "$E2E_TMP/fake-upstream.log" "$PYTHON" \
		"$E2E_DIR/fake_upstream.py" --port "$UPSTREAM_PORT" \
		--layout "$1" --control "$FAKE_CONTROL" --log "$FAKE_LOG"
	wait_until "$E2E_START_DEADLINE" "the fake upstream" \
		http_ok "$UPSTREAM_URL/v2/"
}

# fake_mode REF WORDS... - how the fake upstream answers REF (a digest, a
# tag, or "default"): ok, corrupt, stall, trickle SECONDS,
# status CODE [RETRY_AFTER].
fake_mode()
{
	local ref=${1#sha256:}

	shift
	echo "$*" >"$FAKE_CONTROL/$ref.new"
	mv "$FAKE_CONTROL/$ref.new" "$FAKE_CONTROL/$ref"
}

# fake_gets PATTERN - GET requests the fake upstream received whose target
# matches the extended regex PATTERN. Lines are written before answering.
fake_gets()
{
	grep -cE "^GET [^ ]*$1" "$FAKE_LOG" || true
}

# fake_closed PATTERN - a stalled answer whose target matches PATTERN was
# given up by its client (the fake upstream saw the connection close).
fake_closed()
{
	grep -qE "^CLOSED GET [^ ]*$1" "$FAKE_LOG"
}

# ------------------------------------------------------------------------
# The mirror under test

# mirror_configure - "vkdr mirror add" a docker.io mirror on
# 127.0.0.1:$MIRROR_PORT in front of $UPSTREAM_URL, in a $VKDR_HOME of the
# test's own. Done once; start_mirror calls it when a test did not.
mirror_configure()
{
	need_vkdr
	export VKDR_HOME=$E2E_TMP/home
	MIRROR_PORT=${MIRROR_PORT:-$(free_port)}
	MIRROR_URL=http://127.0.0.1:$MIRROR_PORT
	MIRROR_LOG=$E2E_TMP/mirror.log
	mkdir -p "$VKDR_HOME"
	"$VKDR" mirror add --host=docker.io --port="$MIRROR_PORT" \
		--upstream="$UPSTREAM_URL" >"$E2E_TMP/mirror-add.log" 2>&1 || {
		cat "$E2E_TMP/mirror-add.log" >&2
		fail "vkdr mirror add failed"
	}
	MIRROR_CONFIGURED=1
}

# start_mirror [SERVE_ARGS...] - start "vkdr mirror serve" on the
# configured mirror and wait until it answers /v2/. Its stderr is
# $MIRROR_LOG.
start_mirror()
{
	[ -n "${MIRROR_CONFIGURED:-}" ] || mirror_configure
	spawn MIRROR_PID "$MIRROR_LOG" "$VKDR" --verbose mirror serve \
		--listen=127.0.0.1 "$@"
	wait_until "$E2E_START_DEADLINE" "the mirror on $MIRROR_URL" \
		mirror_up
}

# The daemon answers /v2/, or fail at once when it has exited.
mirror_up()
{
	kill -0 "$MIRROR_PID" 2>/dev/null ||
		fail "vkdr mirror serve exited early"
	http_ok "$MIRROR_URL/v2/"
}

stop_mirror()
{
	stop_pid "$MIRROR_PID"
	forget_pid "$MIRROR_PID"
}

# cached_file DIGEST [DIR] - the file the filesystem store keeps for
# DIGEST under $VKDR_HOME/DIR (mirror-cache, or faulty-cache for the
# faulty backend), or nothing.
cached_file()
{
	find "$VKDR_HOME/${2:-mirror-cache}" -type f -name "${1#sha256:}" \
		2>/dev/null | head -n 1
}

# cached_intact DIGEST [DIR] - DIGEST is in the store and hashes right. A
# client may have the last byte before the object is committed: wait for
# this with wait_until rather than test it once.
cached_intact()
{
	local f

	f=$(cached_file "$@")
	[ -n "$f" ] && [ "$(file_digest "$f")" = "$1" ]
}

# store_tmp_empty [DIR] - the store under $VKDR_HOME/DIR holds no
# temporary file, i.e. no object half written.
store_tmp_empty()
{
	[ -z "$(find "$VKDR_HOME/${1:-mirror-cache}/tmp" -type f \
		2>/dev/null)" ]
}

# json_error_code FILE - the first "code" of a registry error body, or
# nothing when FILE is not one.
json_error_code()
{
	"$PYTHON" -c 'import json, sys
try:
    print(json.load(open(sys.argv[1]))["errors"][0]["code"])
except Exception:
    pass' "$1"
}

# metric_positive PATTERN - the mirror's /metrics has a sample whose name
# or labels match PATTERN (e.g. requests_total{outcome="hit"}) with a
# value above zero.
metric_positive()
{
	http_req "$E2E_TMP/metrics.txt" "$MIRROR_URL/metrics"
	[ "$HTTP_CODE" = 200 ] || fail "/metrics answered $HTTP_CODE"
	awk -v pat="$1" '
		/^#/ { next }
		$1 ~ pat && $NF + 0 > 0 { found = 1 }
		END { exit !found }' "$E2E_TMP/metrics.txt"
}

# ------------------------------------------------------------------------
# containerd

# start_containerd - a containerd whose root, state and sockets all live
# in the temp dir, with every plugin that would touch the host (CRI,
# runtimes, cgroups, kernel snapshotters) disabled. Content is unpacked
# with the native snapshotter. Sets CTR_SOCK and writes the hosts dir
# $E2E_TMP/certs.d sending docker.io to the mirror (to the upstream when
# no mirror was configured first).
start_containerd()
{
	local d=$E2E_TMP/containerd

	need_tools containerd ctr
	need_root
	mkdir -p "$d"
	CTR_SOCK=$d/containerd.sock
	cat >"$d/config.toml" <<-EOF
	version = 2
	root = "$d/root"
	state = "$d/state"
	temp = "$d/tmp"
	plugin_dir = ""
	disabled_plugins = [
	  "io.containerd.grpc.v1.cri",
	  "io.containerd.grpc.v1.tasks",
	  "io.containerd.service.v1.tasks-service",
	  "io.containerd.runtime.v1.linux",
	  "io.containerd.runtime.v2.task",
	  "io.containerd.monitor.v1.cgroups",
	  "io.containerd.internal.v1.opt",
	  "io.containerd.internal.v1.restart",
	  "io.containerd.internal.v1.tracing",
	  "io.containerd.tracing.processor.v1.otlp",
	  "io.containerd.snapshotter.v1.aufs",
	  "io.containerd.snapshotter.v1.btrfs",
	  "io.containerd.snapshotter.v1.devmapper",
	  "io.containerd.snapshotter.v1.overlayfs",
	  "io.containerd.snapshotter.v1.zfs",
	]

	[grpc]
	  address = "$CTR_SOCK"

	[ttrpc]
	  address = "$CTR_SOCK.ttrpc"
	EOF
	spawn CONTAINERD_PID "$E2E_TMP/containerd.log" \
		containerd --config "$d/config.toml"
	wait_until "$E2E_START_DEADLINE" "containerd's socket" ctr_ready

	mkdir -p "$E2E_TMP/certs.d/docker.io"
	cat >"$E2E_TMP/certs.d/docker.io/hosts.toml" <<-EOF
	server = "https://registry-1.docker.io"

	[host."http://127.0.0.1:${MIRROR_PORT:-$UPSTREAM_PORT}"]
	  capabilities = ["pull", "resolve"]
	EOF
}

ctr_ready()
{
	ctr --address "$CTR_SOCK" images ls -q >/dev/null 2>&1
}

# ctr_pull REF - pull REF (docker.io/library/NAME:TAG) for linux/amd64
# through the hosts dir and unpack it. Returns ctr's status.
ctr_pull()
{
	timeout "$E2E_PULL_DEADLINE" ctr --address "$CTR_SOCK" images pull \
		--hosts-dir "$E2E_TMP/certs.d" --snapshotter native \
		--platform linux/amd64 "$1" >"$E2E_TMP/ctr-pull.log" 2>&1
}

# ctr_blob DIGEST OUT - the bytes containerd holds for DIGEST.
ctr_blob()
{
	ctr --address "$CTR_SOCK" content get "$1" >"$2"
}
