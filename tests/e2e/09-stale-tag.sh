#!/bin/bash
# With tag-ttl 1, a tag whose time is up is still served (stale) when the
# upstream cannot be asked, and the mirror says so in its log.
. "$(dirname "$0")/lib.sh"

need_tools skopeo curl
start_upstream
make_image stale v1 1
push_image "$IMAGE_DIR" stale v1
start_mirror --tag-ttl=1

skopeo_pull "127.0.0.1:$MIRROR_PORT/library/stale:v1" "$E2E_TMP/pull1" v1 ||
	fail "pull with the upstream up failed"
pulled_at=$(date +%s)
stop_upstream

# Wait on the clock, not on the mirror: two whole seconds past the pull.
clock_past()
{
	[ "$(date +%s)" -ge "$1" ]
}
wait_until 10 "the clock" clock_past $((pulled_at + 2))

skopeo_pull "127.0.0.1:$MIRROR_PORT/library/stale:v1" "$E2E_TMP/pull2" v1 ||
	fail "pull of a stale tag with the upstream down failed"
same_blobs "$E2E_TMP/pull2" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS
grep -qi 'stale' "$MIRROR_LOG" || fail "the mirror's log does not say stale"
note "stale tag served with the upstream down"
