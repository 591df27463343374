#!/bin/bash
# The store goes away under a running mirror (radosgw killed): pulls of a
# cached image and of a new one still work, through the upstream, and the
# outage is logged once, not per request. Once radosgw is back the mirror
# serves from the bucket again.
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=ceph.sh
. "$(dirname "$0")/ceph.sh"

need_tools skopeo curl docker-registry
need_ceph
ceph_start
start_upstream
make_image fresh v1 1
fresh_dir=$IMAGE_DIR fresh_blobs="$IMAGE_MANIFEST $IMAGE_CONFIG $IMAGE_LAYERS"
push_image "$IMAGE_DIR" fresh v1
make_image cached v1 1 2
push_image "$IMAGE_DIR" cached v1

PORT=$(free_port)
start_s3_mirror 1 "$PORT"
skopeo_pull "127.0.0.1:$PORT/library/cached:v1" "$E2E_TMP/pull1" v1 ||
	fail "pull with the store up failed"
wait_stored "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS

ceph_rgw_kill
skopeo_pull "127.0.0.1:$PORT/library/cached:v1" "$E2E_TMP/pull2" v1 ||
	fail "pull of a cached image with the store down failed"
same_blobs "$E2E_TMP/pull2" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS
skopeo_pull "127.0.0.1:$PORT/library/fresh:v1" "$E2E_TMP/pull3" v1 ||
	fail "pull of a new image with the store down failed"
# shellcheck disable=SC2086
IMAGE_DIR=$fresh_dir same_blobs "$E2E_TMP/pull3" $fresh_blobs

n=$(grep -c 'vkdr\[s3\]: warning: store .* unreachable' \
	"$E2E_TMP/mirror1.log" || true)
[ "$n" = 1 ] || fail "the outage was logged $n times, not once"

# Back: once a request has found the store again, pulls come from it.
ceph_rgw_start
upstream_sync
before=()
for d in $IMAGE_LAYERS; do
	before+=("$(upstream_gets "/blobs/$d")")
done
store_back()
{
	curl -s -o /dev/null --max-time 10 \
		"http://127.0.0.1:$PORT/v2/library/cached/blobs/$IMAGE_CONFIG"
	grep -q 'vkdr\[s3\]: info: store .* reachable again' \
		"$E2E_TMP/mirror1.log"
}
wait_until 60 "the mirror to find the store again" store_back
skopeo_pull "127.0.0.1:$PORT/library/cached:v1" "$E2E_TMP/pull4" v1 ||
	fail "pull with the store back failed"
same_blobs "$E2E_TMP/pull4" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS
upstream_sync
i=0
for d in $IMAGE_LAYERS; do
	[ "$(upstream_gets "/blobs/$d")" = "${before[i]}" ] ||
		fail "with the store back, $d was fetched upstream again"
	i=$((i + 1))
done
no_secret_logged
note "pulls went on through the outage; the store serves again after it"
