#!/bin/bash
# Two mirror daemons share one bucket: an image pulled through the first
# (skopeo) is served to the second (skopeo, and containerd as root)
# from the bucket once the upstream is gone, byte for byte, and the
# upstream saw one GET per blob. containerd pulls by digest: a tag record
# is kept per Accept header, and containerd's differs from skopeo's.
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=ceph.sh
. "$(dirname "$0")/ceph.sh"

need_tools skopeo curl docker-registry
need_ceph
ceph_start
start_upstream
make_image shared v1 1 3
push_image "$IMAGE_DIR" shared v1

PORT1=$(free_port)
PORT2=$(free_port)
start_s3_mirror 1 "$PORT1"
skopeo_pull "127.0.0.1:$PORT1/library/shared:v1" "$E2E_TMP/pull1" v1 ||
	fail "pull through the first mirror failed"
same_blobs "$E2E_TMP/pull1" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS
wait_stored "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS

upstream_sync
for d in "$IMAGE_CONFIG" $IMAGE_LAYERS; do
	n=$(upstream_gets "/blobs/$d")
	[ "$n" = 1 ] || fail "the upstream saw $n GETs of $d, not 1"
done
stop_upstream

start_s3_mirror 2 "$PORT2"
# By tag: the tag record the first mirror wrote is shared too.
skopeo_pull "127.0.0.1:$PORT2/library/shared:v1" "$E2E_TMP/pull2" v1 ||
	fail "pull through the second mirror failed"
same_blobs "$E2E_TMP/pull2" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS
note "skopeo pulled from the bucket through the second mirror"

# Without redirect=true the daemon sends the bytes itself.
d=${IMAGE_LAYERS%% *}
http_req "$E2E_TMP/blob" "http://127.0.0.1:$PORT2/v2/library/shared/blobs/$d"
[ "$HTTP_CODE" = 200 ] || fail "a blob GET answered $HTTP_CODE, not 200"
cmp -s "$E2E_TMP/blob" "$(layout_blob "$IMAGE_DIR" "$d")" ||
	fail "a blob GET gave other bytes"

if [ "$(id -u)" = 0 ] && command -v containerd >/dev/null &&
	command -v ctr >/dev/null; then
	MIRROR_PORT=$PORT2
	start_containerd
	ctr_pull "docker.io/library/shared@$IMAGE_TOP" ||
		fail "ctr pull through the second mirror failed: $(tail -n 5 \
			"$E2E_TMP/ctr-pull.log")"
	for d in "$IMAGE_CONFIG" $IMAGE_LAYERS; do
		ctr_blob "$d" "$E2E_TMP/blob" || fail "containerd holds no $d"
		cmp -s "$E2E_TMP/blob" "$(layout_blob "$IMAGE_DIR" "$d")" ||
			fail "containerd holds other bytes for $d"
	done
	note "containerd pulled from the bucket through the second mirror"
fi
no_secret_logged
