#!/bin/bash
# The upstream dies half way through a blob: the fake upstream sends half
# of it and hangs, and the test kills it. The client must get an error,
# never a complete body; the cache must hold nothing of the blob, neither
# under its name nor as a temporary file, so that asking again with the
# upstream still down answers an error; and once the upstream is back, the
# next pull fetches the blob again and gets it whole.
. "$(dirname "$0")/lib.sh"

need_tools curl
make_image killed v1 2
blob=$IMAGE_LAYERS
start_fake_upstream "$IMAGE_DIR"
fake_mode "$blob" stall
start_mirror

url=$MIRROR_URL/v2/library/killed/blobs/$blob
cache=$VKDR_HOME/mirror-cache

curl -sS -o "$E2E_TMP/client" --max-time 300 "$url" \
	2>"$E2E_TMP/client.err" &
client=$!

# The client has bytes once the daemon streams the first half.
client_has_bytes()
{
	[ -s "$E2E_TMP/client" ]
}
wait_until 60 "the client to receive the first half of the blob" \
	client_has_bytes

stop_upstream
client_rc=0
wait "$client" || client_rc=$?
[ "$client_rc" != 0 ] ||
	fail "the client got a complete answer from a killed upstream"
[ "$(file_digest "$E2E_TMP/client")" != "$blob" ] ||
	fail "the client got the whole blob from a killed upstream"
note "client: curl exit $client_rc after $(stat -c %s "$E2E_TMP/client") bytes"

# Nothing of the blob in the cache, nor in the spool directory.
[ -z "$(find "$cache" -name "${blob#sha256:}" 2>/dev/null)" ] ||
	fail "the partial blob was stored"
store_tmp_empty ||
	fail "a temporary file was left in the cache: $(ls "$cache/tmp")"
[ -z "$(find "$VKDR_HOME/mirror-spool" -type f 2>/dev/null)" ] ||
	fail "a file was left in the spool directory"

# Asking again, with the upstream still down, answers a registry error.
http_req "$E2E_TMP/again" "$url" --max-time 60
case $HTTP_CODE in
5??) ;;
*) fail "with the upstream down the blob answered $HTTP_CODE" ;;
esac
[ -n "$(json_error_code "$E2E_TMP/again")" ] ||
	fail "with the upstream down the answer is not a registry error"

# The upstream comes back on the same port: the blob is fetched again.
fake_mode "$blob" ok
start_fake_upstream "$IMAGE_DIR"
http_req "$E2E_TMP/got" "$url" --max-time 120
[ "$HTTP_CODE" = 200 ] && [ "$HTTP_RC" = 0 ] ||
	fail "with the upstream back the blob answered $HTTP_CODE" \
		"(curl $HTTP_RC)"
[ "$(file_digest "$E2E_TMP/got")" = "$blob" ] ||
	fail "with the upstream back the blob came back wrong"
[ "$(fake_gets "/blobs/$blob")" = 1 ] ||
	fail "expected one upstream GET once it was back"
wait_until 30 "the refetched blob to be cached" cached_intact "$blob"
note "killed upstream: error to the client, nothing cached, refetched"
