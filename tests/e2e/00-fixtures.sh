#!/bin/bash
# The fixtures themselves, against the real upstream with no mirror in
# between: a generated image pushes and pulls back byte for byte with
# skopeo and containerd, the access log counts blob GETs, and the fake
# upstream does what the failure tests rely on. When this test fails, the
# others' failures say nothing about the mirror.
. "$(dirname "$0")/lib.sh"

need_tools skopeo curl

start_upstream
make_image one v1 1 2
push_image "$IMAGE_DIR" one v1
read -r layer1 layer2 <<<"$IMAGE_LAYERS"

# skopeo, straight from the upstream.
skopeo_pull "127.0.0.1:$UPSTREAM_PORT/library/one:v1" "$E2E_TMP/out" v1 ||
	fail "skopeo pull from the upstream failed"
same_blobs "$E2E_TMP/out" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS
upstream_sync
[ "$(upstream_gets "/blobs/$layer1")" = 1 ] ||
	fail "access log: expected 1 GET of $layer1"

# containerd through a hosts dir pointing docker.io at the upstream.
if command -v containerd >/dev/null && [ "$(id -u)" = 0 ]; then
	start_containerd
	ctr_pull docker.io/library/one:v1 ||
		fail "ctr pull failed: $(tail -n 5 "$E2E_TMP/ctr-pull.log")"
	for d in $IMAGE_LAYERS; do
		ctr_blob "$d" "$E2E_TMP/ctr-blob" ||
			fail "containerd holds no $d"
		cmp -s "$E2E_TMP/ctr-blob" "$(layout_blob "$IMAGE_DIR" "$d")" ||
			fail "containerd holds other bytes for $d"
	done
	upstream_sync
	grep -q "/blobs/$layer2?ns=docker.io " "$UPSTREAM_ACCESS" ||
		fail "containerd did not send ns=docker.io"
else
	note "containerd part skipped (not installed or not root)"
fi

# A multi-arch index, by tag for arm64 and by digest.
make_image --index multi v1 0.5
push_image "$IMAGE_DIR" multi v1
skopeo_pull "127.0.0.1:$UPSTREAM_PORT/library/multi:v1" "$E2E_TMP/arm" v1 \
	--override-arch arm64 || fail "skopeo pull of the arm64 image failed"
same_blobs "$E2E_TMP/arm" "$IMAGE_ARM64_MANIFEST" $IMAGE_ARM64_LAYERS
skopeo_pull "127.0.0.1:$UPSTREAM_PORT/library/multi@$IMAGE_INDEX" \
	"$E2E_TMP/bydigest" v1 || fail "skopeo pull by index digest failed"
same_blobs "$E2E_TMP/bydigest" "$IMAGE_MANIFEST" $IMAGE_LAYERS

# The fake upstream: normal, corrupt, stalled and failing answers.
stop_upstream
UPSTREAM_PORT=
make_image fake v1 1
start_fake_upstream "$IMAGE_DIR"
blob_url=$UPSTREAM_URL/v2/library/fake/blobs/$IMAGE_LAYERS
want=$(layout_blob "$IMAGE_DIR" "$IMAGE_LAYERS")

http_req "$E2E_TMP/b" "$blob_url"
[ "$HTTP_CODE" = 200 ] && cmp -s "$E2E_TMP/b" "$want" ||
	fail "fake upstream: plain blob GET answered $HTTP_CODE"
http_req "$E2E_TMP/m" "$UPSTREAM_URL/v2/library/fake/manifests/v1" \
	-D "$E2E_TMP/h"
[ "$HTTP_CODE" = 200 ] || fail "fake upstream: tag answered $HTTP_CODE"
grep -qi "^docker-content-digest: $IMAGE_MANIFEST" "$E2E_TMP/h" ||
	fail "fake upstream: tag not resolved to $IMAGE_MANIFEST"

fake_mode "$IMAGE_LAYERS" corrupt
http_req "$E2E_TMP/b" "$blob_url"
[ "$HTTP_CODE" = 200 ] && [ "$(stat -c %s "$E2E_TMP/b")" = \
	"$(stat -c %s "$want")" ] && ! cmp -s "$E2E_TMP/b" "$want" ||
	fail "fake upstream: corrupt mode"

fake_mode "$IMAGE_LAYERS" status 429 7
http_req "$E2E_TMP/b" "$blob_url" -D "$E2E_TMP/h"
[ "$HTTP_CODE" = 429 ] && grep -qi '^retry-after: 7' "$E2E_TMP/h" ||
	fail "fake upstream: 429 mode answered $HTTP_CODE"

fake_mode "$IMAGE_LAYERS" stall
http_req "$E2E_TMP/b" "$blob_url" --max-time 3
[ "$HTTP_RC" = 28 ] || fail "fake upstream: stall mode, curl said $HTTP_RC"

[ "$(fake_gets "/blobs/$IMAGE_LAYERS")" = 4 ] ||
	fail "fake upstream: request log counts $(fake_gets "/blobs/")"
note "fixtures work"
