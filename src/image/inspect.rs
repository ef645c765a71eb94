//! An image looked at like `dive`: for each layer, the command that made it, its size, and
//! the files it adds, changes and removes; then what the stack wastes: bytes a lower layer
//! keeps that a higher one replaced or deleted. They are still pulled and stored, though no
//! container ever sees them (`efficiency` is the share of stored bytes that are seen).

use std::collections::HashMap;

use rootfs_fetch::{EntryKind, LayerScan};
use serde::Serialize;

use super::store::{Image, Store};
use crate::course::Failure;

#[derive(Debug, Serialize)]
pub struct LayerView {
    pub digest: String,
    /// The compressed blob.
    pub size: u64,
    /// The files' bytes, uncompressed.
    pub content_bytes: u64,
    pub created_by: String,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ImageView {
    pub name: String,
    pub manifest_digest: String,
    pub layers: Vec<LayerView>,
    /// Bytes of files that a higher layer replaced or removed.
    pub wasted_bytes: u64,
    /// The paths wasted bytes are in, with how many bytes.
    pub wasted: Vec<(String, u64)>,
    /// Seen bytes / stored bytes (1.0 when nothing is wasted).
    pub efficiency: f64,
}

pub fn view(store: &Store, image: &Image) -> Result<ImageView, Failure> {
    let scans = super::check::image(store, &image.manifest)?;
    // The history lines of layers that exist (`empty_layer` lines made none).
    let history: Vec<String> = image
        .config
        .history()
        .iter()
        .flatten()
        .filter(|h| !h.empty_layer().unwrap_or(false))
        .map(|h| h.created_by().clone().unwrap_or_default())
        .collect();
    Ok(compute(image, &scans, &history))
}

/// The dive arithmetic, on the layers' listings (no file system needed: a unit test runs it).
pub fn compute(image: &Image, scans: &[LayerScan], history: &[String]) -> ImageView {
    // Path → (layer, bytes) of what is visible so far.
    let mut visible: HashMap<String, (usize, u64)> = HashMap::new();
    let mut wasted: HashMap<String, u64> = HashMap::new();
    let mut total: u64 = 0;
    let mut layers = Vec::new();
    for (i, (scan, desc)) in scans.iter().zip(image.manifest.layers()).enumerate() {
        let (mut added, mut changed, mut removed) = (Vec::new(), Vec::new(), Vec::new());
        let mut content_bytes = 0;
        for e in &scan.entries {
            match e.kind {
                EntryKind::Whiteout => {
                    removed.push(e.path.clone());
                    hide(&mut visible, &mut wasted, &e.path, true, i);
                }
                EntryKind::Opaque => {
                    removed.push(format!("{}/*", e.path));
                    hide(&mut visible, &mut wasted, &e.path, false, i);
                }
                EntryKind::Dir => {}
                _ => {
                    content_bytes += e.size;
                    total += e.size;
                    match visible.insert(e.path.clone(), (i, e.size)) {
                        Some((_, old)) => {
                            changed.push(e.path.clone());
                            *wasted.entry(e.path.clone()).or_default() += old;
                        }
                        None => added.push(e.path.clone()),
                    }
                }
            }
        }
        layers.push(LayerView {
            digest: desc.digest().to_string(),
            size: desc.size(),
            content_bytes,
            created_by: history.get(i).cloned().unwrap_or_default(),
            added,
            changed,
            removed,
        });
    }
    let wasted_bytes: u64 = wasted.values().sum();
    let mut wasted: Vec<(String, u64)> = wasted.into_iter().filter(|(_, b)| *b > 0).collect();
    wasted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let efficiency = if total == 0 { 1.0 } else { (total - wasted_bytes) as f64 / total as f64 };
    ImageView {
        name: image.name.clone(),
        manifest_digest: image.manifest_digest.clone(),
        layers,
        wasted_bytes,
        wasted,
        efficiency,
    }
}

/// A whiteout (`itself`: the path and what is under it) or an opaque directory (only what is
/// under it) of layer `layer`: the bytes it hides in lower layers are wasted.
fn hide(
    visible: &mut HashMap<String, (usize, u64)>,
    wasted: &mut HashMap<String, u64>,
    path: &str,
    itself: bool,
    layer: usize,
) {
    let prefix = format!("{path}/");
    let hidden: Vec<String> = visible
        .iter()
        .filter(|(p, (l, _))| *l < layer && (p.starts_with(&prefix) || (itself && p.as_str() == path)))
        .map(|(p, _)| p.clone())
        .collect();
    for p in hidden {
        if let Some((_, bytes)) = visible.remove(&p) {
            *wasted.entry(p).or_default() += bytes;
        }
    }
}
