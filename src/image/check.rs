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
    let mut scans = Vec::new();
    for (layer, diff_id) in manifest.layers().iter().zip(diff_ids) {
        let digest = layer.digest().to_string();
        let what = format!("layer {}", short(&digest));
        let scan = rootfs_fetch::scan_layer(store.open_blob(&digest)?, &what).map_err(crate::rootfs::failure)?;
        if scan.diff_id != *diff_id {
            return Err(fail(
                "image.err.diff_id",
                &[("layer", &short(&digest)), ("expected", diff_id), ("got", &scan.diff_id)],
            ));
        }
        scans.push(scan);
    }
    Ok(scans)
}

/// `sha256:` and the first 12 hex digits, as `docker images` shows them.
pub fn short(digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    format!("sha256:{}", &hex[..hex.len().min(12)])
}
