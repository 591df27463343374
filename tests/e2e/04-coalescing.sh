#!/bin/bash
# Eight clients ask for one uncached 32 MiB blob at the same time: each
# gets the right bytes and the upstream serves the blob exactly once.
. "$(dirname "$0")/lib.sh"

need_tools skopeo curl
start_upstream
make_image big v1 32
push_image "$IMAGE_DIR" big v1
start_mirror

url=$MIRROR_URL/v2/library/big/blobs/$IMAGE_LAYERS
pids=()
for i in 1 2 3 4 5 6 7 8; do
	curl -sS -o "$E2E_TMP/blob$i" -w '%{http_code}\n' --max-time 120 \
		"$url" >"$E2E_TMP/code$i" 2>"$E2E_TMP/curl$i.err" &
	pids+=("$!")
done
for i in 1 2 3 4 5 6 7 8; do
	wait "${pids[i - 1]}" ||
		fail "client $i: curl failed: $(cat "$E2E_TMP/curl$i.err")"
done
for i in 1 2 3 4 5 6 7 8; do
	[ "$(cat "$E2E_TMP/code$i")" = 200 ] ||
		fail "client $i got status $(cat "$E2E_TMP/code$i")"
	[ "$(file_digest "$E2E_TMP/blob$i")" = "$IMAGE_LAYERS" ] ||
		fail "client $i got bytes with the wrong digest"
done

upstream_sync
n=$(upstream_gets "/blobs/$IMAGE_LAYERS")
[ "$n" = 1 ] || fail "the upstream served the blob $n times, not once"
note "8 concurrent clients, 1 upstream GET"
