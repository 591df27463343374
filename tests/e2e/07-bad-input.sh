#!/bin/bash
# Requests a mirror must refuse without asking the upstream: path
# traversal, invalid names and digests, an oversized header, methods
# other than GET and HEAD, and a namespace (ns=) that is not configured.
. "$(dirname "$0")/lib.sh"

need_tools curl
make_image app v1 1
start_fake_upstream "$IMAGE_DIR"
start_mirror

hex=${IMAGE_LAYERS#sha256:}
upstream_before=$(wc -l <"$FAKE_LOG")

# expect_4xx WHAT PATH [CURL_ARGS...] - the mirror refuses PATH as the
# client's fault, and stays up.
expect_4xx()
{
	local what=$1 path=$2

	shift 2
	http_req "$E2E_TMP/body" "$MIRROR_URL$path" --path-as-is "$@"
	case $HTTP_CODE in
	4??) ;;
	*) fail "$what: $path answered $HTTP_CODE, not 4xx" ;;
	esac
	! grep -q 'root:' "$E2E_TMP/body" || fail "$what: leaked a file"
}

http_req "$E2E_TMP/body" "$MIRROR_URL/v2/" -D "$E2E_TMP/headers"
[ "$HTTP_CODE" = 200 ] || fail "GET /v2/ answered $HTTP_CODE"
grep -qi '^docker-distribution-api-version: registry/2.0' \
	"$E2E_TMP/headers" ||
	fail "GET /v2/ lacks Docker-Distribution-API-Version"

expect_4xx traversal "/v2/../../etc/passwd/blobs/sha256:$hex"
expect_4xx traversal "/v2/library/../../../etc/passwd/manifests/v1"
expect_4xx "dot-dot name" "/v2/library/../app/manifests/v1"
expect_4xx "encoded dot-dot" "/v2/library/%2e%2e/app/manifests/v1"
expect_4xx "encoded dot-dot" "/v2/%2e%2e/%2e%2e/etc/passwd/blobs/sha256:$hex"
expect_4xx "uppercase name" "/v2/Library/App/manifests/v1"
expect_4xx "digest sha256:zz" "/v2/library/app/blobs/sha256:zz"
expect_4xx "63-hex digest" "/v2/library/app/blobs/sha256:${hex:1}"
expect_4xx "md5 digest" \
	"/v2/library/app/blobs/md5:d41d8cd98f00b204e9800998ecf8427e"
expect_4xx "manifest digest sha256:zz" "/v2/library/app/manifests/sha256:zz"

big=$(head -c 65536 /dev/zero | tr '\0' a)
http_req "$E2E_TMP/body" "$MIRROR_URL/v2/library/app/manifests/v1" \
	-H "X-Padding: $big"
case $HTTP_CODE in
4??|000) ;;
*) fail "a 64 KiB header answered $HTTP_CODE" ;;
esac
http_ok "$MIRROR_URL/v2/" || fail "the mirror died on a 64 KiB header"

for method in PUT POST PATCH DELETE; do
	for path in /v2/library/app/manifests/v1 \
		/v2/library/app/blobs/uploads/ \
		"/v2/library/app/blobs/sha256:$hex"; do
		http_req "$E2E_TMP/body" "$MIRROR_URL$path" -X "$method" \
			--data-binary x
		[ "$HTTP_CODE" = 405 ] ||
			fail "$method $path answered $HTTP_CODE, not 405"
		[ "$(json_error_code "$E2E_TMP/body")" = UNSUPPORTED ] ||
			fail "$method $path: no UNSUPPORTED error in the body"
	done
done

expect_4xx "unconfigured ns" \
	"/v2/library/app/manifests/v1?ns=evil.example.com"
expect_4xx "unconfigured ns" \
	"/v2/library/app/blobs/sha256:$hex?ns=evil.example.com"

upstream_after=$(wc -l <"$FAKE_LOG")
if [ "$upstream_after" != "$upstream_before" ]; then
	tail -n $((upstream_after - upstream_before)) "$FAKE_LOG" >&2
	fail "refused requests reached the upstream (above)"
fi

# And the mirror still does its job.
http_req "$E2E_TMP/body" "$MIRROR_URL/v2/library/app/blobs/sha256:$hex"
[ "$HTTP_CODE" = 200 ] || fail "a good blob GET answered $HTTP_CODE"
note "bad input refused, upstream untouched"
