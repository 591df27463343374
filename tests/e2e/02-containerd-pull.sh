#!/bin/bash
# containerd pulls docker.io/library/NAME:TAG through the mirror, routed
# by a hosts.toml the way k3s writes it, so every request carries
# ?ns=docker.io. The layers it stores are the bytes that were pushed.
. "$(dirname "$0")/lib.sh"

need_tools skopeo curl containerd ctr
need_root
start_upstream
make_image app v1 1 2
push_image "$IMAGE_DIR" app v1
start_mirror
start_containerd

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
