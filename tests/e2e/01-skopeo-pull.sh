#!/bin/bash
# skopeo pulls a two-layer image through the mirror: the bytes are those
# that were pushed, a second pull is served from the cache with no blob
# GET reaching the upstream, and /metrics counts the hits.
. "$(dirname "$0")/lib.sh"

need_tools skopeo curl
start_upstream
make_image app v1 1 2
push_image "$IMAGE_DIR" app v1
start_mirror

skopeo_pull "127.0.0.1:$MIRROR_PORT/library/app:v1" "$E2E_TMP/pull1" v1 ||
	fail "first pull through the mirror failed"
same_blobs "$E2E_TMP/pull1" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS

upstream_sync
before=()
for d in $IMAGE_LAYERS; do
	n=$(upstream_gets "/blobs/$d")
	[ "$n" -ge 1 ] || fail "the mirror never fetched $d from the upstream"
	before+=("$n")
done

skopeo_pull "127.0.0.1:$MIRROR_PORT/library/app:v1" "$E2E_TMP/pull2" v1 ||
	fail "second pull through the mirror failed"
same_blobs "$E2E_TMP/pull2" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS

upstream_sync
i=0
for d in $IMAGE_LAYERS; do
	n=$(upstream_gets "/blobs/$d")
	[ "$n" = "${before[i]}" ] ||
		fail "second pull fetched $d from the upstream again"
	i=$((i + 1))
done

metric_positive 'hit' || fail "/metrics shows no cache hit"
metric_positive 'vkdr_mirror_cache_bytes' ||
	fail "/metrics shows an empty cache after a pull"
note "pulled twice, second pull from the cache"
