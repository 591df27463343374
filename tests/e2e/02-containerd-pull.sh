#!/bin/bash
# containerd pulls docker.io/library/NAME:TAG through the mirror, routed
# by the hosts.toml that "vkdr mirror export --format=containerd" writes
# (the same shape k3s writes), so every request carries ?ns=docker.io.
# The layers it stores are the bytes that were pushed.
. "$(dirname "$0")/lib.sh"

need_tools skopeo curl containerd ctr
need_root
start_upstream
make_image app v1 1 2
push_image "$IMAGE_DIR" app v1
start_mirror
start_containerd

# Replace the fixture's hand-written hosts dir with the exported one.
rm -rf "$E2E_TMP/certs.d"
"$VKDR" mirror export --format=containerd --dir="$E2E_TMP/certs.d" \
	--address=127.0.0.1 >"$E2E_TMP/export.log" 2>&1 ||
	fail "vkdr mirror export failed: $(cat "$E2E_TMP/export.log")"
grep -q "^\[host.\"http://127.0.0.1:$MIRROR_PORT\"\]" \
	"$E2E_TMP/certs.d/docker.io/hosts.toml" ||
	fail "the exported hosts.toml does not name the mirror"

ctr_pull docker.io/library/app:v1 ||
	fail "ctr pull through the mirror failed: $(tail -n 5 \
		"$E2E_TMP/ctr-pull.log")"
for d in "$IMAGE_CONFIG" $IMAGE_LAYERS; do
	ctr_blob "$d" "$E2E_TMP/blob" || fail "containerd holds no $d"
	cmp -s "$E2E_TMP/blob" "$(layout_blob "$IMAGE_DIR" "$d")" ||
		fail "containerd holds other bytes for $d"
done

grep -q 'ns=docker\.io' "$MIRROR_LOG" ||
	fail "the mirror's log shows no request with ns=docker.io"
note "containerd pulled through the mirror"
