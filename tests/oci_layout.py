#!/usr/bin/python3
"""Write an image by hand for tests/images.rs: an OCI image layout or a `docker save`
tarball, from a JSON description (its one argument). Python's tarfile writes any entry name
(`../x`, `/x`, `.wh...`) and any link, which the hostile cases need and a careful tar
writer refuses; hashlib gives the digests. Prints what it wrote, as JSON.

The description:
  {"format": "oci" | "docker", "out": PATH, "ref": "tag or reference",
   "config": {extra fields of the image config's "config", e.g. "Cmd", "Env"},
   "layers": [{"entries": [ENTRY, ...], "gzip": true, "created_by": "..."}],
   "fault": {"kind": KIND, "layer": N}}   (optional, see FAULTS)
An ENTRY:
  {"type": "dir" | "file" | "symlink" | "hardlink" | "char", "path": "a/b",
   "mode": 0o644 as a number, "uid": 0, "gid": 0,
   "content": "text" (file), "from": "/host/file" (file), "target": "..." (links),
   "major": 0, "minor": 0 (char)}
  {"type": "tree", "from": "/host/dir"}: a whole directory as root:root (its
   symlinks as symlinks, hard links as hard links).
"""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

FAULTS = {
    # The layer blob's bytes changed after its digest was taken.
    "corrupt_blob",
    # The manifest names a layer blob the layout does not hold.
    "missing_blob",
    # The gzip stream is cut in half (the digest is of the cut bytes, so only
    # decompression can tell).
    "truncate",
    # The config's rootfs.diff_ids[N] is not the sha256 of the uncompressed layer.
    "diff_id",
    # The manifest's (and its descriptor's) media type is one nobody knows.
    "media_type",
}

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def root_owned(info):
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 1700000000
    return info


def layer_tar(entries):
    buf = io.BytesIO()
    # GNU format: long names without PAX headers, as most image builders write.
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for e in entries:
            kind = e["type"]
            if kind == "tree":
                src = e["from"]
                for name in sorted(os.listdir(src)):
                    tar.add(os.path.join(src, name), arcname=name, filter=root_owned)
                continue
            info = tarfile.TarInfo(e["path"])
            info.uid, info.gid = e.get("uid", 0), e.get("gid", 0)
            info.mtime = 1700000000
            data = None
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, e.get("mode", 0o755)
            elif kind == "file":
                info.type, info.mode = tarfile.REGTYPE, e.get("mode", 0o644)
                if "from" in e:
                    with open(e["from"], "rb") as f:
                        data = f.read()
                else:
                    data = e.get("content", "").encode()
                info.size = len(data)
            elif kind == "symlink":
                info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, e["target"]
            elif kind == "hardlink":
                info.type, info.mode, info.linkname = tarfile.LNKTYPE, e.get("mode", 0o644), e["target"]
            elif kind == "char":
                info.type, info.mode = tarfile.CHRTYPE, e.get("mode", 0)
                info.devmajor, info.devminor = e.get("major", 0), e.get("minor", 0)
            else:
                raise SystemExit(f"unknown entry type {kind}")
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def main():
    spec = json.loads(sys.argv[1])
    out, fmt, fault = spec["out"], spec.get("format", "oci"), spec.get("fault") or {}
    if fault and fault["kind"] not in FAULTS:
        raise SystemExit(f"unknown fault {fault['kind']}")
    layers = []  # (uncompressed tar, blob bytes, media type, created_by)
    for n, layer in enumerate(spec["layers"]):
        tar = layer_tar(layer["entries"])
        zipped = layer.get("gzip", True) and fmt == "oci"
        blob = gzip.compress(tar, mtime=0) if zipped else tar
        if fault.get("kind") == "truncate" and fault.get("layer") == n:
            blob = blob[: len(blob) // 2]
        layers.append((tar, blob, LAYER_GZIP if zipped else LAYER_TAR, layer.get("created_by", f"layer {n}")))

    diff_ids = ["sha256:" + sha256(t) for t, _, _, _ in layers]
    if fault.get("kind") == "diff_id":
        diff_ids[fault["layer"]] = "sha256:" + sha256(b"not this layer")
    config = {
        "created": "2023-11-14T22:13:20Z",
        "architecture": spec.get("architecture", "amd64"),
        "os": "linux",
        "config": spec.get("config", {}),
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": c} for _, _, _, c in layers],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()

    if fmt == "docker":
        write_docker(spec, out, layers, config_bytes)
        return
    os.makedirs(os.path.join(out, "blobs", "sha256"))
    blobs = os.path.join(out, "blobs", "sha256")

    def put(data):
        digest = sha256(data)
        with open(os.path.join(blobs, digest), "wb") as f:
            f.write(data)
        return digest

    config_digest = put(config_bytes)
    layer_descs = []
    for n, (_, blob, media, _) in enumerate(layers):
        digest = put(blob)
        path = os.path.join(blobs, digest)
        if fault.get("layer") == n and fault["kind"] == "corrupt_blob":
            with open(path, "wb") as f:
                f.write(bytes(b ^ 0x5A for b in blob))
        if fault.get("layer") == n and fault["kind"] == "missing_blob":
            os.remove(path)
        layer_descs.append({"mediaType": media, "digest": "sha256:" + digest, "size": len(blob)})
    media = "application/vnd.example.unknown.v1+json" if fault.get("kind") == "media_type" else MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media,
        "config": {"mediaType": CONFIG, "digest": "sha256:" + config_digest, "size": len(config_bytes)},
        "layers": layer_descs,
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    manifest_digest = put(manifest_bytes)
    desc = {"mediaType": media, "digest": "sha256:" + manifest_digest, "size": len(manifest_bytes)}
    if spec.get("ref"):
        desc["annotations"] = {"org.opencontainers.image.ref.name": spec["ref"]}
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [desc]}, f)
    json.dump(
        {
            "manifest": "sha256:" + manifest_digest,
            "config": "sha256:" + config_digest,
            "layers": [d["digest"] for d in layer_descs],
            "diff_ids": diff_ids,
        },
        sys.stdout,
    )


def write_docker(spec, out, layers, config_bytes):
    """`docker save`'s layout (as Docker 20.10 writes it): manifest.json, the config as
    HEX.json, each layer as DIR/layer.tar, and `repositories`."""
    config_hex = sha256(config_bytes)
    members = [(f"{config_hex}.json", config_bytes)]
    names = []
    for tar, _, _, _ in layers:
        d = sha256(tar)
        names.append(f"{d}/layer.tar")
        members += [(f"{d}/VERSION", b"1.0"), (f"{d}/json", b"{}"), (f"{d}/layer.tar", tar)]
    ref = spec.get("ref")
    manifest = [{"Config": f"{config_hex}.json", "RepoTags": [ref] if ref else None, "Layers": names}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    if ref:
        repo, tag = ref.rsplit(":", 1)
        members.append(("repositories", json.dumps({repo: {tag: names[-1].split("/")[0]}}).encode()))
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as t:
        for name, data in members:
            info = root_owned(tarfile.TarInfo(name))
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    json.dump({"config": "sha256:" + config_hex, "diff_ids": ["sha256:" + sha256(t) for t, _, _, _ in layers]}, sys.stdout)


if __name__ == "__main__":
    main()
