#!/bin/bash
# Redirect mode (redirect=true): a blob GET the bucket holds is answered
# with 307 to a presigned URL of the object store; following it gives the
# blob's bytes (whole and by range), and skopeo pulls through it. The
# URL's expiry is checked by test_s3live (01-backend.sh), which can ask
# for a URL valid one second.
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=ceph.sh
. "$(dirname "$0")/ceph.sh"

need_tools skopeo curl docker-registry
need_ceph
ceph_start
start_upstream
make_image moved v1 1 2
push_image "$IMAGE_DIR" moved v1

PORT=$(free_port)
start_s3_mirror 1 "$PORT" --storage-opt redirect=true
skopeo_pull "127.0.0.1:$PORT/library/moved:v1" "$E2E_TMP/pull1" v1 ||
	fail "first pull failed"
wait_stored "$IMAGE_CONFIG" $IMAGE_LAYERS

for d in "$IMAGE_CONFIG" $IMAGE_LAYERS; do
	url=http://127.0.0.1:$PORT/v2/library/moved/blobs/$d
	out=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' \
		--max-time 30 "$url") || fail "GET $d failed"
	[ "${out%% *}" = 307 ] || fail "GET $d answered ${out%% *}, not 307"
	case ${out#* } in
	"$S3_ENDPOINT/$S3_BUCKET/blobs/sha256/${d#sha256:}?"*X-Amz-Signature=*) ;;
	*) fail "GET $d redirected to ${out#* }" ;;
	esac
	http_req "$E2E_TMP/blob" "$url" -L
	[ "$HTTP_CODE" = 200 ] || fail "following the redirect gave $HTTP_CODE"
	cmp -s "$E2E_TMP/blob" "$(layout_blob "$IMAGE_DIR" "$d")" ||
		fail "the redirect gave other bytes for $d"
done

# A range goes with the redirect: the store answers it.
d=${IMAGE_LAYERS%% *}
http_req "$E2E_TMP/part" \
	"http://127.0.0.1:$PORT/v2/library/moved/blobs/$d" -L -r 100-199
[ "$HTTP_CODE" = 206 ] || fail "a ranged GET gave $HTTP_CODE, not 206"
cmp -s "$E2E_TMP/part" <(tail -c +101 "$(layout_blob "$IMAGE_DIR" "$d")" |
	head -c 100) || fail "a ranged GET gave other bytes"

upstream_sync
before=()
for d in $IMAGE_LAYERS; do
	before+=("$(upstream_gets "/blobs/$d")")
done
skopeo_pull "127.0.0.1:$PORT/library/moved:v1" "$E2E_TMP/pull2" v1 ||
	fail "pull through redirects failed"
same_blobs "$E2E_TMP/pull2" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS
upstream_sync
i=0
for d in $IMAGE_LAYERS; do
	[ "$(upstream_gets "/blobs/$d")" = "${before[i]}" ] ||
		fail "$d was fetched upstream again"
	i=$((i + 1))
done
no_secret_logged
note "blob GETs redirected to the store; skopeo followed them"
