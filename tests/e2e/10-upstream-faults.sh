#!/bin/bash
# An upstream that stalls half way through a blob, answers 503, or answers
# 429 with Retry-After. A stalled transfer must not block other requests
# nor leave anything half cached; errors come back as registry errors, in
# bounded time, without the mirror hammering the upstream with retries.
. "$(dirname "$0")/lib.sh"

need_tools curl
make_image faults v1 0.5 0.5 0.5 0.5
read -r stalled other failing limited <<<"$IMAGE_LAYERS"
start_fake_upstream "$IMAGE_DIR"
fake_mode "$stalled" stall
fake_mode "$failing" status 503
fake_mode "$limited" status 429 7
start_mirror

blob_url()
{
	echo "$MIRROR_URL/v2/library/faults/blobs/$1"
}

# The client of the stalled blob runs in the background; it is stopped by
# hand below, or by its own deadline.
curl -sS -o "$E2E_TMP/stalled" --max-time 300 "$(blob_url "$stalled")" \
	2>/dev/null &
stalled_client=$!
upstream_asked()
{
	[ "$(fake_gets "/blobs/$stalled")" -ge 1 ]
}
wait_until 60 "the mirror to ask the upstream for the stalled blob" \
	upstream_asked

http_req "$E2E_TMP/other" "$(blob_url "$other")" --max-time 60
[ "$HTTP_CODE" = 200 ] ||
	fail "another blob answered $HTTP_CODE during a stalled transfer"
[ "$(file_digest "$E2E_TMP/other")" = "$other" ] ||
	fail "another blob came back wrong during a stalled transfer"

kill "$stalled_client" 2>/dev/null || true
wait "$stalled_client" 2>/dev/null || true

# The mirror must abandon the stalled upstream transfer on its own, and
# keep nothing of it: once the upstream is fixed, the blob comes back
# whole.
wait_until 120 "the mirror to abandon the stalled upstream transfer" \
	fake_closed "/blobs/$stalled"
fake_mode "$stalled" ok
http_req "$E2E_TMP/stalled" "$(blob_url "$stalled")" --max-time 120
[ "$HTTP_CODE" = 200 ] && [ "$HTTP_RC" = 0 ] ||
	fail "the once-stalled blob answered $HTTP_CODE (curl $HTTP_RC)"
[ "$(file_digest "$E2E_TMP/stalled")" = "$stalled" ] ||
	fail "the once-stalled blob came back wrong"

http_req "$E2E_TMP/body" "$(blob_url "$failing")" --max-time 60
[ "$HTTP_RC" != 28 ] || fail "an upstream 503 made the mirror hang"
case $HTTP_CODE in
5??) ;;
*) fail "an upstream 503 answered $HTTP_CODE" ;;
esac
[ -n "$(json_error_code "$E2E_TMP/body")" ] ||
	fail "the answer to an upstream 503 carries no registry error"

http_req "$E2E_TMP/body" "$(blob_url "$limited")" --max-time 60
[ "$HTTP_RC" != 28 ] || fail "an upstream 429 made the mirror hang"
case $HTTP_CODE in
429|5??) ;;
*) fail "an upstream 429 answered $HTTP_CODE" ;;
esac
n=$(fake_gets "/blobs/$limited")
[ "$n" -le 3 ] || fail "one client request cost $n upstream GETs after a 429"
note "stall, 503 and 429 handled"
