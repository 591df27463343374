#!/bin/bash
# The upstream sends wrong bytes for a blob. The client must never receive
# a complete body with the wrong digest, and the mirror must keep nothing
# for that digest: once the upstream is fixed, the next request goes to
# the upstream again and gets the right bytes.
. "$(dirname "$0")/lib.sh"

need_tools curl
make_image bad v1 1
start_fake_upstream "$IMAGE_DIR"
fake_mode "$IMAGE_LAYERS" corrupt
start_mirror

url=$MIRROR_URL/v2/library/bad/blobs/$IMAGE_LAYERS
http_req "$E2E_TMP/got" "$url" --max-time 60
if [ "$HTTP_RC" = 0 ] && [ "$HTTP_CODE" = 200 ] &&
	[ "$(file_digest "$E2E_TMP/got")" != "$IMAGE_LAYERS" ]; then
	fail "the client got a complete body with the wrong digest"
fi
note "corrupt blob: status $HTTP_CODE, curl exit $HTTP_RC"
n=$(fake_gets "/blobs/$IMAGE_LAYERS")
[ "$n" -ge 1 ] || fail "the mirror never asked the upstream"

hex=${IMAGE_LAYERS#sha256:}
found=$(find "$VKDR_HOME" -name "$hex" 2>/dev/null)
[ -z "$found" ] || fail "the corrupt blob was stored: $found"

fake_mode "$IMAGE_LAYERS" ok
http_req "$E2E_TMP/got" "$url" --max-time 60
[ "$HTTP_RC" = 0 ] && [ "$HTTP_CODE" = 200 ] ||
	fail "after the fix the blob answered $HTTP_CODE (curl $HTTP_RC)"
[ "$(file_digest "$E2E_TMP/got")" = "$IMAGE_LAYERS" ] ||
	fail "after the fix the blob has the wrong digest"
m=$(fake_gets "/blobs/$IMAGE_LAYERS")
[ "$m" = $((n + 1)) ] ||
	fail "expected exactly one more upstream GET, saw $((m - n))"
note "nothing cached from the corrupt answer"
