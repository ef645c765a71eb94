//! Reading an image layer without writing anything: what it holds, and its `diff_id`.
//!
//! An image's config names each layer by the SHA-256 of its *uncompressed* tar (the
//! `diff_id`), while the manifest names the compressed blob by its own digest. Both are
//! checked before an image is kept: the blob's digest when it is stored, the `diff_id` here.
//! The same reading lists the layer's entries (for `learnctr image inspect`, the dive view)
//! and refuses, before a byte is unpacked, what is wrong in the layer by itself: paths that
//! climb, whiteouts that climb or hide in a directory name, hard links to files that are not
//! earlier in the same layer. What depends on the layers below (a symlink a later layer
//! would write through) is refused by [`crate::apply_layer`], which never follows one.

use std::collections::HashSet;
use std::io::{self, BufReader, Read};

use sha2::{Digest, Sha256};
use tar::EntryType;

use crate::error::{Error, Result};
use crate::stream::{decompressed, header_error, read_error};
use crate::unpack::clean_path;
use crate::unpack::whiteout::{self, Marker};

/// The kinds of entries a layer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    /// `.wh.NAME`: NAME of a lower layer is deleted (the entry's path is NAME's).
    Whiteout,
    /// `.wh..wh..opq`: the directory (the entry's path) hides what lower layers put in it.
    Opaque,
    /// Devices and FIFOs (not unpacked), and anything else.
    Other,
}

/// One entry of a layer.
#[derive(Debug, Clone)]
pub struct LayerEntry {
    /// The cleaned path, relative to the root filesystem (`etc/passwd`).
    pub path: String,
    pub kind: EntryKind,
    /// Bytes of contents (regular files).
    pub size: u64,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// A symlink's or hard link's target.
    pub link: Option<String>,
}

/// What a layer holds.
#[derive(Debug, Clone)]
pub struct LayerScan {
    /// `sha256:` and the hex SHA-256 of the uncompressed tar.
    pub diff_id: String,
    /// Bytes of the uncompressed tar.
    pub tar_size: u64,
    pub entries: Vec<LayerEntry>,
}

/// Read a layer (tar, tar+gzip or tar+zstd) to its end; `what` names it in errors.
pub fn scan_layer<R: Read>(layer: R, what: &str) -> Result<LayerScan> {
    let input = decompressed(BufReader::with_capacity(256 * 1024, layer), what)?;
    let mut hashed = Hashing::new(input);
    let mut entries = Vec::new();
    let mut files: HashSet<Vec<u8>> = HashSet::new();
    {
        let mut archive = tar::Archive::new(&mut hashed);
        for (read, entry) in archive.entries().map_err(|e| header_error(what, e, 0))?.enumerate() {
            let entry = entry.map_err(|e| header_error(what, e, read as u64))?;
            if let Some(e) = describe(&entry, &mut files)? {
                entries.push(e);
            }
        }
    }
    // The padding after the end marker belongs to the tar too, and a gzip trailer is checked.
    io::copy(&mut hashed, &mut io::sink()).map_err(|e| read_error(what, e))?;
    let diff_id = format!("sha256:{}", hex(&hashed.hash.finalize()));
    Ok(LayerScan { diff_id, tar_size: hashed.bytes, entries })
}

/// One entry, checked; `None` for metadata-only entries (a pax global header, `./`).
fn describe<R: Read>(entry: &tar::Entry<'_, R>, files: &mut HashSet<Vec<u8>>) -> Result<Option<LayerEntry>> {
    let raw = entry.path_bytes();
    let (path, _) = clean_path(&raw)?;
    let header = entry.header();
    let kind = header.entry_type();
    if path.comps.is_empty() || kind == EntryType::XGlobalHeader {
        return Ok(None);
    }
    let link = entry.link_name_bytes().map(|l| String::from_utf8_lossy(&l).into_owned());
    let (shown_path, kind) = match whiteout::marker(&path)? {
        Some(Marker::Remove(name)) => (sibling(&path.parent_key(), name), EntryKind::Whiteout),
        Some(Marker::Opaque) => (String::from_utf8_lossy(&path.parent_key()).into_owned(), EntryKind::Opaque),
        None => {
            let kind = match kind {
                EntryType::Regular | EntryType::Continuous => EntryKind::File,
                EntryType::Directory => EntryKind::Dir,
                EntryType::Symlink => EntryKind::Symlink,
                EntryType::Link => EntryKind::Hardlink,
                _ => EntryKind::Other,
            };
            (String::from_utf8_lossy(&path.key()).into_owned(), kind)
        }
    };
    match kind {
        EntryKind::File => {
            files.insert(path.key());
        }
        EntryKind::Hardlink => {
            let target = entry.link_name_bytes().unwrap_or_default();
            let (target, _) = clean_path(&target)?;
            if !files.contains(&target.key()) {
                return Err(Error::UnsafeEntry {
                    path: path.shown.clone(),
                    why: format!(
                        "it is a hard link to {}, which is not a regular file earlier in the same layer",
                        target.shown
                    ),
                });
            }
        }
        _ => {
            files.remove(&path.key());
        }
    }
    Ok(Some(LayerEntry {
        path: shown_path,
        kind,
        size: if kind == EntryKind::File { entry.size() } else { 0 },
        mode: header.mode().unwrap_or(0),
        uid: header.uid().unwrap_or(0),
        gid: header.gid().unwrap_or(0),
        link,
    }))
}

fn sibling(parent: &[u8], name: &[u8]) -> String {
    let mut key = parent.to_vec();
    if !key.is_empty() {
        key.push(b'/');
    }
    key.extend_from_slice(name);
    String::from_utf8_lossy(&key).into_owned()
}

/// Write the tar inside `layer` (decompressed when it is gzip or zstd) to `out`.
pub fn decompress_to<R: Read, W: io::Write>(layer: R, out: &mut W) -> Result<u64> {
    let mut input = decompressed(BufReader::with_capacity(256 * 1024, layer), "the layer")?;
    io::copy(&mut input, out).map_err(|e| read_error("the layer", e))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A reader that hashes (SHA-256) and counts what goes through it.
pub struct Hashing<R> {
    pub inner: R,
    pub hash: Sha256,
    pub bytes: u64,
}

impl<R> Hashing<R> {
    pub fn new(inner: R) -> Hashing<R> {
        Hashing { inner, hash: Sha256::new(), bytes: 0 }
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}
