#!/bin/bash
# Cached objects corrupted on disk while the daemon was stopped: one byte
# flipped in a cached layer, in another layer and in the manifest. The
# restarted daemon hashes an object before it serves it for the first
# time, so none of the bad bytes reach a client: each object is found
# corrupt, removed from the store, fetched again from the upstream (one
# GET each), and answered right, a Range request included.
. "$(dirname "$0")/lib.sh"

need_tools curl
make_image rot v1 1 1
read -r first second <<<"$IMAGE_LAYERS"
start_fake_upstream "$IMAGE_DIR"
start_mirror

base=$MIRROR_URL/v2/library/rot
manifest_type=application/vnd.oci.image.manifest.v1+json

# flip_byte FILE - complement the byte in the middle of FILE, in place.
flip_byte()
{
	"$PYTHON" - "$1" <<-'PY'
	import os, sys
	with open(sys.argv[1], "r+b") as f:
	    size = os.fstat(f.fileno()).st_size
	    f.seek(size // 2)
	    b = f.read(1)
	    f.seek(size // 2)
	    f.write(bytes([b[0] ^ 0xFF]))
	PY
}

for d in "$first" "$second"; do
	http_req "$E2E_TMP/got" "$base/blobs/$d"
	[ "$HTTP_CODE" = 200 ] && [ "$(file_digest "$E2E_TMP/got")" = "$d" ] ||
		fail "first pull of $d answered $HTTP_CODE or other bytes"
done
http_req "$E2E_TMP/got" "$base/manifests/$IMAGE_MANIFEST" \
	-H "Accept: $manifest_type"
[ "$HTTP_CODE" = 200 ] &&
	[ "$(file_digest "$E2E_TMP/got")" = "$IMAGE_MANIFEST" ] ||
	fail "first pull of the manifest answered $HTTP_CODE or other bytes"
stop_mirror

for d in "$first" "$second" "$IMAGE_MANIFEST"; do
	wait_until 30 "$d to be cached by the first pull" cached_intact "$d"
	f=$(cached_file "$d")
	flip_byte "$f"
	[ "$(file_digest "$f")" != "$d" ] || fail "flipping a byte of $f failed"
done
gets_before=$(fake_gets "/blobs/")
manifest_gets_before=$(fake_gets "/manifests/")

start_mirror

# A full GET: the right bytes, from the upstream again.
http_req "$E2E_TMP/got" "$base/blobs/$first"
[ "$HTTP_CODE" = 200 ] && [ "$HTTP_RC" = 0 ] ||
	fail "the corrupted layer answered $HTTP_CODE (curl $HTTP_RC)"
[ "$(file_digest "$E2E_TMP/got")" = "$first" ] ||
	fail "the client got the corrupted bytes of a layer"

# A Range request covering the flipped byte.
want=$(layout_blob "$IMAGE_DIR" "$second")
size=$(stat -c %s "$want")
http_req "$E2E_TMP/part" "$base/blobs/$second" \
	-H "Range: bytes=$((size / 2 - 10))-$((size / 2 + 9))"
[ "$HTTP_CODE" = 206 ] ||
	fail "a range of the corrupted layer answered $HTTP_CODE"
dd if="$want" bs=1 skip=$((size / 2 - 10)) count=20 status=none |
	cmp -s - "$E2E_TMP/part" ||
	fail "a range of the corrupted layer returned the corrupted bytes"

# The manifest, by digest.
http_req "$E2E_TMP/got" "$base/manifests/$IMAGE_MANIFEST" \
	-H "Accept: $manifest_type"
[ "$HTTP_CODE" = 200 ] &&
	[ "$(file_digest "$E2E_TMP/got")" = "$IMAGE_MANIFEST" ] ||
	fail "the corrupted manifest answered $HTTP_CODE or other bytes"

n=$(($(fake_gets "/blobs/") - gets_before))
[ "$n" = 2 ] || fail "expected 2 upstream blob GETs after the restart, saw $n"
n=$(($(fake_gets "/manifests/") - manifest_gets_before))
[ "$n" = 1 ] ||
	fail "expected 1 upstream manifest GET after the restart, saw $n"
n=$(grep -c "corrupt object removed" "$MIRROR_LOG" || true)
[ "$n" = 3 ] || fail "expected 3 corrupt objects in the log, saw $n"
metric_positive verify_failures ||
	fail "/metrics does not count the corrupt objects"

# The store holds good copies again, and serving them costs no GET.
for d in "$first" "$second" "$IMAGE_MANIFEST"; do
	wait_until 30 "$d to be cached intact again" cached_intact "$d"
done
gets_before=$(fake_gets "/blobs/")
http_req "$E2E_TMP/got" "$base/blobs/$first"
[ "$HTTP_CODE" = 200 ] && [ "$(file_digest "$E2E_TMP/got")" = "$first" ] ||
	fail "the refetched layer answered $HTTP_CODE or other bytes"
[ "$(fake_gets "/blobs/")" = "$gets_before" ] ||
	fail "serving the refetched layer went upstream again"
note "three corrupted objects detected, removed and fetched again"
