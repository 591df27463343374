#!/bin/bash
# The local tier (local=filesystem): blobs a mirror commits to the bucket
# are copied to its local directory too, byte for byte. With radosgw and
# the upstream both gone, those blobs are still served, from the local
# tier alone. A second mirror on the same bucket, with an empty local
# tier of its own, fills it on its first hit of a blob, and leaves out a
# blob larger than its local-max-size, which it serves from the bucket.
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=ceph.sh
. "$(dirname "$0")/ceph.sh"

need_tools skopeo curl docker-registry
need_ceph
ceph_start
start_upstream
make_image tiered v1 1 3
push_image "$IMAGE_DIR" tiered v1
small=${IMAGE_LAYERS%% *} big=${IMAGE_LAYERS##* }

# local_copy DIR DIGEST - the copy of blob DIGEST in the local tier DIR.
local_copy()
{
	echo "$1/blobs/sha256/${2#sha256:}"
}

# has_local_copy DIR DIGEST - the local tier DIR holds DIGEST, intact.
has_local_copy()
{
	cmp -s "$(local_copy "$1" "$2")" "$(layout_blob "$IMAGE_DIR" "$2")"
}

# blob_served PORT DIGEST - the mirror on PORT answers DIGEST with its
# bytes.
blob_served()
{
	http_req "$E2E_TMP/blob" \
		"http://127.0.0.1:$1/v2/library/tiered/blobs/$2"
	[ "$HTTP_CODE" = 200 ] ||
		fail "GET $2 on port $1 answered $HTTP_CODE, not 200"
	cmp -s "$E2E_TMP/blob" "$(layout_blob "$IMAGE_DIR" "$2")" ||
		fail "GET $2 on port $1 gave other bytes"
}

LOCAL1=$E2E_TMP/local1
PORT1=$(free_port)
start_s3_mirror 1 "$PORT1" --storage-opt local=filesystem \
	--storage-opt local-path="$LOCAL1"
skopeo_pull "127.0.0.1:$PORT1/library/tiered:v1" "$E2E_TMP/pull1" v1 ||
	fail "pull through the first mirror failed"
same_blobs "$E2E_TMP/pull1" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS
wait_stored "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS
# The copy follows the upload to the bucket, within the same commit.
for d in "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS; do
	wait_until 30 "$d in the local tier" has_local_copy "$LOCAL1" "$d"
done
note "the first pull left every blob in the local tier"

# Neither the bucket nor the upstream: only the local tier can answer.
ceph_rgw_kill
stop_upstream
for d in "$IMAGE_CONFIG" $IMAGE_LAYERS; do
	blob_served "$PORT1" "$d"
done
note "with radosgw and the upstream down, blobs came from the local tier"

# A second mirror, its local tier empty and capped below the big layer.
ceph_rgw_start
LOCAL2=$E2E_TMP/local2
PORT2=$(free_port)
start_s3_mirror 2 "$PORT2" --storage-opt local=filesystem \
	--storage-opt local-path="$LOCAL2" --storage-opt local-max-size=2MiB
[ ! -e "$(local_copy "$LOCAL2" "$small")" ] ||
	fail "the second mirror's local tier was not empty"
blob_served "$PORT2" "$small"
has_local_copy "$LOCAL2" "$small" ||
	fail "the first hit left no copy of $small in the local tier"
blob_served "$PORT2" "$big"
[ ! -e "$(local_copy "$LOCAL2" "$big")" ] ||
	fail "$big, larger than local-max-size, is in the local tier"
# Served from the local copy now: it goes on once the bucket is gone.
ceph_rgw_kill
blob_served "$PORT2" "$small"
no_secret_logged
note "the second mirror filled its local tier on the first hit"
