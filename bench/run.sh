#!/bin/bash
# run.sh - vkdr mirror serve side by side with docker-registry in proxy mode.
#
# Starts, on loopback only: an upstream registry (docker-registry with
# filesystem storage) holding generated images; the contender, a second
# docker-registry configured as a pull-through proxy of that upstream;
# vkdr mirror serve in front of the same upstream; and nginx serving the
# same 1 MiB blobs as plain files, the ceiling of what one machine can do.
# Then it measures both systems round after round, alternating which one
# goes first, writes every raw number to bench/results/latest.csv and
# the table of medians into bench/README.md (see bench/report.py).
#
# Environment (all optional):
#   VKDR            a built vkdr to measure; otherwise the tree is built
#                   out of tree in $BENCH_BUILD
#   BENCH_BUILD     build directory (default $TMPDIR/vkdr-bench-build)
#   BENCH_ROUNDS    rounds of the cached loads (default 3)
#   BENCH_COLD      rounds of the cold pulls (default 5)
#   BENCH_DURATION  seconds of each wrk run (default 10)
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
ROUNDS=${BENCH_ROUNDS:-3}
LINK_RATE=${BENCH_LINK_RATE:-24m}
COLD_ROUNDS=${BENCH_COLD:-5}
DURATION=${BENCH_DURATION:-10}
NBLOBS=${BENCH_BLOBS:-32}
CLIENTS=8
CONNECTIONS=32
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
# Processes

pid_exited()
{
	local stat

	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[ "${stat%% *}" = Z ]
}

# Stop the process group led by PID: SIGTERM, SIGKILL after 10 seconds.
stop_pid()
{
	local pid=$1 i

	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null ||
		true
	for ((i = 0; i < 100; i++)); do
		pid_exited "$pid" && break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

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

free_port()
{
	"$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

http_ok()
{
	local code

	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1") ||
		return 1
	[ "$code" = 200 ]
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
# layers are gzip-compressed random bytes, SIZE bytes each before
# compression (random bytes do not shrink). Sets IMAGE_MANIFEST and the
# array IMAGE_LAYERS.
make_layout()
{
	local dir=$1 tag=$2 size layers="" diff_ids="" raw

	shift 2
	mkdir -p "$dir/blobs/sha256"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	IMAGE_LAYERS=()
	raw=$dir/raw
	for size in "$@"; do
		head -c "$size" /dev/urandom >"$raw"
		diff_ids+="${diff_ids:+,}\"sha256:$(sha256sum <"$raw" |
			cut -d' ' -f1)\""
		gzip -1 -n -c "$raw" >"$raw.gz"
		add_blob "$dir" "$raw.gz"
		IMAGE_LAYERS+=("$BLOB_DIGEST")
		layers+="${layers:+,}$(descriptor "$MT_LAYER" "$BLOB_DIGEST" \
			"$BLOB_SIZE")"
	done
	rm -f "$raw"

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
	spawn REGISTRY_PID "$TMP/registry.log" \
		docker-registry serve "$TMP/registry.yml"
	wait_until 30 "docker-registry" http_ok "$REGISTRY_URL/v2/"
}

# start_vkdr DIR [UPSTREAM] - vkdr mirror serve in front of UPSTREAM
# (default: the upstream) with its filesystem store in DIR. Each upstream
# gets a VKDR_HOME of its own, configured with "vkdr mirror add" once.
start_vkdr()
{
	local upstream=${2:-$UPSTREAM_URL} home

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
	VKDR_HOME=$home spawn VKDR_PID "$TMP/vkdr.log" "$VKDR" \
		mirror serve --listen=127.0.0.1 --storage-opt "path=$1"
	wait_until 30 "vkdr mirror serve" vkdr_up
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
	mkdir -p "$root/v2/library/small/blobs" "$TMP/nginx"
	for d in "${SMALL_LAYERS[@]}"; do
		ln "$TMP/images/small/blobs/sha256/${d#sha256:}" \
			"$root/v2/library/small/blobs/$d"
	done
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
	BENCH_PATHS=$paths timeout $((DURATION + 30)) wrk -t2 \
		-c"$CONNECTIONS" -d"${DURATION}s" \
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

# cached_round ROUND SYSTEM - the three cached loads against SYSTEM.
cached_round()
{
	load "$1" "$2" blob "$TMP/blob-paths"
	load "$1" "$2" tag "$TMP/tag-paths" "$MT_MANIFEST"
	load "$1" "$2" digest "$TMP/digest-paths" "$MT_MANIFEST"
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
	done
	for sys in registry vkdr; do
		record load 0 "$sys" rss-peak-cached \
			"$(proc_kib "$(pid_of "$sys")" VmHWM)" KiB
	done
	stop REGISTRY_PID
	stop VKDR_PID
	rm -rf "$TMP/registry-store" "$TMP/vkdr-store"
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

# cold ROUND SYSTEM LINK - start SYSTEM with an empty store in front of
# the upstream (LINK "loop") or of the slow link to it (LINK "slow").
# CLIENTS clients pull the 64 MiB blob at once; on loopback, one client
# then pulls the 256 MiB blob.
cold()
{
	local round=$1 sys=$2 link=$3 store=$TMP/cold-store url from i
	local start end slowest=0 res code size t to pids=() m=cold64
	local upstream=$UPSTREAM_URL

	if [ "$link" = slow ]; then
		m=slow64
		upstream=$SLOW_URL
	fi
	rm -rf "$store"
	"start_$sys" "$store" "$upstream"
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

	if [ "$link" = loop ]; then
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
	local r link

	for ((r = 1; r <= COLD_ROUNDS; r++)); do
		direct "$r"
		for link in loop slow; do
			if ((r % 2)); then
				cold "$r" registry "$link"
				cold "$r" vkdr "$link"
			else
				cold "$r" vkdr "$link"
				cold "$r" registry "$link"
			fi
		done
	done
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
	start_nginx
	say "cached loads: $ROUNDS rounds of ${DURATION}s per test"
	cached_phase
	say "cold pulls: $COLD_ROUNDS rounds"
	cold_phase

	mv "$CSV" "${CSV%.new}"
	CSV=${CSV%.new}
	"$PYTHON" "$BENCH_DIR/report.py" --csv "$CSV" --machine "$(machine)" \
		--link "a slow link ($LINK_RATE/s)" ${BENCH_NO_README:+--no-readme} \
		--readme "$BENCH_DIR/README.md"
}

# Sourced (bench/s3.sh does, for its helpers), it only defines them.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	trap cleanup EXIT
	trap 'exit 1' INT TERM HUP
	main "$@"
fi
