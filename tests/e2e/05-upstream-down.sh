#!/bin/bash
# With the upstream stopped, an image pulled once still pulls from the
# cache, and a request for something never cached fails at once with a
# 5xx registry error instead of hanging.
. "$(dirname "$0")/lib.sh"

need_tools skopeo curl
start_upstream
make_image cold v1 1
cold_layer=$IMAGE_LAYERS
push_image "$IMAGE_DIR" cold v1
make_image warm v1 1 1
push_image "$IMAGE_DIR" warm v1
start_mirror

skopeo_pull "127.0.0.1:$MIRROR_PORT/library/warm:v1" "$E2E_TMP/pull1" v1 ||
	fail "pull with the upstream up failed"
stop_upstream

skopeo_pull "127.0.0.1:$MIRROR_PORT/library/warm:v1" "$E2E_TMP/pull2" v1 ||
	fail "pull of a cached image with the upstream down failed"
same_blobs "$E2E_TMP/pull2" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS

for path in "blobs/$cold_layer" "manifests/v1"; do
	http_req "$E2E_TMP/body" "$MIRROR_URL/v2/library/cold/$path" \
		--max-time 30
	[ "$HTTP_RC" != 28 ] || fail "GET $path hung with the upstream down"
	case $HTTP_CODE in
	5??) ;;
	*) fail "GET $path with the upstream down answered $HTTP_CODE" ;;
	esac
	[ -n "$(json_error_code "$E2E_TMP/body")" ] ||
		fail "GET $path: the $HTTP_CODE carries no registry error"
done
note "cached image served, uncached one refused with the upstream down"
