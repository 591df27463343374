#!/bin/bash
# Sixteen clients ask at the same moment for a tag whose TTL has run out:
# the mirror asks the upstream about it once (one HEAD), the others wait
# for that answer, and every client gets the cached manifest.
. "$(dirname "$0")/lib.sh"

need_tools skopeo curl
ttl=3
clients=16
start_upstream
make_image reval v1 1
push_image "$IMAGE_DIR" reval v1
start_mirror --tag-ttl=$ttl

manifest_type=application/vnd.oci.image.manifest.v1+json
url=$MIRROR_URL/v2/library/reval/manifests/v1
http_req "$E2E_TMP/first" "$url" -H "Accept: $manifest_type"
[ "$HTTP_CODE" = 200 ] &&
	[ "$(file_digest "$E2E_TMP/first")" = "$IMAGE_MANIFEST" ] ||
	fail "the first pull of the tag answered $HTTP_CODE or other bytes"

# The tag record is written after the client has its last byte; its
# validated= line says from when the TTL counts.
tag_record()
{
	find "$VKDR_HOME/mirror-cache/tags" -type f 2>/dev/null | head -n 1
}
record_written()
{
	[ -n "$(tag_record)" ] && grep -q '^validated=' "$(tag_record)"
}
wait_until 30 "the tag record" record_written
validated=$(sed -n 's/^validated=//p' "$(tag_record)")

# Wait on the clock, not on the mirror: the TTL is over once a whole
# $ttl seconds have passed since validated.
clock_past()
{
	[ "$(date +%s)" -ge "$1" ]
}
wait_until 30 "the clock" clock_past $((validated + ttl))

# upstream_heads PATTERN - HEADs the upstream answered whose target
# matches PATTERN.
upstream_heads()
{
	grep -cE "\"HEAD [^ \"]*$1[^ \"]* HTTP/" "$UPSTREAM_ACCESS" || true
}
upstream_sync
heads_before=$(upstream_heads "/manifests/v1")
gets_before=$(upstream_gets "/manifests/")

# One curl, all transfers started at once: the requests overlap.
args=()
for ((i = 1; i <= clients; i++)); do
	args+=(-o "$E2E_TMP/m$i" "$url")
done
curl -sS --parallel --parallel-immediate --parallel-max "$clients" \
	--max-time 60 -H "Accept: $manifest_type" -w '%{http_code}\n' \
	"${args[@]}" >"$E2E_TMP/codes" 2>"$E2E_TMP/curl.err" ||
	fail "curl failed: $(cat "$E2E_TMP/curl.err")"
[ "$(grep -c '^200$' "$E2E_TMP/codes")" = "$clients" ] ||
	fail "not every client got 200: $(tr '\n' ' ' <"$E2E_TMP/codes")"
for ((i = 1; i <= clients; i++)); do
	[ "$(file_digest "$E2E_TMP/m$i")" = "$IMAGE_MANIFEST" ] ||
		fail "client $i got other bytes than the manifest"
done

upstream_sync
heads=$(($(upstream_heads "/manifests/v1") - heads_before))
gets=$(($(upstream_gets "/manifests/") - gets_before))
[ "$heads" = 1 ] ||
	fail "$clients clients of an expired tag caused $heads upstream" \
		"HEADs, not 1"
[ "$gets" = 0 ] || fail "the unchanged tag was fetched again ($gets GETs)"
grep -q ' revalidated ' "$MIRROR_LOG" ||
	fail "the mirror's log shows no revalidated request"
note "$clients clients of an expired tag, 1 upstream HEAD"
