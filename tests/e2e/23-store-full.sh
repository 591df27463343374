#!/bin/bash
# A storage backend that fails: the faulty backend, first full after
# 1 MiB (enospc-after), then handing out corrupted bytes on every read
# (corrupt-read). A full store must not fail a pull: skopeo pulls the whole
# image, the layer that did not fit is streamed without being cached, and
# nothing half-written is left in the store. A store that corrupts what it
# reads must not reach a client either: every answer has the right bytes.
. "$(dirname "$0")/lib.sh"

need_tools curl skopeo
make_image full v1 0.25 2
read -r small big <<<"$IMAGE_LAYERS"
start_fake_upstream "$IMAGE_DIR"
start_mirror --storage=faulty --storage-opt enospc-after=1MiB


# The small layer first, so that it is the big one that does not fit.
http_req "$E2E_TMP/small" "$MIRROR_URL/v2/library/full/blobs/$small"
[ "$HTTP_CODE" = 200 ] && [ "$(file_digest "$E2E_TMP/small")" = "$small" ] ||
	fail "the small layer answered $HTTP_CODE or other bytes"
skopeo_pull "127.0.0.1:$MIRROR_PORT/library/full:v1" "$E2E_TMP/out" v1 ||
	fail "a pull through a full store failed"
same_blobs "$E2E_TMP/out" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS

# Commits may trail the clients' last bytes: wait for them.
wait_until 30 "the small layer to be cached" cached_intact "$small" \
	faulty-cache
wait_until 30 "the store's temporary files to go" store_tmp_empty \
	faulty-cache
[ -z "$(cached_file "$big" faulty-cache)" ] ||
	fail "the layer that did not fit was cached"
grep -q "store is full" "$MIRROR_LOG" ||
	fail "the daemon did not report the full store"
metric_positive store_failures ||
	fail "/metrics does not count the store failure"

# Streamed again, from the upstream again, still whole.
n=$(fake_gets "/blobs/$big")
http_req "$E2E_TMP/big" "$MIRROR_URL/v2/library/full/blobs/$big"
[ "$HTTP_CODE" = 200 ] && [ "$(file_digest "$E2E_TMP/big")" = "$big" ] ||
	fail "the uncached layer answered $HTTP_CODE or other bytes"
[ "$(fake_gets "/blobs/$big")" = $((n + 1)) ] ||
	fail "the uncached layer was not fetched upstream again"
stop_mirror

# Now a store that corrupts every read: the cached small layer is found
# bad, and no answer carries a corrupted byte, however often it is asked.
start_mirror --storage=faulty --storage-opt corrupt-read=1
for i in 1 2 3; do
	http_req "$E2E_TMP/small" "$MIRROR_URL/v2/library/full/blobs/$small"
	[ "$HTTP_CODE" = 200 ] && [ "$HTTP_RC" = 0 ] ||
		fail "read $i through a corrupting store answered $HTTP_CODE" \
			"(curl $HTTP_RC)"
	[ "$(file_digest "$E2E_TMP/small")" = "$small" ] ||
		fail "read $i through a corrupting store served corrupted bytes"
done
# The first read finds the copy cached before the restart; later ones may
# be answered by the fetch that replaced it, before its commit.
n=$(grep -c "corrupt object removed" "$MIRROR_LOG" || true)
[ "$n" -ge 1 ] || fail "the corrupting store was never detected"
note "full store streamed, corrupting store never served"
