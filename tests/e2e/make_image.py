#!/usr/bin/python3
"""Write a container image as an OCI image layout, without Docker.

Usage: make_image.py [--index] [--no-gzip] OUTDIR TAG [SIZE_MiB ...]

Every layer is a tar archive holding one file of SIZE_MiB mebibytes of
random bytes (fractions allowed), gzip-compressed unless --no-gzip. With
--index the tag names an OCI image index of two platform manifests,
linux/amd64 and linux/arm64, each with its own random layers, so a client
that picks the wrong platform gets bytes that compare different.

The layout is written to OUTDIR; the digests a test needs are printed on
stdout as shell assignments for eval:

  IMAGE_DIR            the layout directory
  IMAGE_TOP            digest the tag points to (index or manifest)
  IMAGE_INDEX          digest of the index, empty without --index
  IMAGE_MANIFEST       digest of the (linux/amd64) manifest
  IMAGE_CONFIG         digest of its config
  IMAGE_LAYERS         digests of its layers, space separated
  IMAGE_ARM64_MANIFEST, IMAGE_ARM64_CONFIG, IMAGE_ARM64_LAYERS
                       the same for linux/arm64, empty without --index
"""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
MIB = 1024 * 1024


class Layout:
    """An OCI image layout directory that blobs are added to."""

    def __init__(self, path):
        self.path = path
        self.blobs = os.path.join(path, "blobs", "sha256")
        os.makedirs(self.blobs, exist_ok=True)
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

    def add(self, data):
        """Store DATA as a blob; return its descriptor fields."""
        hexd = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.blobs, hexd), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + hexd, "size": len(data)}

    def add_json(self, obj, media_type):
        data = json.dumps(obj, separators=(",", ":")).encode()
        return dict(self.add(data), mediaType=media_type)


def layer_tar(size, index):
    """A tar archive holding one file of SIZE random bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("e2e/layer-%d.bin" % index)
        info.size = size
        info.mtime = 0
        info.mode = 0o644
        t.addfile(info, io.BytesIO(os.urandom(size)))
    return buf.getvalue()


def image(layout, arch, sizes, compress):
    """Write the layers, config and manifest of one platform image."""
    layers = []
    diff_ids = []
    for i, mib in enumerate(sizes):
        tar = layer_tar(int(mib * MIB), i)
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        if compress:
            blob = gzip.compress(tar, compresslevel=1, mtime=0)
            media_type = MT_LAYER + "+gzip"
        else:
            blob = tar
            media_type = MT_LAYER
        layers.append(dict(layout.add(blob), mediaType=media_type))

    config = layout.add_json({
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/e2e/none"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }, MT_CONFIG)
    manifest = layout.add_json({
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": config,
        "layers": layers,
    }, MT_MANIFEST)
    return manifest, config, layers


def main(argv):
    with_index = False
    compress = True
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if opt == "--index":
            with_index = True
        elif opt == "--no-gzip":
            compress = False
        else:
            sys.exit("make_image.py: unknown option " + opt)
    if len(argv) < 2:
        sys.exit(__doc__)
    outdir, tag = argv[0], argv[1]
    sizes = [float(s) for s in argv[2:]] or [1.0, 1.0]

    layout = Layout(outdir)
    out = {"IMAGE_DIR": os.path.abspath(outdir)}
    amd = image(layout, "amd64", sizes, compress)
    out["IMAGE_MANIFEST"] = amd[0]["digest"]
    out["IMAGE_CONFIG"] = amd[1]["digest"]
    out["IMAGE_LAYERS"] = " ".join(l["digest"] for l in amd[2])
    if with_index:
        arm = image(layout, "arm64", sizes, compress)
        out["IMAGE_ARM64_MANIFEST"] = arm[0]["digest"]
        out["IMAGE_ARM64_CONFIG"] = arm[1]["digest"]
        out["IMAGE_ARM64_LAYERS"] = " ".join(l["digest"] for l in arm[2])
        entries = []
        for desc, arch in ((amd[0], "amd64"), (arm[0], "arm64")):
            entries.append(dict(desc, platform={"architecture": arch,
                                                "os": "linux"}))
        top = layout.add_json({
            "schemaVersion": 2,
            "mediaType": MT_INDEX,
            "manifests": entries,
        }, MT_INDEX)
        out["IMAGE_INDEX"] = top["digest"]
    else:
        for key in ("IMAGE_INDEX", "IMAGE_ARM64_MANIFEST",
                    "IMAGE_ARM64_CONFIG", "IMAGE_ARM64_LAYERS"):
            out[key] = ""
        top = amd[0]
    out["IMAGE_TOP"] = top["digest"]

    ref = dict(top, annotations={"org.opencontainers.image.ref.name": tag})
    with open(os.path.join(outdir, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [ref]}, f)

    for key in sorted(out):
        print("%s='%s'" % (key, out[key]))


if __name__ == "__main__":
    main(sys.argv[1:])
