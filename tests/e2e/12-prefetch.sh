#!/bin/bash
# "vkdr mirror prefetch" with no daemon running starts one, caches an
# image, and stops it again; with the upstream stopped, skopeo then pulls
# the image from the cache. A second prefetch fetches no blob upstream; a
# prefetch of a missing image fails naming it. export-cache writes an OCI
# layout that import-cache loads into a fresh VKDR_HOME, from which skopeo
# (and containerd, when run as root) pulls the same bytes with no upstream
# at all.
. "$(dirname "$0")/lib.sh"

need_tools skopeo curl tar
start_upstream
make_image --index multi v1 1
push_image "$IMAGE_DIR" multi v1
multi_index=$IMAGE_INDEX
arm64_blobs="$IMAGE_ARM64_MANIFEST $IMAGE_ARM64_CONFIG $IMAGE_ARM64_LAYERS"
amd64_layers=$IMAGE_LAYERS
multi_dir=$IMAGE_DIR
make_image app v1 1 2
push_image "$IMAGE_DIR" app v1
mirror_configure

"$VKDR" mirror prefetch docker.io/library/app:v1 >"$E2E_TMP/prefetch1.log" \
	2>&1 || {
	cat "$E2E_TMP/prefetch1.log" >&2
	fail "prefetch with no daemon running failed"
}
http_ok "$MIRROR_URL/v2/" &&
	fail "the daemon prefetch started is still running"
for d in $IMAGE_LAYERS; do
	grep -q "$d" "$E2E_TMP/prefetch1.log" ||
		fail "prefetch did not report blob $d"
done

# One platform of an index: the other's layers stay upstream.
"$VKDR" mirror prefetch --platform=linux/arm64 multi:v1 \
	>"$E2E_TMP/prefetch-multi.log" 2>&1 || {
	cat "$E2E_TMP/prefetch-multi.log" >&2
	fail "prefetch of one platform of an index failed"
}
upstream_sync
for d in $amd64_layers; do
	[ "$(upstream_gets "/blobs/$d")" = 0 ] ||
		fail "prefetch for linux/arm64 fetched the amd64 layer $d"
done

# A second run finds everything cached: no blob reaches the upstream.
upstream_sync
before=$(upstream_gets "/blobs/")
"$VKDR" mirror prefetch app:v1 >"$E2E_TMP/prefetch2.log" 2>&1 || {
	cat "$E2E_TMP/prefetch2.log" >&2
	fail "second prefetch failed"
}
upstream_sync
[ "$(upstream_gets "/blobs/")" = "$before" ] ||
	fail "second prefetch fetched blobs from the upstream again"

# A missing image: non-zero, and named.
if "$VKDR" mirror prefetch app:v1 docker.io/library/nothere:v9 \
	>"$E2E_TMP/prefetch3.log" 2>&1; then
	fail "prefetch of a missing image succeeded"
fi
grep -q "nothere:v9" "$E2E_TMP/prefetch3.log" ||
	fail "prefetch did not name the missing image"
grep -q "app:v1.*failed" "$E2E_TMP/prefetch3.log" &&
	fail "prefetch blamed the image that was there"

"$VKDR" mirror export-cache --output="$E2E_TMP/cache.tar" \
	docker.io/library/app:v1 >"$E2E_TMP/export.log" 2>&1 || {
	cat "$E2E_TMP/export.log" >&2
	fail "export-cache failed"
}
mkdir "$E2E_TMP/layout"
tar -xf "$E2E_TMP/cache.tar" -C "$E2E_TMP/layout" ||
	fail "tar cannot read the exported archive"
[ -f "$E2E_TMP/layout/oci-layout" ] || fail "the archive has no oci-layout"
grep -q '"docker.io/library/app:v1"' "$E2E_TMP/layout/index.json" ||
	fail "index.json does not name docker.io/library/app:v1"
same_blobs "$E2E_TMP/layout" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS

# Without images, every tag; an image that is not cached writes nothing.
"$VKDR" mirror export-cache --output="$E2E_TMP/all.tar" >/dev/null 2>&1 ||
	fail "export-cache of the whole cache failed"
tar -xOf "$E2E_TMP/all.tar" index.json >"$E2E_TMP/all-index.json"
for ref in docker.io/library/app:v1 docker.io/library/multi:v1; do
	grep -q "\"$ref\"" "$E2E_TMP/all-index.json" ||
		fail "the whole-cache export does not name $ref"
done
if "$VKDR" mirror export-cache --output="$E2E_TMP/none.tar" nothere:v1 \
	app:v1 >"$E2E_TMP/export-none.log" 2>&1; then
	fail "export-cache of an image not cached succeeded"
fi
grep -q "nothere:v1" "$E2E_TMP/export-none.log" ||
	fail "export-cache did not name the image that is not cached"
[ ! -e "$E2E_TMP/none.tar" ] || fail "a failed export-cache left a file"

stop_upstream

start_mirror
skopeo_pull "127.0.0.1:$MIRROR_PORT/library/app:v1" "$E2E_TMP/pull1" v1 ||
	fail "pull of the prefetched image with the upstream down failed"
same_blobs "$E2E_TMP/pull1" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS
skopeo_pull "127.0.0.1:$MIRROR_PORT/library/multi@$multi_index" \
	"$E2E_TMP/pull-arm" v1 --override-arch arm64 ||
	fail "pull of the prefetched arm64 image with the upstream down failed"
app_dir=$IMAGE_DIR
IMAGE_DIR=$multi_dir
same_blobs "$E2E_TMP/pull-arm" $arm64_blobs
IMAGE_DIR=$app_dir
stop_mirror

# Another machine: a fresh home, the same mirror, nothing cached.
export VKDR_HOME=$E2E_TMP/home2
mkdir -p "$VKDR_HOME"
"$VKDR" mirror add --host=docker.io --port="$MIRROR_PORT" \
	--upstream="$UPSTREAM_URL" >/dev/null 2>&1 ||
	fail "vkdr mirror add in the second home failed"
"$VKDR" mirror import-cache "$E2E_TMP/cache.tar" >"$E2E_TMP/import.log" \
	2>&1 || {
	cat "$E2E_TMP/import.log" >&2
	fail "import-cache failed"
}
start_mirror
skopeo_pull "127.0.0.1:$MIRROR_PORT/library/app:v1" "$E2E_TMP/pull2" v1 ||
	fail "pull of the imported image with no upstream failed"
same_blobs "$E2E_TMP/pull2" "$IMAGE_MANIFEST" "$IMAGE_CONFIG" $IMAGE_LAYERS

# containerd (what k3s runs) asks with another Accept set; import wrote a
# tag record for it too. It needs root, so it is tried only then.
if [ "$(id -u)" = 0 ] && command -v containerd >/dev/null &&
	command -v ctr >/dev/null; then
	start_containerd
	ctr_pull docker.io/library/app:v1 ||
		fail "containerd pull of the imported image failed: $(tail \
			-n 5 "$E2E_TMP/ctr-pull.log")"
	for d in "$IMAGE_CONFIG" $IMAGE_LAYERS; do
		ctr_blob "$d" "$E2E_TMP/blob" || fail "containerd holds no $d"
		cmp -s "$E2E_TMP/blob" "$(layout_blob "$IMAGE_DIR" "$d")" ||
			fail "containerd holds other bytes for $d"
	done
fi

# A damaged archive is refused blob by blob.
cp "$E2E_TMP/cache.tar" "$E2E_TMP/bad.tar"
layer=$(echo $IMAGE_LAYERS | cut -d' ' -f1)
off=$(grep -abo "blobs/sha256/${layer#sha256:}" "$E2E_TMP/bad.tar" | head -n1 |
	cut -d: -f1)
printf 'X' | dd of="$E2E_TMP/bad.tar" bs=1 seek=$((off + 512 + 100)) \
	conv=notrunc 2>/dev/null
export VKDR_HOME=$E2E_TMP/home3
mkdir -p "$VKDR_HOME"
if "$VKDR" mirror import-cache "$E2E_TMP/bad.tar" >"$E2E_TMP/bad.log" 2>&1
then
	fail "import of a damaged archive succeeded"
fi
grep -q "${layer#sha256:}" "$E2E_TMP/bad.log" ||
	fail "import did not name the damaged blob"
[ ! -e "$VKDR_HOME/mirror-cache/blobs/sha256/${layer#sha256:}" ] ||
	fail "the damaged blob was stored"
note "prefetched, exported and imported; pulled from the cache"
