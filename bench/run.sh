#!/bin/bash
# run.sh - vkdr mirror serve side by side with docker-registry in proxy mode.
#
# Starts, on loopback only: an upstream registry (docker-registry with
# filesystem storage) holding generated images; the contender, a second
# docker-registry configured as a pull-through proxy of that upstream;
# vkdr mirror serve in front of the same upstream; and nginx serving the
# same 1 MiB and 256 MiB blobs as plain files, the ceiling of what one
# machine can do. Then it measures both systems round after round,
# alternating which one goes first: cached blobs and manifests, cold pulls
# by 1, 8 and 64 clients, whole images pulled by skopeo and containerd,
# start-up time, and how cost grows with 1 to 1,000 cached images and 10
# to 1,000 connections. It writes every raw number to
# bench/results/latest.csv, the tables of medians into bench/README.md and
# the latency plot to bench/results/latency.svg (see bench/report.py).
#
# Environment (all optional):
#   VKDR            a built vkdr to measure; otherwise the tree is built
#                   out of tree in $BENCH_BUILD
#   BENCH_BUILD     build directory (default $TMPDIR/vkdr-bench-build)
#   BENCH_ROUNDS    rounds of the cached loads (default 3)
#   BENCH_COLD      rounds of the cold pulls (default 5)
#   BENCH_DURATION  seconds of each wrk run (default 10)
#   BENCH_IMAGES    rounds of the whole-image pulls (default 3)
#   BENCH_SCALE     rounds of the scaling series (default 1)
#   BENCH_SCALE_DURATION seconds of each wrk run of the scaling series
#                   (default BENCH_DURATION)
#   BENCH_BLOBS     number of 1 MiB blobs (default 32)
#   BENCH_LINK_RATE the slow link's rate in nginx's limit_rate syntax
#                   (default 24m; nginx lets the first second's worth
#                   through at once, so 64 MiB take about 2.2 s)
#   BENCH_CSV       where the raw numbers go (default
#                   bench/results/latest.csv)
#   BENCH_NO_README set to leave bench/README.md alone
#   BENCH_KEEP      set to keep the temporary directory
#
# Everything started is stopped by the EXIT trap; every wait has a
# deadline.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$BENCH_DIR/.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
# shellcheck source=../tests/lib/procs.sh
. "$SRCDIR/tests/lib/procs.sh"
ROUNDS=${BENCH_ROUNDS:-3}
LINK_RATE=${BENCH_LINK_RATE:-24m}
COLD_ROUNDS=${BENCH_COLD:-5}
DURATION=${BENCH_DURATION:-10}
NBLOBS=${BENCH_BLOBS:-32}
CLIENTS=8
CONNECTIONS=32
IMAGE_ROUNDS=${BENCH_IMAGES:-3}
SCALE_ROUNDS=${BENCH_SCALE:-1}
SCALE_DURATION=${BENCH_SCALE_DURATION:-$DURATION}
COLD_CLIENTS="1 8 64"
SCALE_IMAGES="1 10 100 1000"
SCALE_CONNS="10 100 1000"
MIB=1048576
CSV=${BENCH_CSV:-$BENCH_DIR/results/latest.csv}
MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_INDEX=application/vnd.oci.image.index.v1+json
MT_CONFIG=application/vnd.oci.image.config.v1+json
MT_LAYER=application/vnd.oci.image.layer.v1.tar+gzip

PIDS=()

say()
{
	echo "bench: $*" >&2
}

die()
{
	echo "bench: error: $*" >&2
	exit 1
}

# ------------------------------------------------------------------------
# Processes (pid_exited, stop_pid, free_port and http_ok come from
# tests/lib/procs.sh)

# spawn VAR LOG CMD... - CMD in the background, in a session of its own so
# that stop_pid reaches its children too; its pid goes to VAR.
spawn()
{
	local var=$1 log=$2 pid

	shift 2
	setsid "$@" >"$log" 2>&1 </dev/null &
	pid=$!
	PIDS+=("$pid")
	printf -v "$var" '%s' "$pid"
}

# stop VAR - stop the process whose pid VAR holds and forget it.
stop()
{
	local pid=${!1} kept=() p

	stop_pid "$pid"
	for p in "${PIDS[@]}"; do
		[ "$p" = "$pid" ] || kept+=("$p")
	done
	PIDS=("${kept[@]+"${kept[@]}"}")
}

cleanup()
{
	local rc=$? i f

	trap - EXIT
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${PIDS[i]}"
	done
	if [ "$rc" != 0 ] && [ -n "${TMP:-}" ]; then
		for f in "$TMP"/*.log; do
			[ -s "$f" ] || continue
			echo "---- last lines of ${f##*/} ----" >&2
			tail -n 15 "$f" >&2
		done
	fi
	if [ -n "${BENCH_KEEP:-}" ]; then
		say "kept $TMP"
	elif [ -n "${TMP:-}" ]; then
		rm -rf "$TMP"
	fi
	exit "$rc"
}

# wait_until SECONDS WHAT CMD... - poll CMD until it succeeds, or die.
wait_until()
{
	local secs=$1 what=$2 end

	shift 2
	end=$((SECONDS + secs))
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] ||
			die "gave up after ${secs}s waiting for $what"
		sleep 0.1
	done
}

# wait_up SECONDS WHAT T0 CMD... - like wait_until, but polling every
# 5 ms, for the start-up time: sets STARTUP_S to the seconds from T0 (an
# $EPOCHREALTIME taken before the start) to the first success of CMD.
wait_up()
{
	local secs=$1 what=$2 t0=$3 end

	shift 3
	end=$((SECONDS + secs))
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] ||
			die "gave up after ${secs}s waiting for $what"
		sleep 0.005
	done
	STARTUP_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" \
		'BEGIN { printf "%.4f", b - a }')
}

# proc_kib PID FIELD - a VmXXX line of /proc/PID/status, in KiB.
proc_kib()
{
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# record PHASE ROUND SYSTEM METRIC VALUE UNIT - one line of the CSV.
record()
{
	echo "$1,$2,$3,$4,$5,$6" >>"$CSV"
}

need()
{
	local t

	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || die "$t is not installed"
	done
}

# ------------------------------------------------------------------------
# The vkdr under test

# Build the tree out of tree unless $VKDR names a built vkdr.
find_vkdr()
{
	local build=${BENCH_BUILD:-${TMPDIR:-/tmp}/vkdr-bench-build}

	if [ -n "${VKDR:-}" ]; then
		[ -x "$VKDR" ] || die "VKDR=$VKDR is not executable"
		return
	fi
	if [ ! -x "$SRCDIR/configure" ]; then
		say "generating configure in $SRCDIR"
		(cd "$SRCDIR" && autoreconf -fi) >/dev/null
	fi
	mkdir -p "$build"
	if [ ! -f "$build/Makefile" ]; then
		say "configuring in $build"
		(cd "$build" && "$SRCDIR/configure" -q)
	fi
	say "building in $build"
	make -C "$build" -j"$(nproc)" >"$build/bench-make.log" 2>&1 ||
		die "the build failed, see $build/bench-make.log"
	VKDR=$build/vkdr
}

# ------------------------------------------------------------------------
# Images, written as OCI layouts by hand

# add_blob LAYOUT FILE - move FILE into LAYOUT's blobs; sets BLOB_DIGEST
# and BLOB_SIZE.
add_blob()
{
	local sum

	sum=$(sha256sum "$2")
	BLOB_DIGEST=sha256:${sum%% *}
	BLOB_SIZE=$(stat -c %s "$2")
	mv "$2" "$1/blobs/sha256/${sum%% *}"
}

# descriptor MEDIA_TYPE DIGEST SIZE [REF_NAME] - an OCI descriptor in JSON.
descriptor()
{
	printf '{"mediaType":"%s","digest":"%s","size":%s' "$1" "$2" "$3"
	[ -z "${4:-}" ] ||
		printf ',"annotations":{"%s":"%s"}' \
			org.opencontainers.image.ref.name "$4"
	printf '}'
}

# make_layout DIR TAG SIZE... - an OCI layout holding one image whose
# layers are gzip-compressed tars of one file of SIZE random bytes each
# (random bytes do not shrink). Sets IMAGE_MANIFEST and the
# array IMAGE_LAYERS.
make_layout()
{
	local dir=$1 tag=$2 size layers="" diff_ids="" raw

	shift 2
	mkdir -p "$dir/blobs/sha256"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	IMAGE_LAYERS=()
	raw=$dir/raw
	mkdir -p "$dir/layer"
	for size in "$@"; do
		# A real tar (one file of random bytes), so that containerd
		# can unpack what it pulls.
		head -c "$size" /dev/urandom >"$dir/layer/data"
		tar -C "$dir/layer" --owner=0 --group=0 --mtime=@0 \
			-cf "$raw" data
		diff_ids+="${diff_ids:+,}\"sha256:$(sha256sum <"$raw" |
			cut -d' ' -f1)\""
		gzip -1 -n -c "$raw" >"$raw.gz"
		add_blob "$dir" "$raw.gz"
		IMAGE_LAYERS+=("$BLOB_DIGEST")
		layers+="${layers:+,}$(descriptor "$MT_LAYER" "$BLOB_DIGEST" \
			"$BLOB_SIZE")"
	done
	rm -rf "$raw" "$dir/layer"

	printf '{"architecture":"amd64","os":"linux",%s}' \
		"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diff_ids]}" \
		>"$dir/config"
	add_blob "$dir" "$dir/config"
	printf '{"schemaVersion":2,"mediaType":"%s",%s,"layers":[%s]}' \
		"$MT_MANIFEST" \
		"\"config\":$(descriptor "$MT_CONFIG" "$BLOB_DIGEST" \
			"$BLOB_SIZE")" \
		"$layers" >"$dir/manifest"
	add_blob "$dir" "$dir/manifest"
	IMAGE_MANIFEST=$BLOB_DIGEST
	printf '{"schemaVersion":2,"mediaType":"%s","manifests":[%s]}' \
		"$MT_INDEX" "$(descriptor "$MT_MANIFEST" "$BLOB_DIGEST" \
			"$BLOB_SIZE" "$tag")" \
		>"$dir/index.json"
}

# push NAME TAG - copy the layout $TMP/images/NAME to the upstream as
# library/NAME:TAG without changing a byte, and check that it did.
push()
{
	local got

	skopeo --policy "$TMP/policy.json" copy --quiet --preserve-digests \
		--dest-tls-verify=false "oci:$TMP/images/$1:$2" \
		"docker://127.0.0.1:$UPSTREAM_PORT/library/$1:$2" ||
		die "pushing $1:$2 to the upstream failed"
	got=$(curl -sS --max-time 10 -H "Accept: $MT_MANIFEST" \
		"$UPSTREAM_URL/v2/library/$1/manifests/$2" | sha256sum)
	[ "sha256:${got%% *}" = "$IMAGE_MANIFEST" ] ||
		die "the upstream changed the manifest of $1:$2"
}

make_images()
{
	local i sizes=()

	echo '{"default":[{"type":"insecureAcceptAnything"}]}' \
		>"$TMP/policy.json"
	for ((i = 0; i < NBLOBS; i++)); do
		sizes+=("$MIB")
	done
	say "generating images ($NBLOBS x 1 MiB, 64 MiB, 256 MiB)"
	make_layout "$TMP/images/small" v1 "${sizes[@]}"
	push small v1
	SMALL_MANIFEST=$IMAGE_MANIFEST
	SMALL_LAYERS=("${IMAGE_LAYERS[@]}")
	make_layout "$TMP/images/big64" v1 $((64 * MIB))
	push big64 v1
	BIG64=${IMAGE_LAYERS[0]}
	BIG64_SIZE=$(stat -c %s \
		"$TMP/images/big64/blobs/sha256/${BIG64#sha256:}")
	make_layout "$TMP/images/big256" v1 $((256 * MIB))
	push big256 v1
	BIG256=${IMAGE_LAYERS[0]}

	: >"$TMP/blob-paths"
	for i in "${SMALL_LAYERS[@]}"; do
		echo "/v2/library/small/blobs/$i" >>"$TMP/blob-paths"
	done
	echo "/v2/library/small/manifests/v1" >"$TMP/tag-paths"
	echo "/v2/library/small/manifests/$SMALL_MANIFEST" \
		>"$TMP/digest-paths"
}

# push_tiny N - push N tiny images to the upstream, library/tinyNNNN:v1,
# each with a layer of 1 KiB random bytes and a config of its own, over
# one connection with the registry API (skopeo would take minutes for a
# thousand). Writes the manifest-by-tag paths, one a line, to
# $TMP/tiny-paths.
push_tiny()
{
	say "pushing $1 tiny images"
	"$PYTHON" - "$UPSTREAM_PORT" "$1" "$MT_MANIFEST" "$MT_CONFIG" \
		"$MT_LAYER" >"$TMP/tiny-paths" <<-'EOF' ||
	import hashlib, http.client, json, os, sys, urllib.parse

	port, count = int(sys.argv[1]), int(sys.argv[2])
	mt_manifest, mt_config, mt_layer = sys.argv[3:6]
	conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

	def call(method, path, body=None, headers=None, want=200):
	    conn.request(method, path, body=body, headers=headers or {})
	    r = conn.getresponse()
	    r.read()
	    if r.status != want:
	        sys.exit("%s %s: %d" % (method, path, r.status))
	    return r

	def blob(repo, data, media_type):
	    digest = "sha256:" + hashlib.sha256(data).hexdigest()
	    r = call("POST", "/v2/%s/blobs/uploads/" % repo, want=202)
	    loc = urllib.parse.urlsplit(r.getheader("Location"))
	    query = (loc.query + "&" if loc.query else "") + "digest=" + digest
	    call("PUT", loc.path + "?" + query, data,
	         {"Content-Type": "application/octet-stream"}, want=201)
	    return {"mediaType": media_type, "digest": digest,
	            "size": len(data)}

	for i in range(1, count + 1):
	    repo = "library/tiny%04d" % i
	    layer = blob(repo, os.urandom(1024), mt_layer)
	    config = {"architecture": "amd64", "os": "linux",
	              "rootfs": {"type": "layers",
	                         "diff_ids": [layer["digest"]]}}
	    config = blob(repo, json.dumps(config).encode(), mt_config)
	    manifest = {"schemaVersion": 2, "mediaType": mt_manifest,
	                "config": config, "layers": [layer]}
	    call("PUT", "/v2/%s/manifests/v1" % repo,
	         json.dumps(manifest).encode(),
	         {"Content-Type": mt_manifest}, want=201)
	    print("/v2/%s/manifests/v1" % repo)
	EOF
		die "pushing the tiny images failed"
}

# get_all SYSTEM PATHS ACCEPT - GET every path in the file PATHS from
# SYSTEM twice over one connection; dies unless every answer is a 200.
get_all()
{
	"$PYTHON" - "$(url_of "$1")" "$2" "$3" <<-'EOF' ||
	import http.client, sys, urllib.parse

	url = urllib.parse.urlsplit(sys.argv[1])
	paths = [p for p in open(sys.argv[2]).read().split() if p]
	conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
	for _ in range(2):
	    for p in paths:
	        conn.request("GET", p, headers={"Accept": sys.argv[3]})
	        r = conn.getresponse()
	        r.read()
	        if r.status != 200:
	            sys.exit("GET %s: %d" % (p, r.status))
	EOF
		die "warming $1 with $2 failed"
}

# ------------------------------------------------------------------------
# The upstream and its access log

start_upstream()
{
	UPSTREAM_PORT=$(free_port)
	UPSTREAM_URL=http://127.0.0.1:$UPSTREAM_PORT
	UPSTREAM_ACCESS=$TMP/upstream-access.txt
	cat >"$TMP/upstream.yml" <<-EOF
	version: 0.1
	log:
	  level: warn
	  accesslog:
	    disabled: false
	storage:
	  filesystem:
	    rootdirectory: $TMP/upstream
	http:
	  addr: 127.0.0.1:$UPSTREAM_PORT
	  secret: bench-not-a-secret
	EOF
	# Distribution writes its access log to stdout, the rest to stderr.
	spawn UPSTREAM_PID "$TMP/upstream.log" sh -c \
		'exec docker-registry serve "$1" >"$2"' sh \
		"$TMP/upstream.yml" "$UPSTREAM_ACCESS"
	wait_until 30 "the upstream" http_ok "$UPSTREAM_URL/v2/"
}

# The access log line of a request is written after its answer. Make a
# request of our own and wait for its line: every line before it is then
# written too. Prints the number of lines up to and including it.
upstream_mark()
{
	local mark=bench-$RANDOM$RANDOM

	curl -s -o /dev/null --max-time 10 "$UPSTREAM_URL/v2/?$mark" || true
	wait_until 10 "the upstream access log" \
		grep -q "$mark" "$UPSTREAM_ACCESS"
	wc -l <"$UPSTREAM_ACCESS"
}

# upstream_between FROM TO - the upstream's access log lines after line
# FROM up to line TO, without the marks.
upstream_between()
{
	sed -n "$(($1 + 1)),${2}p" "$UPSTREAM_ACCESS" | grep -v '/v2/?bench-' ||
		true
}

# A proxy goes on asking the upstream for requests its clients have
# already given up on. Wait until the upstream has logged nothing but our
# marks for 0.3 s, so that those requests count against the run that
# caused them, not the next one. Prints the line number of the last mark.
upstream_quiet()
{
	local i from to

	from=$(upstream_mark)
	for ((i = 0; i < 100; i++)); do
		sleep 0.3
		to=$(upstream_mark)
		[ -n "$(upstream_between "$from" "$to")" ] || break
		from=$to
	done
	echo "$to"
}

# upstream_count FROM TO PATTERN - upstream requests logged between lines
# FROM and TO whose request line matches the extended regex PATTERN.
upstream_count()
{
	upstream_between "$1" "$2" | grep -cE "\"$3" || true
}

# ------------------------------------------------------------------------
# The two systems

# start_registry DIR [UPSTREAM] - docker-registry as a pull-through proxy
# of UPSTREAM (default: the upstream), storage in DIR. It gets the
# configuration people run (the in-memory blob descriptor cache) and the
# quietest logs, so that logging does not count against it.
start_registry()
{
	local t0

	REGISTRY_PORT=${REGISTRY_PORT:-$(free_port)}
	REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT
	cat >"$TMP/registry.yml" <<-EOF
	version: 0.1
	log:
	  level: error
	  accesslog:
	    disabled: true
	storage:
	  filesystem:
	    rootdirectory: $1
	  cache:
	    blobdescriptor: inmemory
	http:
	  addr: 127.0.0.1:$REGISTRY_PORT
	  secret: bench-not-a-secret
	proxy:
	  remoteurl: ${2:-$UPSTREAM_URL}
	EOF
	t0=$EPOCHREALTIME
	spawn REGISTRY_PID "$TMP/registry.log" \
		docker-registry serve "$TMP/registry.yml"
	wait_up 30 "docker-registry" "$t0" http_ok "$REGISTRY_URL/v2/"
}

# start_vkdr DIR [UPSTREAM] - vkdr mirror serve in front of UPSTREAM
# (default: the upstream) with its filesystem store in DIR. Each upstream
# gets a VKDR_HOME of its own, configured with "vkdr mirror add" once.
start_vkdr()
{
	local upstream=${2:-$UPSTREAM_URL} home t0

	VKDR_PORT=${VKDR_PORT:-$(free_port)}
	VKDR_URL=http://127.0.0.1:$VKDR_PORT
	home=$TMP/home-${upstream##*:}
	if [ ! -d "$home" ]; then
		mkdir -p "$home"
		VKDR_HOME=$home "$VKDR" mirror add --host=docker.io \
			--port="$VKDR_PORT" --upstream="$upstream" \
			>"$TMP/vkdr-add.log" 2>&1 ||
			die "vkdr mirror add failed"
	fi
	t0=$EPOCHREALTIME
	VKDR_HOME=$home spawn VKDR_PID "$TMP/vkdr.log" "$VKDR" \
		mirror serve --listen=127.0.0.1 --storage-opt "path=$1"
	wait_up 30 "vkdr mirror serve" "$t0" vkdr_up
}

vkdr_up()
{
	pid_exited "$VKDR_PID" && die "vkdr mirror serve exited early"
	http_ok "$VKDR_URL/v2/"
}

# start_nginx - nginx with two servers: the 1 MiB blobs as static files
# on $NGINX_URL (the ceiling), and on $SLOW_URL a proxy of the upstream
# that sends every answer at $LINK_RATE, a stand-in for a real network
# link to a remote registry. The rate only holds with proxy buffering on
# (nginx's default): unbuffered answers go out at full speed.
start_nginx()
{
	local root=$TMP/static d user=""

	NGINX_PORT=$(free_port)
	NGINX_URL=http://127.0.0.1:$NGINX_PORT
	SLOW_PORT=$(free_port)
	SLOW_URL=http://127.0.0.1:$SLOW_PORT
	mkdir -p "$root/v2/library/small/blobs" "$TMP/nginx" \
		"$root/v2/library/big256/blobs"
	for d in "${SMALL_LAYERS[@]}"; do
		ln "$TMP/images/small/blobs/sha256/${d#sha256:}" \
			"$root/v2/library/small/blobs/$d"
	done
	ln "$TMP/images/big256/blobs/sha256/${BIG256#sha256:}" \
		"$root/v2/library/big256/blobs/$BIG256"
	# As root, nginx's workers would otherwise drop to a user who cannot
	# read the private temporary directory.
	[ "$(id -u)" = 0 ] && user="user root;"
	cat >"$TMP/nginx.conf" <<-EOF
	$user
	worker_processes auto;
	daemon off;
	pid $TMP/nginx/nginx.pid;
	error_log $TMP/nginx/error.log warn;
	events { worker_connections 1024; }
	http {
	  access_log off;
	  sendfile on;
	  tcp_nopush on;
	  default_type application/octet-stream;
	  client_body_temp_path $TMP/nginx/body;
	  proxy_temp_path $TMP/nginx/proxy;
	  fastcgi_temp_path $TMP/nginx/fastcgi;
	  uwsgi_temp_path $TMP/nginx/uwsgi;
	  scgi_temp_path $TMP/nginx/scgi;
	  server {
	    listen 127.0.0.1:$NGINX_PORT;
	    root $root;
	  }
	  server {
	    listen 127.0.0.1:$SLOW_PORT;
	    location / {
	      proxy_pass $UPSTREAM_URL;
	      proxy_http_version 1.1;
	      limit_rate $LINK_RATE;
	    }
	  }
	}
	EOF
	spawn NGINX_PID "$TMP/nginx.log" nginx -e "$TMP/nginx/error.log" \
		-c "$TMP/nginx.conf"
	wait_until 30 "nginx" http_ok \
		"$NGINX_URL/v2/library/small/blobs/${SMALL_LAYERS[0]}"
}

# url_of SYSTEM, pid_of SYSTEM - where a system answers and its process.
url_of()
{
	case $1 in
	registry) echo "$REGISTRY_URL" ;;
	vkdr) echo "$VKDR_URL" ;;
	nginx) echo "$NGINX_URL" ;;
	direct) echo "$UPSTREAM_URL" ;;
	esac
}

pid_of()
{
	case $1 in
	registry) echo "$REGISTRY_PID" ;;
	vkdr) echo "$VKDR_PID" ;;
	esac
}

# fetch_check URL DIGEST [ACCEPT] - GET URL and check the bytes hash to
# DIGEST.
fetch_check()
{
	local sum

	sum=$(curl -sSf --max-time 120 ${3:+-H "Accept: $3"} "$1" |
		sha256sum) || die "GET $1 failed"
	[ "sha256:${sum%% *}" = "$2" ] || die "GET $1: wrong bytes"
}

# warm SYSTEM - pull everything the cached loads ask for, twice, checking
# every answer, so that both caches hold it all.
warm()
{
	local url _ d

	url=$(url_of "$1")
	for _ in 1 2; do
		for d in "${SMALL_LAYERS[@]}"; do
			fetch_check "$url/v2/library/small/blobs/$d" "$d"
		done
		fetch_check "$url/v2/library/small/manifests/v1" \
			"$SMALL_MANIFEST" "$MT_MANIFEST"
		fetch_check "$url/v2/library/small/manifests/$SMALL_MANIFEST" \
			"$SMALL_MANIFEST" "$MT_MANIFEST"
	done
}

# ------------------------------------------------------------------------
# Measurements

# load ROUND SYSTEM TEST PATHS [ACCEPT] - wrk against SYSTEM over the paths
# in the file PATHS; records requests/s, MiB/s, errors and the upstream
# requests the system made meanwhile.
load()
{
	local round=$1 sys=$2 test=$3 paths=$4 accept=${5:-} out from
	local line kv requests bytes us errors pid to

	out=$TMP/wrk-$sys-$test-$round.txt
	from=$(upstream_quiet)
	BENCH_PATHS=$paths timeout $((${LOAD_DURATION:-$DURATION} + 60)) \
		wrk -t2 -c"${LOAD_CONNS:-$CONNECTIONS}" \
		-d"${LOAD_DURATION:-$DURATION}s" --timeout 30s \
		${accept:+-H "Accept: $accept"} \
		-s "$BENCH_DIR/paths.lua" "$(url_of "$sys")" >"$out" 2>&1 ||
		die "wrk against $sys failed: $(tail -n 3 "$out")"
	line=$(grep '^BENCH ' "$out") || die "no totals from wrk in $out"
	errors=0
	for kv in ${line#BENCH }; do
		case $kv in
		requests=*) requests=${kv#*=} ;;
		bytes=*) bytes=${kv#*=} ;;
		duration_us=*) us=${kv#*=} ;;
		p50_us=*) record load "$round" "$sys" "$test-p50" \
			"${kv#*=}" us ;;
		p99_us=*) record load "$round" "$sys" "$test-p99" \
			"${kv#*=}" us ;;
		*) errors=$((errors + ${kv#*=})) ;;
		esac
	done
	record load "$round" "$sys" "$test-rps" \
		"$(awk -v n="$requests" -v us="$us" \
			'BEGIN { printf "%.1f", n * 1e6 / us }')" req/s
	record load "$round" "$sys" "$test-mibps" \
		"$(awk -v b="$bytes" -v us="$us" -v mib="$MIB" \
			'BEGIN { printf "%.1f", b * 1e6 / us / mib }')" MiB/s
	record load "$round" "$sys" "$test-errors" "$errors" count
	if [ "$sys" != nginx ]; then
		to=$(upstream_quiet)
		record load "$round" "$sys" "$test-upstream-requests" \
			"$(upstream_count "$from" "$to" \
				'(GET|HEAD) /v2/library/')" count
	fi
	pid=$(pid_of "$sys")
	[ -z "$pid" ] ||
		record load "$round" "$sys" "rss-after-$test" \
			"$(proc_kib "$pid" VmRSS)" KiB
	say "round $round: $sys $test: $requests requests," \
		"$errors errors"
}

# cached_big ROUND SYSTEM - one client, one connection, the cached
# 256 MiB blob: the time of the whole answer.
cached_big()
{
	local t

	t=$(curl -sSf -o /dev/null -w '%{time_total}' --max-time 300 \
		"$(url_of "$2")/v2/library/big256/blobs/$BIG256") ||
		die "$2: cached 256 MiB pull failed"
	record load "$1" "$2" cached256-total "$t" s
}

# cached_round ROUND SYSTEM - the cached loads against SYSTEM.
cached_round()
{
	load "$1" "$2" blob "$TMP/blob-paths"
	load "$1" "$2" tag "$TMP/tag-paths" "$MT_MANIFEST"
	load "$1" "$2" digest "$TMP/digest-paths" "$MT_MANIFEST"
	cached_big "$1" "$2"
}

cached_phase()
{
	local r sys

	start_registry "$TMP/registry-store"
	start_vkdr "$TMP/vkdr-store"
	for sys in registry vkdr; do
		record idle 0 "$sys" rss-idle "$(proc_kib "$(pid_of "$sys")" \
			VmRSS)" KiB
		warm "$sys"
		fetch_check "$(url_of "$sys")/v2/library/big256/blobs/$BIG256" \
			"$BIG256"
		fetch_check "$(url_of "$sys")/v2/library/big256/blobs/$BIG256" \
			"$BIG256"
		record idle 0 "$sys" rss-warm "$(proc_kib "$(pid_of "$sys")" \
			VmRSS)" KiB
	done
	for ((r = 1; r <= ROUNDS; r++)); do
		if ((r % 2)); then
			cached_round "$r" registry
			cached_round "$r" vkdr
		else
			cached_round "$r" vkdr
			cached_round "$r" registry
		fi
		load "$r" nginx blob "$TMP/blob-paths"
		cached_big "$r" nginx
	done
	for sys in registry vkdr; do
		record load 0 "$sys" rss-peak-cached \
			"$(proc_kib "$(pid_of "$sys")" VmHWM)" KiB
	done
	scale_phase
	stop REGISTRY_PID
	stop VKDR_PID
	rm -rf "$TMP/registry-store" "$TMP/vkdr-store"
}

# scale_phase - how cost grows, on the systems cached_phase started: the
# manifest by tag over 1 to 1,000 cached images, then cached 1 MiB blobs
# at 10 to 1,000 connections. Each measure runs SCALE_ROUNDS times.
scale_phase()
{
	local r n sys order

	say "scaling: $SCALE_ROUNDS rounds of ${SCALE_DURATION}s per test"
	for ((r = 1; r <= SCALE_ROUNDS; r++)); do
		order="registry vkdr"
		((r % 2)) || order="vkdr registry"
		for n in $SCALE_IMAGES; do
			head -n "$n" "$TMP/tiny-paths" >"$TMP/tiny-$n"
			for sys in $order; do
				get_all "$sys" "$TMP/tiny-$n" "$MT_MANIFEST"
				LOAD_DURATION=$SCALE_DURATION load "$r" "$sys" \
					"tags$n" "$TMP/tiny-$n" "$MT_MANIFEST"
			done
		done
		for n in $SCALE_CONNS; do
			for sys in $order nginx; do
				LOAD_DURATION=$SCALE_DURATION LOAD_CONNS=$n \
					load "$r" "$sys" "conns$n" \
					"$TMP/blob-paths"
			done
		done
	done
	for sys in registry vkdr; do
		record scale 0 "$sys" rss-peak-scale \
			"$(proc_kib "$(pid_of "$sys")" VmHWM)" KiB
	done
}

# direct ROUND - one download of each big blob straight from the upstream,
# and one of the 64 MiB blob over the slow link.
direct()
{
	local t

	t=$(curl -sSf -o /dev/null -w '%{time_total}' --max-time 300 \
		"$UPSTREAM_URL/v2/library/big64/blobs/$BIG64") ||
		die "direct download failed"
	record cold "$1" direct cold64-slowest "$t" s
	t=$(curl -sSf -o /dev/null -w '%{time_total}' --max-time 300 \
		"$UPSTREAM_URL/v2/library/big256/blobs/$BIG256") ||
		die "direct download failed"
	record cold "$1" direct cold256-total "$t" s
	t=$(curl -sSf -o /dev/null -w '%{time_total}' --max-time 300 \
		"$SLOW_URL/v2/library/big64/blobs/$BIG64") ||
		die "direct download over the slow link failed"
	record cold "$1" direct slow64-slowest "$t" s
}

# cold ROUND SYSTEM LINK [N] - start SYSTEM with an empty store in front
# of the upstream (LINK "loop") or of the slow link to it (LINK "slow").
# N clients (default CLIENTS) pull the 64 MiB blob at once; on loopback
# with CLIENTS clients, one client then pulls the 256 MiB blob. The
# start-up time, to the first "GET /v2/" answered 200, is recorded too.
cold()
{
	local round=$1 sys=$2 link=$3 store=$TMP/cold-store url from i
	local start end slowest=0 res code size t to pids=() m=cold64
	local upstream=$UPSTREAM_URL big=$CLIENTS
	local CLIENTS=${4:-$CLIENTS}

	if [ "$link" = slow ]; then
		m=slow64
		upstream=$SLOW_URL
	elif [ "$CLIENTS" != "$big" ]; then
		m=cold64-c$CLIENTS
	fi
	rm -rf "$store"
	"start_$sys" "$store" "$upstream"
	record cold "$round" "$sys" startup "$STARTUP_S" s
	url=$(url_of "$sys")
	record cold "$round" "$sys" rss-idle \
		"$(proc_kib "$(pid_of "$sys")" VmRSS)" KiB

	from=$(upstream_quiet)
	start=$(date +%s.%N)
	for ((i = 1; i <= CLIENTS; i++)); do
		curl -sS -o /dev/null --max-time 300 \
			-w '%{http_code} %{size_download} %{time_total}\n' \
			"$url/v2/library/big64/blobs/$BIG64" \
			>"$TMP/client$i" 2>"$TMP/client$i.err" &
		pids+=("$!")
	done
	for ((i = 1; i <= CLIENTS; i++)); do
		wait "${pids[i - 1]}" ||
			die "$sys client $i: $(cat "$TMP/client$i.err")"
	done
	end=$(date +%s.%N)
	for ((i = 1; i <= CLIENTS; i++)); do
		read -r code size t <"$TMP/client$i"
		[ "$code" = 200 ] && [ "$size" = "$BIG64_SIZE" ] ||
			die "$sys client $i got status $code, $size bytes"
		slowest=$(awk -v a="$slowest" -v b="$t" \
			'BEGIN { print (b > a) ? b : a }')
	done
	record cold "$round" "$sys" "$m-slowest" "$slowest" s
	record cold "$round" "$sys" "$m-wall" "$(awk -v a="$start" \
		-v b="$end" 'BEGIN { printf "%.6f", b - a }')" s
	to=$(upstream_quiet)
	record cold "$round" "$sys" "$m-upstream-gets" "$(upstream_count \
		"$from" "$to" "GET /v2/library/big64/blobs/")" count

	if [ "$link" = loop ] && [ "$CLIENTS" = "$big" ]; then
		res=$(curl -sSf -o /dev/null --max-time 300 \
			-w '%{time_starttransfer} %{time_total}' \
			"$url/v2/library/big256/blobs/$BIG256") ||
			die "$sys: cold 256 MiB pull failed"
		record cold "$round" "$sys" cold256-first-byte "${res% *}" s
		record cold "$round" "$sys" cold256-total "${res#* }" s
	fi
	record cold "$round" "$sys" rss-peak-cold \
		"$(proc_kib "$(pid_of "$sys")" VmHWM)" KiB

	# What was cached must come back right (not timed).
	fetch_check "$url/v2/library/big64/blobs/$BIG64" "$BIG64"
	if [ "$sys" = registry ]; then
		stop REGISTRY_PID
	else
		stop VKDR_PID
	fi
	rm -rf "$store"
	say "round $round: $sys cold over $link: slowest of $CLIENTS" \
		"clients in ${slowest}s"
}

cold_phase()
{
	local r link n

	for ((r = 1; r <= COLD_ROUNDS; r++)); do
		direct "$r"
		for link in $COLD_CLIENTS slow; do
			n=$link
			if [ "$link" = slow ]; then
				n=$CLIENTS
			else
				link=loop
			fi
			if ((r % 2)); then
				cold "$r" registry "$link" "$n"
				cold "$r" vkdr "$link" "$n"
			else
				cold "$r" vkdr "$link" "$n"
				cold "$r" registry "$link" "$n"
			fi
		done
	done
}

# ------------------------------------------------------------------------
# Whole images, pulled by skopeo and by containerd

# start_containerd - a containerd of the run's own (root, state, socket
# in $TMP) with every plugin that would touch the host disabled, content
# unpacked by the native snapshotter. Content is not shared between
# namespaces, so that a pull in a fresh namespace fetches every blob
# again: that is how each pull here is made cold on containerd's side.
start_containerd()
{
	local d=$TMP/containerd

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

	[plugins."io.containerd.metadata.v1.bolt"]
	  content_sharing_policy = "isolated"
	EOF
	spawn CONTAINERD_PID "$TMP/containerd.log" \
		containerd --config "$d/config.toml"
	wait_until 30 "containerd's socket" ctr_ready
}

ctr_ready()
{
	ctr --address "$CTR_SOCK" version >/dev/null 2>&1
}

# hosts_dir SYSTEM - a containerd hosts directory sending docker.io to
# SYSTEM; prints its path.
hosts_dir()
{
	local dir=$TMP/certs-$1

	mkdir -p "$dir/docker.io"
	cat >"$dir/docker.io/hosts.toml" <<-EOF
	server = "https://registry-1.docker.io"

	[host."$(url_of "$1")"]
	  capabilities = ["pull", "resolve"]
	EOF
	echo "$dir"
}

# pull_time ROUND SYSTEM CLIENT STATE - one pull of library/small:v1
# through SYSTEM by CLIENT (skopeo or ctr), into a place of its own, so
# that the client has nothing of it yet; records the wall time.
pull_time()
{
	local round=$1 sys=$2 client=$3 state=$4 t0 dest="" hosts url
	local ns=bench-$2-$1-$4

	url=$(url_of "$sys")
	t0=$EPOCHREALTIME
	case $client in
	skopeo)
		dest=$TMP/pull-$sys-$round-$state
		timeout 300 skopeo --policy "$TMP/policy.json" copy --quiet \
			--src-tls-verify=false \
			"docker://${url#http://}/library/small:v1" \
			"oci:$dest" >"$TMP/pull.log" 2>&1 ||
			die "skopeo through $sys: $(tail -n 3 "$TMP/pull.log")"
		;;
	ctr)
		hosts=$(hosts_dir "$sys")
		t0=$EPOCHREALTIME
		timeout 300 ctr --address "$CTR_SOCK" -n "$ns" images pull \
			--hosts-dir "$hosts" --snapshotter native \
			--platform linux/amd64 docker.io/library/small:v1 \
			>"$TMP/pull.log" 2>&1 ||
			die "ctr through $sys: $(tail -n 3 "$TMP/pull.log")"
		;;
	esac
	record image "$round" "$sys" "$client-$state" "$(awk -v a="$t0" \
		-v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }')" s
	# Free the space (not timed): the layers, and in containerd the
	# unpacked snapshot too.
	[ -z "$dest" ] || rm -rf "$dest"
	[ "$client" != ctr ] ||
		ctr --address "$CTR_SOCK" -n "$ns" images rm --sync \
			docker.io/library/small:v1 >/dev/null 2>&1 || true
}

# image_pulls ROUND SYSTEM - for each client, SYSTEM started on an empty
# store: a cold pull of the whole image, then a warm one.
image_pulls()
{
	local client store=$TMP/image-store

	for client in $IMAGE_CLIENTS; do
		rm -rf "$store"
		"start_$2" "$store"
		pull_time "$1" "$2" "$client" cold
		pull_time "$1" "$2" "$client" warm
		if [ "$2" = registry ]; then
			stop REGISTRY_PID
		else
			stop VKDR_PID
		fi
		rm -rf "$store"
	done
	say "round $1: $2 whole-image pulls done"
}

image_phase()
{
	local r

	IMAGE_CLIENTS=skopeo
	if [ "$(id -u)" = 0 ] && command -v containerd >/dev/null &&
		command -v ctr >/dev/null; then
		start_containerd
		IMAGE_CLIENTS="skopeo ctr"
	else
		say "containerd pulls need root and containerd: skipped"
	fi
	for ((r = 1; r <= IMAGE_ROUNDS; r++)); do
		if ((r % 2)); then
			image_pulls "$r" registry
			image_pulls "$r" vkdr
		else
			image_pulls "$r" vkdr
			image_pulls "$r" registry
		fi
	done
	[ -z "${CONTAINERD_PID:-}" ] || stop CONTAINERD_PID
}

machine()
{
	local cpu

	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	echo "$(date -u +%Y-%m-%d), $(nproc) cores, ${cpu:-unknown CPU}," \
		"$(uname -sr), load average at the start $LOAD_START," \
		"at the end $(cut -d' ' -f1 /proc/loadavg)"
}

main()
{
	need docker-registry skopeo wrk curl nginx sha256sum gzip "$PYTHON"
	find_vkdr
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/vkdr-bench.XXXXXX")
	mkdir -p "$(dirname "$CSV")"
	echo "phase,round,system,metric,value,unit" >"$CSV.new"
	CSV=$CSV.new

	LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
	start_upstream
	make_images
	push_tiny "${SCALE_IMAGES##* }"
	start_nginx
	say "cached loads: $ROUNDS rounds of ${DURATION}s per test"
	cached_phase
	say "cold pulls: $COLD_ROUNDS rounds"
	cold_phase
	say "whole-image pulls: $IMAGE_ROUNDS rounds"
	image_phase

	mv "$CSV" "${CSV%.new}"
	CSV=${CSV%.new}
	"$PYTHON" "$BENCH_DIR/report.py" --csv "$CSV" --machine "$(machine)" \
		--link "a slow link ($LINK_RATE/s)" ${BENCH_NO_README:+--no-readme} \
		--readme "$BENCH_DIR/README.md" --svg "${CSV%/*}/latency.svg"
}

# Sourced (bench/s3.sh does, for its helpers), it only defines them.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	trap cleanup EXIT
	trap 'exit 1' INT TERM HUP
	main "$@"
fi
