#!/bin/bash
# An upstream that answers slowly. While it trickles a blob at ten bytes a
# second, which is slow but moving, the transfer is kept, and the daemon
# serves a blob through another mirror on another port meanwhile. Once it
# slows to a byte every three seconds, the daemon's stall timeout (set to
# two seconds with --stall-timeout) fires: the upstream sees the mirror
# hang up, the client gets an error, nothing is cached, and the blob is
# fetched whole once the upstream is fast again.
. "$(dirname "$0")/lib.sh"

need_tools curl
make_image slow v1 0.5 0.5
read -r slow other <<<"$IMAGE_LAYERS"
start_fake_upstream "$IMAGE_DIR"
fake_mode "$slow" trickle 0.1
mirror_configure
OTHER_PORT=$(free_port)
OTHER_URL=http://127.0.0.1:$OTHER_PORT
start_mirror --stall-timeout=2 --mirror="quay.io=$OTHER_PORT=$UPSTREAM_URL"
wait_until "$E2E_START_DEADLINE" "the second mirror on $OTHER_URL" \
	http_ok "$OTHER_URL/v2/"

url=$MIRROR_URL/v2/library/slow/blobs/$slow
curl -sS -N -o "$E2E_TMP/client" --max-time 300 "$url" \
	2>"$E2E_TMP/client.err" &
client=$!

client_has_bytes()
{
	[ -s "$E2E_TMP/client" ]
}
wait_until 60 "the client to receive trickled bytes" client_has_bytes

http_req "$E2E_TMP/other" "$OTHER_URL/v2/library/slow/blobs/$other" \
	--max-time 60
[ "$HTTP_CODE" = 200 ] && [ "$(file_digest "$E2E_TMP/other")" = "$other" ] ||
	fail "the other mirror answered $HTTP_CODE or other bytes meanwhile"
! fake_closed "/blobs/$slow" ||
	fail "a transfer moving ten bytes a second was dropped"
kill -0 "$client" 2>/dev/null ||
	fail "the client of the trickled blob ended while it was moving"

fake_mode "$slow" trickle 3
wait_until 120 "the mirror to drop the slowed upstream transfer" \
	fake_closed "/blobs/$slow"
client_rc=0
wait "$client" || client_rc=$?
[ "$client_rc" != 0 ] || fail "the client got a complete answer"
[ "$(file_digest "$E2E_TMP/client")" != "$slow" ] ||
	fail "the client got the whole blob from a stalled transfer"
grep -q "upstream fetch failed" "$MIRROR_LOG" ||
	fail "the daemon did not log the dropped transfer"
[ -z "$(find "$VKDR_HOME/mirror-cache" -name "${slow#sha256:}")" ] ||
	fail "the trickled blob was cached"
[ -z "$(find "$VKDR_HOME/mirror-cache/tmp" -type f 2>/dev/null)" ] ||
	fail "a temporary file was left in the cache"

fake_mode "$slow" ok
http_req "$E2E_TMP/got" "$url" --max-time 120
[ "$HTTP_CODE" = 200 ] && [ "$(file_digest "$E2E_TMP/got")" = "$slow" ] ||
	fail "with the upstream fast again the blob answered $HTTP_CODE" \
		"or other bytes"
note "slow transfer kept, stalled one dropped after --stall-timeout"
