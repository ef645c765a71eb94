//! Media types: what each JSON document and blob of an image says it is, and which of them
//! learnctr reads. Docker's own types (schema 2) are the OCI ones under older names.

use oci_spec::image::{Arch, Descriptor, ImageIndex, ImageManifest, MediaType, Os};

use super::fail;
use crate::course::Failure;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The layer types learnctr unpacks: OCI's tar, tar+gzip, tar+zstd, and Docker's tar+gzip.
/// (Compression is told by the bytes themselves; the type only has to be one of these.)
const LAYERS: &[&str] = &[
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    DOCKER_LAYER_GZIP,
];

/// True for an index (a list of manifests, one per platform).
pub fn is_index(media_type: &str, bytes: &[u8]) -> bool {
    let media_type = media_type.split(';').next().unwrap_or("").trim();
    match media_type {
        OCI_INDEX | DOCKER_LIST => true,
        OCI_MANIFEST | DOCKER_MANIFEST => false,
        // No Content-Type: an index is the one with `manifests`.
        _ => serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| v.get("manifests").is_some()),
    }
}

/// This machine's platform in the words of an index (`linux`, `amd64`/`arm64`).
pub fn this_arch() -> Arch {
    match std::env::consts::ARCH {
        "x86_64" => Arch::Amd64,
        "aarch64" => Arch::ARM64,
        other => Arch::Other(other.to_string()),
    }
}

/// The manifest of an index for linux on this CPU.
pub fn for_this_platform(index: &ImageIndex) -> Result<Descriptor, Failure> {
    let arch = this_arch();
    index
        .manifests()
        .iter()
        .find(|d| d.platform().as_ref().is_some_and(|p| *p.os() == Os::Linux && *p.architecture() == arch))
        .cloned()
        .ok_or_else(|| fail("image.err.no_platform", &[("arch", &arch)]))
}

/// Only image manifests (OCI, Docker schema 2) are read; schema 1 and artifacts are refused.
pub fn check_manifest_type(media_type: &str, bytes: &[u8]) -> Result<(), Failure> {
    let served = media_type.split(';').next().unwrap_or("").trim();
    let declared = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_string));
    for t in [Some(served.to_string()), declared].into_iter().flatten() {
        if !t.is_empty() && t != OCI_MANIFEST && t != DOCKER_MANIFEST && t != "application/json" {
            return Err(fail("image.err.media_type", &[("type", &t)]));
        }
    }
    Ok(())
}

/// Every layer must be one learnctr unpacks, and must be in the image (no foreign URLs).
pub fn check_layers(manifest: &ImageManifest) -> Result<(), Failure> {
    for layer in manifest.layers() {
        let t = layer.media_type().to_string();
        if !LAYERS.contains(&t.as_str()) || layer.urls().as_ref().is_some_and(|u| !u.is_empty()) {
            return Err(fail("image.err.layer_type", &[("type", &t)]));
        }
    }
    Ok(())
}

/// The type to name a manifest by: its own `mediaType`, else the one it was served with,
/// else OCI's.
pub fn manifest_media_type(manifest: &ImageManifest, served: &str) -> MediaType {
    match manifest.media_type() {
        Some(t) => t.clone(),
        None => match served.split(';').next().unwrap_or("").trim() {
            DOCKER_MANIFEST => MediaType::Other(DOCKER_MANIFEST.to_string()),
            _ => MediaType::ImageManifest,
        },
    }
}
