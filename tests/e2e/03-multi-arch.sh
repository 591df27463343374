#!/bin/bash
# A multi-arch index (linux/amd64 + linux/arm64) pulls through the mirror
# by tag for arm64, then by the index digest, and the index itself comes
# back with the digest it was pushed with.
. "$(dirname "$0")/lib.sh"

need_tools skopeo curl
start_upstream
make_image --index multi v1 1
push_image "$IMAGE_DIR" multi v1
start_mirror

skopeo_pull "127.0.0.1:$MIRROR_PORT/library/multi:v1" "$E2E_TMP/arm" v1 \
	--override-arch arm64 || fail "pull by tag for arm64 failed"
same_blobs "$E2E_TMP/arm" "$IMAGE_ARM64_MANIFEST" "$IMAGE_ARM64_CONFIG" \
	$IMAGE_ARM64_LAYERS

skopeo_pull "127.0.0.1:$MIRROR_PORT/library/multi@$IMAGE_INDEX" \
	"$E2E_TMP/amd" v1 --override-arch amd64 ||
	fail "pull by index digest failed"
same_blobs "$E2E_TMP/amd" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS

http_req "$E2E_TMP/index" "$MIRROR_URL/v2/library/multi/manifests/v1" \
	-H "Accept: application/vnd.oci.image.index.v1+json"
[ "$HTTP_CODE" = 200 ] || fail "GET of the index by tag answered $HTTP_CODE"
[ "$(file_digest "$E2E_TMP/index")" = "$IMAGE_INDEX" ] ||
	fail "the index came back with other bytes"
note "multi-arch index pulled by tag and by digest"
