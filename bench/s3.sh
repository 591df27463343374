#!/bin/bash
# s3.sh - the s3 storage backend beside the filesystem backend, in one run.
#
# Starts, on loopback only: a single-node Ceph cluster with radosgw
# (tests/ceph/ceph.sh), an upstream registry holding generated images
# (tests/e2e/lib.sh), and vkdr mirror serve in four configurations, one
# at a time:
#   filesystem    the default backend, the reference
#   s3            the bucket alone
#   s3-local      the bucket with a local tier (local=filesystem)
#   s3-redirect   the bucket in redirect mode (redirect=true)
# For each, round after round: cached 1 MiB blobs at 32 connections with
# wrk (in redirect mode, which wrk cannot follow, sequential fetches with
# curl -L instead; every configuration is also measured that way), one
# cached 256 MiB blob on one connection, and one cold 64 MiB blob pulled
# by 8 clients at once (slowest client, upstream GETs). The raw numbers go
# to bench/results/s3.csv, the medians into bench/README.md ("S3
# backend"), through bench/s3-report.py.
#
# Environment (all optional): VKDR, BENCH_BUILD, BENCH_ROUNDS (default 3),
# BENCH_DURATION (seconds per wrk run, default 10), BENCH_BLOBS (default
# 32), BENCH_SEQ (sequential fetches, default 128), BENCH_CSV,
# BENCH_NO_README, E2E_KEEP (keep the temporary directory), as for
# bench/run.sh and tests/e2e; BENCH_RGW_OPTS, options for radosgw's beast
# frontend (e.g. "tcp_nodelay=1"; default none, as radosgw ships). Needs
# root and the Ceph daemons, as the tests in tests/ceph do.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_VKDR=${VKDR:-}
# run.sh's helpers first: lib.sh then replaces its process handling
# (spawn, stop_pid, wait_until...) with the one ceph.sh relies on.
# shellcheck source=run.sh
. "$BENCH_DIR/run.sh"
# shellcheck source=../tests/e2e/lib.sh
. "$BENCH_DIR/../tests/e2e/lib.sh"
# shellcheck source=../tests/ceph/ceph.sh
. "$BENCH_DIR/../tests/ceph/ceph.sh"

ROUNDS=${BENCH_ROUNDS:-3}
CEPH_RGW_FRONTEND_OPTS=${BENCH_RGW_OPTS:-}
SEQ=${BENCH_SEQ:-128}
CSV=${BENCH_CSV:-$BENCH_DIR/results/s3.csv}
CONFIGS="filesystem s3 s3-local s3-redirect"
S3_BUCKET=vkdr-bench
TMP=$E2E_TMP

# run.sh's load() asks these; there is one daemon at a time.
url_of()
{
	echo "$VKDR_URL"
}

pid_of()
{
	echo "$VKDR_PID"
}

# serve_args CONFIG PREFIX LOCAL - the storage arguments of CONFIG, its
# bucket objects under PREFIX, its local tier or filesystem store in LOCAL.
serve_args()
{
	local s3=(--storage=s3 --storage-opt "endpoint=$S3_ENDPOINT"
		--storage-opt "bucket=$S3_BUCKET" --storage-opt "prefix=$2")

	case $1 in
	filesystem) echo --storage=filesystem --storage-opt "path=$3" ;;
	s3) echo "${s3[@]}" ;;
	s3-local)
		echo "${s3[@]}" --storage-opt local=filesystem \
			--storage-opt "local-path=$3"
		;;
	s3-redirect) echo "${s3[@]}" --storage-opt redirect=true ;;
	esac
}

# start_config CONFIG PREFIX LOCAL - vkdr mirror serve in CONFIG.
start_config()
{
	local args

	# Paths and prefixes are the script's own, without blanks.
	read -ra args <<<"$(serve_args "$@")"
	spawn VKDR_PID "$TMP/vkdr-$1.log" env VKDR_HOME="$TMP/home" \
		AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" \
		AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
		"$VKDR" mirror serve --listen=127.0.0.1 "${args[@]}"
	wait_until 60 "vkdr mirror serve ($1)" vkdr_up
}

stop_config()
{
	stop_pid "$VKDR_PID"
	forget_pid "$VKDR_PID"
}

# get_check URL DIGEST - GET URL, following a redirect, and check that
# the bytes hash to DIGEST.
get_check()
{
	local sum

	sum=$(curl -sSfL --max-time 300 "$1" | sha256sum) ||
		die "GET $1 failed"
	[ "sha256:${sum%% *}" = "$2" ] || die "GET $1: wrong bytes"
}

# warm_config - every blob the cached loads ask for, twice, checked: the
# daemon then holds them all and has checked their digests once.
warm_config()
{
	local _ d

	for _ in 1 2; do
		for d in "${SMALL_LAYERS[@]}" "$BIG256"; do
			get_check "$VKDR_URL/v2/library/$(repo_of "$d")/blobs/$d" \
				"$d"
		done
	done
}

repo_of()
{
	[ "$1" = "$BIG256" ] && echo big256 || echo small
}

# sequential ROUND CONFIG - SEQ fetches of the 1 MiB blobs one after the
# other on one connection, following redirects: one curl, many URLs.
sequential()
{
	local urls=() i n d out t bytes

	n=${#SMALL_LAYERS[@]}
	for ((i = 0; i < SEQ; i++)); do
		d=${SMALL_LAYERS[i % n]}
		urls+=(-o /dev/null "$VKDR_URL/v2/library/small/blobs/$d")
	done
	# Per transfer: its time (redirect included) and its bytes.
	out=$(curl -sSfL --max-time 600 \
		-w '%{http_code} %{time_total} %{size_download}\n' \
		"${urls[@]}") || die "sequential fetches from $2 failed"
	read -r n t bytes <<<"$(echo "$out" | awk '$1 == 200 { n++;
		t += $2; b += $3 } END { printf "%d %.6f %d", n, t, b }')"
	[ "$n" = "$SEQ" ] || die "sequential fetches from $2: $n of $SEQ"
	record seq "$1" "$2" seq-rps \
		"$(awk -v n="$n" -v t="$t" 'BEGIN { printf "%.1f", n / t }')" \
		req/s
	record seq "$1" "$2" seq-mibps "$(awk -v b="$bytes" -v t="$t" \
		-v mib="$MIB" 'BEGIN { printf "%.1f", b / t / mib }')" MiB/s
	say "round $1: $2 sequential: $n fetches in ${t}s"
}

# big ROUND CONFIG - the cached 256 MiB blob on one connection.
big()
{
	local t

	t=$(curl -sSfL -o /dev/null --max-time 300 -w '%{time_total}' \
		"$VKDR_URL/v2/library/big256/blobs/$BIG256") ||
		die "$2: cached 256 MiB GET failed"
	record big "$1" "$2" cached256-total "$t" s
	say "round $1: $2 cached 256 MiB in ${t}s"
}

# s3_delete KEY - remove KEY from the bucket (a signed DELETE).
s3_delete()
{
	curl -sS -o /dev/null --max-time 30 -X DELETE \
		--aws-sigv4 aws:amz:us-east-1:s3 \
		-u "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
		-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
		"$S3_ENDPOINT/$S3_BUCKET/$1" || die "DELETE $1 failed"
}

# cold ROUND CONFIG - CLIENTS clients at once ask a daemon with an empty
# cache (a prefix and a directory of the round's own) for the 64 MiB blob.
cold_config()
{
	local round=$1 cfg=$2 prefix=cold-$2-$1/ dir=$TMP/cold-$2-$1
	local from to i pids=() code size t slowest=0 key

	start_config "$cfg" "$prefix" "$dir"
	from=$(upstream_quiet)
	for ((i = 1; i <= CLIENTS; i++)); do
		curl -sSL -o /dev/null --max-time 300 \
			-w '%{http_code} %{size_download} %{time_total}\n' \
			"$VKDR_URL/v2/library/big64/blobs/$BIG64" \
			>"$TMP/client$i" 2>"$TMP/client$i.err" &
		pids+=("$!")
	done
	for ((i = 1; i <= CLIENTS; i++)); do
		wait "${pids[i - 1]}" ||
			die "$cfg client $i: $(cat "$TMP/client$i.err")"
	done
	for ((i = 1; i <= CLIENTS; i++)); do
		read -r code size t <"$TMP/client$i"
		[ "$code" = 200 ] && [ "$size" = "$BIG64_SIZE" ] ||
			die "$cfg client $i got status $code, $size bytes"
		slowest=$(awk -v a="$slowest" -v b="$t" \
			'BEGIN { print (b > a) ? b : a }')
	done
	record cold "$round" "$cfg" cold64-slowest "$slowest" s
	to=$(upstream_quiet)
	record cold "$round" "$cfg" cold64-upstream-gets "$(upstream_count \
		"$from" "$to" "GET /v2/library/big64/blobs/")" count
	# What was cached must come back right (not timed).
	key=blobs/sha256/${BIG64#sha256:}
	[ "$cfg" = filesystem ] ||
		wait_until 60 "$BIG64 in the bucket" s3_has "$prefix$key"
	get_check "$VKDR_URL/v2/library/big64/blobs/$BIG64" "$BIG64"
	stop_config
	# memstore holds 1 GiB: give the round's copy back.
	rm -rf "$dir"
	if [ "$cfg" != filesystem ]; then
		s3_delete "$prefix$key"
		ceph_cli radosgw-admin gc process --include-all \
			>>"$TMP/gc.log" 2>&1 || true
	fi
	say "round $round: $cfg cold: slowest of $CLIENTS clients in" \
		"${slowest}s"
}

# cached_config ROUND CONFIG - the cached loads against CONFIG.
cached_config()
{
	local round=$1 cfg=$2

	start_config "$cfg" hot/ "$TMP/store-$cfg"
	warm_config
	if [ "$cfg" = s3-redirect ]; then
		# wrk does not follow redirects: it would count 307s.
		say "round $round: $cfg: no wrk run (redirects)"
	else
		load "$round" "$cfg" blob "$TMP/blob-paths"
	fi
	sequential "$round" "$cfg"
	big "$round" "$cfg"
	record cached "$round" "$cfg" rss-peak \
		"$(proc_kib "$VKDR_PID" VmHWM)" KiB
	stop_config
}

main()
{
	local r cfg order rgw

	need docker-registry skopeo wrk curl sha256sum gzip "$PYTHON"
	need_ceph
	VKDR=$BENCH_VKDR
	find_vkdr
	mkdir -p "$(dirname "$CSV")"
	echo "phase,round,system,metric,value,unit" >"$CSV.new"
	CSV=$CSV.new
	LOAD_START=$(cut -d' ' -f1 /proc/loadavg)

	say "starting Ceph"
	ceph_start
	start_upstream
	make_images
	VKDR_PORT=$(free_port)
	VKDR_URL=http://127.0.0.1:$VKDR_PORT
	mkdir -p "$TMP/home"
	VKDR_HOME=$TMP/home "$VKDR" mirror add --host=docker.io \
		--port="$VKDR_PORT" --upstream="$UPSTREAM_URL" \
		>"$TMP/vkdr-add.log" 2>&1 || die "vkdr mirror add failed"

	for ((r = 1; r <= ROUNDS; r++)); do
		# Each round starts with another configuration.
		order=$(echo "$CONFIGS $CONFIGS" | cut -d' ' -f"$r-$((r + 3))")
		for cfg in $order; do
			cached_config "$r" "$cfg"
		done
		for cfg in $order; do
			cold_config "$r" "$cfg"
		done
	done

	mv "$CSV" "${CSV%.new}"
	CSV=${CSV%.new}
	rgw=${BENCH_RGW_OPTS:+, radosgw beast $BENCH_RGW_OPTS}
	"$PYTHON" "$BENCH_DIR/s3-report.py" --csv "$CSV" \
		--machine "$(machine)$rgw" ${BENCH_NO_README:+--no-readme} \
		--readme "$BENCH_DIR/README.md"
}

main "$@"
