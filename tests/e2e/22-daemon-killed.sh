#!/bin/bash
# The daemon is killed with SIGKILL while it downloads a blob, then
# started again. The killed daemon leaves a half-written temporary file in
# the cache (the test checks that it did, so that the clean-up below is
# really exercised). After the restart: the temporary file is gone, the
# spool directory is empty, the blob is not in the cache, a request with
# the upstream failing gets an error rather than the half blob, and once
# the upstream answers again the blob is fetched and served whole.
. "$(dirname "$0")/lib.sh"

need_tools curl
make_image crash v1 2
blob=$IMAGE_LAYERS
start_fake_upstream "$IMAGE_DIR"
fake_mode "$blob" stall
start_mirror

url=$MIRROR_URL/v2/library/crash/blobs/$blob
cache=$VKDR_HOME/mirror-cache
spool=$VKDR_HOME/mirror-spool

curl -sS -o "$E2E_TMP/client" --max-time 300 "$url" \
	2>"$E2E_TMP/client.err" &
client=$!

client_has_bytes()
{
	[ -s "$E2E_TMP/client" ]
}
wait_until 60 "the client to receive the first half of the blob" \
	client_has_bytes

# The daemon writes the store before it hands bytes to clients, so the
# temporary file holds the first half by now.
leftovers=$(find "$cache/tmp" -type f -size +0 2>/dev/null)
[ -n "$leftovers" ] ||
	fail "no temporary file in the cache during the download"

# The shell reports the killed job on its stderr: keep that out.
exec 3>&2 2>/dev/null
kill -KILL -- "-$MIRROR_PID"
wait "$MIRROR_PID" || true
exec 2>&3 3>&-
forget_pid "$MIRROR_PID"
client_rc=0
wait "$client" || client_rc=$?
[ "$client_rc" != 0 ] ||
	fail "the client got a complete answer from a killed daemon"
[ "$(file_digest "$E2E_TMP/client")" != "$blob" ] ||
	fail "the client got the whole blob from a killed daemon"
[ -n "$(find "$cache/tmp" -type f 2>/dev/null)" ] ||
	fail "the temporary file vanished with the daemon"

# Restart with the upstream failing: nothing half-fetched may be served.
fake_mode "$blob" status 503
start_mirror
[ -z "$(find "$cache/tmp" -type f 2>/dev/null)" ] ||
	fail "the restart left temporary files: $(ls "$cache/tmp")"
[ -z "$(find "$spool" -mindepth 1 2>/dev/null)" ] ||
	fail "the spool directory is not empty: $(ls "$spool")"
[ -z "$(find "$cache" -name "${blob#sha256:}" 2>/dev/null)" ] ||
	fail "the half blob is in the cache under its name"

http_req "$E2E_TMP/again" "$url" --max-time 60
case $HTTP_CODE in
5??) ;;
*) fail "after the restart, with the upstream failing, the blob" \
	"answered $HTTP_CODE" ;;
esac
[ -n "$(json_error_code "$E2E_TMP/again")" ] ||
	fail "the answer with the upstream failing is not a registry error"
http_req "$E2E_TMP/head" "$url" --head --max-time 60
[ "$HTTP_CODE" != 200 ] ||
	fail "after the restart a HEAD of the half blob answered 200"

fake_mode "$blob" ok
http_req "$E2E_TMP/got" "$url" --max-time 120
[ "$HTTP_CODE" = 200 ] && [ "$HTTP_RC" = 0 ] ||
	fail "after the restart the blob answered $HTTP_CODE (curl $HTTP_RC)"
[ "$(file_digest "$E2E_TMP/got")" = "$blob" ] ||
	fail "after the restart the blob came back wrong"
wait_until 30 "the refetched blob to be cached" cached_intact "$blob"
wait_until 30 "the temporary files of the refetch to go" store_tmp_empty
note "SIGKILL mid-download: leftovers cleaned, only whole blobs served"
