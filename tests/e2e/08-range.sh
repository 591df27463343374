#!/bin/bash
# Range requests on a cached blob: open-ended and bounded ranges answer 206
# with the right bytes and Content-Range; a range past the end answers 416.
. "$(dirname "$0")/lib.sh"

need_tools skopeo curl
start_upstream
make_image ranged v1 1
push_image "$IMAGE_DIR" ranged v1
start_mirror

url=$MIRROR_URL/v2/library/ranged/blobs/$IMAGE_LAYERS
want=$(layout_blob "$IMAGE_DIR" "$IMAGE_LAYERS")
size=$(stat -c %s "$want")

http_req "$E2E_TMP/full" "$url"
[ "$HTTP_CODE" = 200 ] && cmp -s "$E2E_TMP/full" "$want" ||
	fail "full GET answered $HTTP_CODE or other bytes"

http_req "$E2E_TMP/part" "$url" -H "Range: bytes=100-" -D "$E2E_TMP/h"
[ "$HTTP_CODE" = 206 ] || fail "bytes=100- answered $HTTP_CODE"
tail -c +101 "$want" | cmp -s - "$E2E_TMP/part" ||
	fail "bytes=100- returned other bytes"
grep -qi "^content-range: bytes 100-$((size - 1))/$size" "$E2E_TMP/h" ||
	fail "bytes=100-: wrong or missing Content-Range"

http_req "$E2E_TMP/part" "$url" -H "Range: bytes=0-9" -D "$E2E_TMP/h"
[ "$HTTP_CODE" = 206 ] || fail "bytes=0-9 answered $HTTP_CODE"
head -c 10 "$want" | cmp -s - "$E2E_TMP/part" ||
	fail "bytes=0-9 returned other bytes"
grep -qi "^content-range: bytes 0-9/$size" "$E2E_TMP/h" ||
	fail "bytes=0-9: wrong or missing Content-Range"

http_req "$E2E_TMP/part" "$url" -H "Range: bytes=999999999-"
[ "$HTTP_CODE" = 416 ] || fail "bytes=999999999- answered $HTTP_CODE"
note "ranges answered"
