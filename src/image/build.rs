//! Making images: a layer is a tar of a directory; an image is its layers, a config that
//! lists their `diff_id`s and says how to run it, and a manifest that names config and layers
//! by digest. `docker commit` is the same with one more layer: the container's overlay upper
//! directory, its overlay whiteouts (0/0 character devices, `trusted.overlay.opaque`) turned
//! back into the image spec's `.wh.` entries.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use flate2::write::GzEncoder;
use oci_spec::image::MediaType;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use super::fail;
use super::store::{io_fail, Blob, BlobWriter, Store};
use crate::course::Failure;

/// OCI's gzip-compressed layer type.
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A layer written to the store: its blob (compressed: the digest) and its `diff_id` (the
/// SHA-256 of the uncompressed tar).
#[derive(Debug, Clone)]
pub struct Layer {
    pub blob: Blob,
    pub diff_id: String,
    pub created_by: String,
}

/// How a layer's tar is written as it is made: tar bytes → SHA-256 (the diff_id) → gzip →
/// the store (the blob digest).
pub struct LayerWriter {
    tar: tar::Builder<DiffHash<GzEncoder<BlobWriter>>>,
}

impl LayerWriter {
    pub fn new(store: &Store) -> Result<LayerWriter, Failure> {
        let gz = GzEncoder::new(store.blob_writer()?, flate2::Compression::default());
        let mut tar = tar::Builder::new(DiffHash { inner: gz, hash: Sha256::new() });
        tar.mode(tar::HeaderMode::Complete);
        Ok(LayerWriter { tar })
    }

    fn header(kind: tar::EntryType, mode: u32, uid: u32, gid: u32, mtime: i64, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode & 0o7777);
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        h.set_mtime(mtime.max(0) as u64);
        h.set_size(size);
        h
    }

    /// A file with these contents (root-owned, 0644).
    pub fn file(&mut self, path: &str, contents: &[u8]) -> io::Result<()> {
        let mut h = Self::header(tar::EntryType::Regular, 0o644, 0, 0, 0, contents.len() as u64);
        self.tar.append_data(&mut h, path, contents)
    }

    pub fn dir(&mut self, path: &str) -> io::Result<()> {
        let mut h = Self::header(tar::EntryType::Directory, 0o755, 0, 0, 0, 0);
        self.tar.append_data(&mut h, format!("{path}/"), io::empty())
    }

    /// `.wh.NAME` beside `path`: "the lower layers' `path` is gone".
    pub fn whiteout(&mut self, path: &str) -> io::Result<()> {
        let (dir, name) = path.rsplit_once('/').map_or(("", path), |(d, n)| (d, n));
        let marker = if dir.is_empty() { format!(".wh.{name}") } else { format!("{dir}/.wh.{name}") };
        self.file_marker(&marker)
    }

    /// `DIR/.wh..wh..opq`: "DIR keeps nothing of the lower layers".
    pub fn opaque(&mut self, dir: &str) -> io::Result<()> {
        self.file_marker(&format!("{dir}/.wh..wh..opq"))
    }

    fn file_marker(&mut self, path: &str) -> io::Result<()> {
        let mut h = Self::header(tar::EntryType::Regular, 0o644, 0, 0, 0, 0);
        self.tar.append_data(&mut h, path, io::empty())
    }

    /// Everything under `root`, sorted (the same tree gives the same layer). With
    /// `from_upper`, `root` is an overlay upper directory: its whiteouts become `.wh.` entries.
    pub fn tree(&mut self, root: &Path, from_upper: bool) -> Result<(), Failure> {
        let mut links: HashMap<(u64, u64), String> = HashMap::new();
        self.walk(root, root, from_upper, &mut links)
    }

    fn walk(
        &mut self,
        root: &Path,
        dir: &Path,
        upper: bool,
        links: &mut HashMap<(u64, u64), String>,
    ) -> Result<(), Failure> {
        let mut names: Vec<_> =
            fs::read_dir(dir).map_err(|e| io_fail(dir, e))?.flatten().map(|e| e.file_name()).collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let rel = path.strip_prefix(root).expect("under root").to_string_lossy().into_owned();
            let meta = fs::symlink_metadata(&path).map_err(|e| io_fail(&path, e))?;
            let ft = meta.file_type();
            let (mode, uid, gid, mtime) = (meta.mode(), meta.uid(), meta.gid(), meta.mtime());
            let io = |e: io::Error| io_fail(&path, e);
            if upper {
                refuse_overlay_features(&path)?;
            }
            if upper && ft.is_char_device() && meta.rdev() == 0 {
                // overlayfs' whiteout: the lower file is deleted.
                self.whiteout(&rel).map_err(io)?;
            } else if ft.is_dir() {
                let mut h = Self::header(tar::EntryType::Directory, mode, uid, gid, mtime, 0);
                self.tar.append_data(&mut h, format!("{rel}/"), io::empty()).map_err(io)?;
                if upper && xattr(&path, "trusted.overlay.opaque").as_deref() == Some(b"y") {
                    self.opaque(&rel).map_err(io)?;
                }
                self.walk(root, &path, upper, links)?;
            } else if ft.is_symlink() {
                let target = fs::read_link(&path).map_err(io)?;
                let mut h = Self::header(tar::EntryType::Symlink, mode, uid, gid, mtime, 0);
                self.tar.append_link(&mut h, &rel, &target).map_err(io)?;
            } else if ft.is_file() {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = links.get(&key).filter(|_| meta.nlink() > 1) {
                    let mut h = Self::header(tar::EntryType::Link, mode, uid, gid, mtime, 0);
                    self.tar.append_link(&mut h, &rel, first).map_err(io)?;
                    continue;
                }
                links.insert(key, rel.clone());
                let mut h = Self::header(tar::EntryType::Regular, mode, uid, gid, mtime, meta.len());
                let file = fs::File::open(&path).map_err(io)?;
                self.tar.append_data(&mut h, &rel, file).map_err(io)?;
            } else {
                // Devices, FIFOs, sockets: an image carries none (the runtime makes /dev).
                return Err(fail("image.err.special_file", &[("path", &path.display())]));
            }
        }
        Ok(())
    }

    /// End the tar, the gzip stream and the blob.
    pub fn finish(self, created_by: &str) -> Result<Layer, Failure> {
        let io = |e: io::Error| fail("image.err.write_layer", &[("why", &crate::i18n::io_reason(&e))]);
        let hashed = self.tar.into_inner().map_err(io)?;
        let diff_id = format!("sha256:{}", rootfs_fetch::hex(&hashed.hash.finalize()));
        let blob = hashed.inner.finish().map_err(io)?.finish()?;
        Ok(Layer { blob, diff_id, created_by: created_by.to_string() })
    }
}

/// overlayfs features that a tree walk cannot turn into a layer: refused, never dropped.
fn refuse_overlay_features(path: &Path) -> Result<(), Failure> {
    for name in ["trusted.overlay.redirect", "trusted.overlay.metacopy"] {
        if xattr(path, name).is_some() {
            return Err(fail("image.err.overlay_feature", &[("path", &path.display()), ("xattr", &name)]));
        }
    }
    Ok(())
}

/// An extended attribute of `path` itself (never of what a symlink points to).
pub fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::lgetxattr(path, name, &mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// A writer that hashes what goes through it.
pub struct DiffHash<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for DiffHash<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// How to run the image: the parts of an image config's `config` learnctr writes.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
}

impl RunConfig {
    /// What an image's config says (empty where it says nothing).
    pub fn of(image: &oci_spec::image::ImageConfiguration) -> RunConfig {
        let c = image.config().clone().unwrap_or_default();
        RunConfig {
            entrypoint: c.entrypoint().clone().unwrap_or_default(),
            cmd: c.cmd().clone().unwrap_or_default(),
            env: c.env().clone().unwrap_or_default(),
            working_dir: c.working_dir().clone().unwrap_or_default(),
            user: c.user().clone().unwrap_or_default(),
        }
    }
}

/// Write the config and manifest of an image made of `layers` (bottom first), with its
/// `history` (one line per layer), and name it. Returns the manifest's digest.
pub fn write_image(
    store: &Store,
    name: &str,
    layers: &[Layer],
    run: &RunConfig,
    history: Vec<Value>,
) -> Result<String, Failure> {
    let mut config_section = json!({ "Env": run.env, "Cmd": run.cmd });
    if !run.entrypoint.is_empty() {
        config_section["Entrypoint"] = json!(run.entrypoint);
    }
    if !run.working_dir.is_empty() {
        config_section["WorkingDir"] = json!(run.working_dir);
    }
    if !run.user.is_empty() {
        config_section["User"] = json!(run.user);
    }
    let config = json!({
        "architecture": super::media::this_arch().to_string(),
        "os": "linux",
        "config": config_section,
        "rootfs": { "type": "layers", "diff_ids": layers.iter().map(|l| &l.diff_id).collect::<Vec<_>>() },
        "history": history,
    });
    let config_blob = store.write_json(&config)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": super::media::OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_blob.digest, "size": config_blob.size },
        "layers": layers.iter().map(|l| json!({ "mediaType": LAYER_GZIP, "digest": l.blob.digest, "size": l.blob.size })).collect::<Vec<_>>(),
    });
    let manifest_blob = store.write_json(&manifest)?;
    store.tag(name, &manifest_blob.descriptor(MediaType::ImageManifest))?;
    Ok(manifest_blob.digest)
}

/// The lesson's image, built by hand: the course's root filesystem as layer 1; layer 2
/// adds a small web root; layer 3 changes it the three ways a layer can: adds a file, deletes
/// one (a whiteout) and replaces a directory (an opaque marker).
pub fn recipe(store: &Store, rootfs: &Path, name: &str) -> Result<String, Failure> {
    let _lock = store.lock()?;
    let io = |e: io::Error| fail("image.err.write_layer", &[("why", &crate::i18n::io_reason(&e))]);
    let mut base = LayerWriter::new(store)?;
    base.tree(rootfs, false)?;
    let base = base.finish("COPY rootfs/ /")?;

    let mut www = LayerWriter::new(store)?;
    www.dir("srv").map_err(io)?;
    www.dir("srv/www").map_err(io)?;
    www.file("srv/www/index.html", b"<h1>version 1</h1>\n").map_err(io)?;
    www.file("srv/www/old-photos.bin", &vec![b'x'; 64 * 1024]).map_err(io)?;
    let www = www.finish("COPY www/ /srv/www/")?;

    let mut change = LayerWriter::new(store)?;
    change.dir("etc").map_err(io)?;
    change.file("etc/learnctr-image", b"built by hand in lesson 9\n").map_err(io)?;
    change.whiteout("etc/hostname").map_err(io)?;
    change.dir("srv/www").map_err(io)?;
    change.opaque("srv/www").map_err(io)?;
    change.file("srv/www/index.html", b"<h1>version 2</h1>\n").map_err(io)?;
    let change = change.finish("RUN echo 'built by hand…' > /etc/learnctr-image && rm /etc/hostname && rm -r /srv/www/* && echo '<h1>version 2</h1>' > /srv/www/index.html")?;

    let run = RunConfig {
        cmd: vec!["/bin/sh".into()],
        env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
        working_dir: "/srv/www".into(),
        ..RunConfig::default()
    };
    let layers = [base, www, change];
    let history = layers.iter().map(|l| json!({ "created_by": l.created_by })).collect();
    write_image(store, name, &layers, &run, history)
}

/// `docker commit`: `upper` (an overlay upper directory) as a new layer on top of `base`.
pub fn commit(
    store: &Store,
    base: &super::store::Image,
    upper: &Path,
    name: &str,
    created_by: &str,
) -> Result<String, Failure> {
    let _lock = store.lock()?;
    let mut writer = LayerWriter::new(store)?;
    writer.tree(upper, true)?;
    let top = writer.finish(created_by)?;
    let mut layers: Vec<Layer> = base
        .manifest
        .layers()
        .iter()
        .zip(base.config.rootfs().diff_ids())
        .map(|(d, diff_id)| Layer {
            blob: Blob { digest: d.digest().to_string(), size: d.size() },
            diff_id: diff_id.clone(),
            created_by: String::new(),
        })
        .collect();
    layers.push(top);
    let run = RunConfig::of(&base.config);
    // The base's history stays; the new layer adds one line.
    let mut history: Vec<Value> =
        base.config.history().iter().flatten().map(|h| serde_json::to_value(h).unwrap_or_default()).collect();
    history.push(json!({ "created_by": created_by }));
    write_image(store, name, &layers, &run, history)
}
