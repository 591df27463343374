#!/bin/bash
# "vkdr mirror scrub" beside a running daemon. A cached layer is served
# once from the cache (so the daemon has checked it and trusts it until it
# stops), then a byte of it is flipped on disk. The scrub finds it, names
# it, and removes it, leaving the intact layer alone; the daemon's next
# answer for it comes whole from the upstream, and a second scrub finds
# nothing wrong.
. "$(dirname "$0")/lib.sh"

need_tools curl
make_image scrub v1 0.5 0.5
read -r bad good <<<"$IMAGE_LAYERS"
start_fake_upstream "$IMAGE_DIR"
start_mirror

blob_url()
{
	echo "$MIRROR_URL/v2/library/scrub/blobs/$1"
}

# A miss, then, once the layer is in the store, a hit: the hit is what
# makes the daemon check the object.
for d in "$bad" "$good"; do
	for i in 1 2; do
		http_req "$E2E_TMP/got" "$(blob_url "$d")"
		[ "$HTTP_CODE" = 200 ] &&
			[ "$(file_digest "$E2E_TMP/got")" = "$d" ] ||
			fail "pulling $d answered $HTTP_CODE or other bytes"
		wait_until 30 "$d to be cached" cached_intact "$d"
	done
done

f=$(cached_file "$bad")
printf '\377' | dd of="$f" bs=1 seek=1000 conv=notrunc status=none
[ "$(file_digest "$f")" != "$bad" ] || fail "flipping a byte of $f failed"

"$VKDR" mirror scrub >"$E2E_TMP/scrub.out" 2>"$E2E_TMP/scrub.err" ||
	fail "vkdr mirror scrub failed: $(cat "$E2E_TMP/scrub.err")"
grep -q "^removed $bad" "$E2E_TMP/scrub.out" ||
	fail "the scrub did not name the corrupt layer:" \
		"$(cat "$E2E_TMP/scrub.out")"
grep -q "1 corrupt and removed" "$E2E_TMP/scrub.out" ||
	fail "the scrub's summary is wrong: $(cat "$E2E_TMP/scrub.out")"
[ -z "$(cached_file "$bad")" ] || fail "the corrupt layer is still cached"
g=$(cached_file "$good")
[ -n "$g" ] && [ "$(file_digest "$g")" = "$good" ] ||
	fail "the scrub touched the intact layer"

n=$(fake_gets "/blobs/$bad")
http_req "$E2E_TMP/got" "$(blob_url "$bad")"
[ "$HTTP_CODE" = 200 ] && [ "$(file_digest "$E2E_TMP/got")" = "$bad" ] ||
	fail "after the scrub the layer answered $HTTP_CODE or other bytes"
[ "$(fake_gets "/blobs/$bad")" = $((n + 1)) ] ||
	fail "after the scrub the layer was not fetched upstream again"

"$VKDR" mirror scrub >"$E2E_TMP/scrub.out" 2>"$E2E_TMP/scrub.err" ||
	fail "the second scrub failed: $(cat "$E2E_TMP/scrub.err")"
grep -q "0 corrupt and removed" "$E2E_TMP/scrub.out" ||
	fail "the second scrub found something: $(cat "$E2E_TMP/scrub.out")"
note "scrub removed the corrupt layer; the daemon fetched it again"
