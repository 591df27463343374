#!/bin/bash
# A thousand clients that connect and never finish their request, plus ten
# slowloris clients sending a header a byte at a time, against a port
# limited to 1,100 connections (--max-connections). While they hang, a
# normal client is served (/v2/, a cached blob, a blob fetched upstream),
# and the daemon's resident memory stays under a bound (256 MiB, or
# E2E_RSS_LIMIT_MIB for sanitizer builds). Then 200 more clients take the
# port over its limit: the daemon holds no more than its limit and refuses
# a further client at once rather than leaving it hanging. Once the
# clients leave, every connection thread ends and the port serves again.
. "$(dirname "$0")/lib.sh"

need_tools curl
# The daemon inherits this limit; 1,300 sockets need more than 1,024.
ulimit -n 4096 2>/dev/null || skip "cannot raise the open file limit to 4096"
rss_limit_mib=${E2E_RSS_LIMIT_MIB:-256}
limit=1100

make_image many v1 0.5 0.5
read -r cached missed <<<"$IMAGE_LAYERS"
start_fake_upstream "$IMAGE_DIR"
start_mirror --max-connections=$limit

blob_url()
{
	echo "$MIRROR_URL/v2/library/many/blobs/$1"
}

status_field()
{
	awk -v k="$1:" '$1 == k { print $2 }' "/proc/$MIRROR_PID/status"
}

threads_at_least()
{
	[ "$(status_field Threads)" -ge "$1" ]
}

threads_at_most()
{
	[ "$(status_field Threads)" -le "$1" ]
}

# hold VAR READY ARGS... - start hold_connections.py and wait until its
# connections are established.
hold()
{
	local var=$1 ready=$2

	shift 2
	spawn "$var" "$E2E_TMP/${ready##*/}.log" "$PYTHON" \
		"$E2E_DIR/hold_connections.py" --port "$MIRROR_PORT" \
		--ready "$ready" "$@"
	wait_until 120 "the clients of ${ready##*/} to connect" \
		test -s "$ready"
}

http_req "$E2E_TMP/got" "$(blob_url "$cached")"
[ "$HTTP_CODE" = 200 ] || fail "caching a blob answered $HTTP_CODE"
# Threads besides the connections': the main one, the listener's, and at
# times a few short-lived ones (an upstream fetch, a name lookup).
others=8

hold HOLD1 "$E2E_TMP/hold1" --idle 1000 --slow 10
# A connection has a thread of its own: count them to know the daemon
# holds every connection, not just the kernel's queue.
wait_until 120 "the daemon to take 1,010 connections" \
	threads_at_least 1011

http_req "$E2E_TMP/base" "$MIRROR_URL/v2/"
[ "$HTTP_CODE" = 200 ] || fail "/v2/ answered $HTTP_CODE under 1,010 clients"
http_req "$E2E_TMP/got" "$(blob_url "$cached")"
[ "$HTTP_CODE" = 200 ] && [ "$(file_digest "$E2E_TMP/got")" = "$cached" ] ||
	fail "a cached blob answered $HTTP_CODE or other bytes under load"
http_req "$E2E_TMP/got" "$(blob_url "$missed")"
[ "$HTTP_CODE" = 200 ] && [ "$(file_digest "$E2E_TMP/got")" = "$missed" ] ||
	fail "an uncached blob answered $HTTP_CODE or other bytes under load"
rss=$(status_field VmRSS)
note "1,010 clients held: $(status_field Threads) threads, VmRSS ${rss} KiB"
[ "$rss" -lt $((rss_limit_mib * 1024)) ] ||
	fail "VmRSS ${rss} KiB is over ${rss_limit_mib} MiB with 1,010 clients"

# Over the limit: 200 more, of which 90 fit.
hold HOLD2 "$E2E_TMP/hold2" --idle 200
wait_until 120 "the daemon to reach its limit" \
	threads_at_least $((limit + 1))
http_req "$E2E_TMP/refused" "$MIRROR_URL/v2/" --max-time 20
[ "$HTTP_CODE" != 200 ] || fail "a client over the limit was served"
[ "$HTTP_RC" != 28 ] ||
	fail "a client over the limit was left hanging, not refused"
threads_at_most $((limit + others)) ||
	fail "$(status_field Threads) threads: more than $limit connections"
kill -0 "$MIRROR_PID" || fail "the daemon died over its connection limit"

stop_pid "$HOLD2"
forget_pid "$HOLD2"
stop_pid "$HOLD1"
forget_pid "$HOLD1"
wait_until 120 "the connection threads to end" threads_at_most "$others"
http_req "$E2E_TMP/got" "$(blob_url "$cached")"
[ "$HTTP_CODE" = 200 ] && [ "$(file_digest "$E2E_TMP/got")" = "$cached" ] ||
	fail "after the clients left, a cached blob answered $HTTP_CODE"
note "1,010 hanging clients served around, the limit held, all released"
