//! What an image must be before it gets a name in the store: its config's `rootfs.diff_ids`
//! are exactly its layers, each layer's uncompressed tar has that SHA-256, and no layer holds
//! an entry that climbs out of the root filesystem or a whiteout that does (rootfs-fetch's
//! `scan_layer` reads each one through, writing nothing). Blob digests were checked when the
//! blobs were stored.

use oci_spec::image::{ImageConfiguration, ImageManifest};
use rootfs_fetch::LayerScan;

use super::fail;
use super::store::{parse_json, Store};
use crate::course::Failure;

/// Read every layer of `manifest` through; its scans, in order (the dive view uses them).
pub fn image(store: &Store, manifest: &ImageManifest) -> Result<Vec<LayerScan>, Failure> {
    let config: ImageConfiguration = parse_json(&store.read_json_blob(manifest.config().digest().as_ref())?, "config")?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err(fail(
            "image.err.layer_count",
            &[("layers", &manifest.layers().len()), ("diff_ids", &diff_ids.len())],
        ));
    }
    // Each layer is read on a thread of its own (ungzip and SHA-256 are the cost of a pull
    // after the download), at most as many at once as the machine has CPUs.
    let width = std::thread::available_parallelism().map_or(1, |n| n.get());
    let layers: Vec<_> = manifest.layers().iter().zip(diff_ids).collect();
    let mut scans = Vec::new();
    for chunk in layers.chunks(width) {
        let results: Vec<Result<LayerScan, Failure>> = std::thread::scope(|scope| {
            let handles: Vec<_> =
                chunk.iter().map(|(layer, diff_id)| scope.spawn(move || scan_one(store, layer, diff_id))).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| Err(fail("image.err.write_layer", &[("why", &"a thread panicked")])))
                })
                .collect()
        });
        for r in results {
            scans.push(r?);
        }
    }
    under_a_lower_file(&scans)?;
    Ok(scans)
}

/// Layer by layer, what each path is once the layers below are applied; an entry below a
/// path that is not a directory (`evil -> /` then `evil/pwned`; `f` then `f/.wh..wh..opq`)
/// would go through a symlink or into a file, so the image is refused.
fn under_a_lower_file(scans: &[LayerScan]) -> Result<(), Failure> {
    use rootfs_fetch::EntryKind;
    use std::collections::HashMap;
    let mut tree: HashMap<String, EntryKind> = HashMap::new();
    for (n, scan) in scans.iter().enumerate() {
        for e in &scan.entries {
            let mut at = String::new();
            // The directories above the entry; an opaque marker's own path is one too.
            let mut parts: Vec<&str> = e.path.split('/').collect();
            if e.kind != EntryKind::Opaque {
                parts.pop();
            }
            for part in parts {
                if !at.is_empty() {
                    at.push('/');
                }
                at.push_str(part);
                if tree.get(&at).is_some_and(|k| *k != EntryKind::Dir) {
                    return Err(fail(
                        "image.err.under_a_file",
                        &[("layer", &(n + 1)), ("path", &e.path), ("below", &at)],
                    ));
                }
            }
            let prefix = format!("{}/", e.path);
            match e.kind {
                EntryKind::Whiteout => {
                    tree.retain(|p, _| p != &e.path && !p.starts_with(&prefix));
                }
                EntryKind::Opaque => tree.retain(|p, _| !p.starts_with(&prefix)),
                kind => {
                    if kind != EntryKind::Dir {
                        // A file or link replaces whatever was there, a directory included.
                        tree.retain(|p, _| !p.starts_with(&prefix));
                    }
                    tree.insert(e.path.clone(), kind);
                }
            }
        }
    }
    Ok(())
}

/// One layer read through, its diff_id compared with the config's.
fn scan_one(store: &Store, layer: &oci_spec::image::Descriptor, diff_id: &str) -> Result<LayerScan, Failure> {
    let digest = layer.digest().to_string();
    let what = format!("layer {}", short(&digest));
    let scan = rootfs_fetch::scan_layer(store.open_blob(&digest)?, &what).map_err(crate::course_rootfs::failure)?;
    if scan.diff_id != diff_id {
        return Err(fail(
            "image.err.diff_id",
            &[("layer", &short(&digest)), ("expected", &diff_id), ("got", &scan.diff_id)],
        ));
    }
    Ok(scan)
}

/// `sha256:` and the first 12 hex digits, as `docker images` shows them.
pub fn short(digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    format!("sha256:{}", &hex[..hex.len().min(12)])
}
