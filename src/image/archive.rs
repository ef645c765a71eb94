//! Images in and out of learnctr's store as files: an OCI image layout (a directory, or a
//! tar of one: what `skopeo copy oci:DIR` and `podman save --format oci-archive` write) and
//! `docker save`'s tarball (`manifest.json`, a config and one tar per layer).
//!
//! An imported image is hostile: every blob is copied through its digest check, every
//! manifest is read with a size limit, every layer is read through (`check.rs`) before the
//! image gets its name, and a tarball is unpacked with rootfs-fetch's safe unpacker first.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use serde_json::{json, Value};

use super::store::{io_fail, parse_json, Image, Store, JSON_LIMIT, REF_NAME};
use super::{fail, media, Reference};

/// The annotation containerd gives an image's full name in an OCI layout (`ctr export`).
const CONTAINERD_NAME: &str = "io.containerd.image.name";
use crate::course::Failure;

/// `learnctr image import PATH [--tag NAME]`: the names it gave.
pub fn import(store: &Store, path: &Path, tag: Option<&Reference>) -> Result<Vec<String>, Failure> {
    let _lock = store.lock()?;
    let result = if path.is_dir() {
        import_dir(store, path, tag)
    } else if path.is_file() {
        let tmp = Unpacked::new(store, path)?;
        if tmp.0.join("manifest.json").is_file() && !tmp.0.join("index.json").is_file() {
            import_docker(store, &tmp.0, tag)
        } else {
            import_dir(store, &tmp.0, tag)
        }
    } else {
        Err(fail("image.err.no_such_path", &[("path", &path.display())]))
    };
    if result.is_err() {
        let _ = store.remove_unused_blobs();
    }
    result
}

/// A tarball unpacked (safely) into a scratch directory of the store, removed when dropped.
struct Unpacked(PathBuf);

impl Unpacked {
    fn new(store: &Store, tarball: &Path) -> Result<Unpacked, Failure> {
        let dir = Unpacked(store.root().join(format!(".import-{}", std::process::id())));
        let file = fs::File::open(tarball).map_err(|e| io_fail(tarball, e))?;
        rootfs_fetch::unpack::unpack_named(file, &dir.0, &tarball.display().to_string())
            .map_err(crate::course_rootfs::failure)?;
        Ok(dir)
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A small JSON file of an import, read with a limit (never through a symlink).
fn read_small(path: &Path) -> Result<Vec<u8>, Failure> {
    if fs::symlink_metadata(path).map(|m| !m.is_file()).unwrap_or(true) {
        return Err(fail("image.err.not_a_layout", &[("path", &path.display())]));
    }
    let mut bytes = Vec::new();
    fs::File::open(path).and_then(|f| f.take(JSON_LIMIT).read_to_end(&mut bytes)).map_err(|e| io_fail(path, e))?;
    Ok(bytes)
}

/// A blob of an OCI layout at `dir`, into the store, checked against `desc`.
fn copy_blob(store: &Store, dir: &Path, desc: &Descriptor) -> Result<(), Failure> {
    let digest = desc.digest().to_string();
    let hex = super::reference::parse_digest(&digest).map_err(Failure::new)?;
    if store.has_blob(&digest) {
        return Ok(());
    }
    let rel = format!("blobs/sha256/{}", hex.trim_start_matches("sha256:"));
    let missing = || fail("image.err.missing_blob", &[("digest", &digest)]);
    let path = plain_file_under(dir, &rel).ok_or_else(missing)?;
    let file = fs::File::open(&path).map_err(|_| missing())?;
    store.write_blob(file, Some(desc), &digest).map(|_| ())
}

fn import_dir(store: &Store, dir: &Path, tag: Option<&Reference>) -> Result<Vec<String>, Failure> {
    if !dir.join("oci-layout").is_file() || !dir.join("index.json").is_file() {
        return Err(fail("image.err.not_a_layout", &[("path", &dir.display())]));
    }
    let index: ImageIndex = parse_json(&read_small(&dir.join("index.json"))?, "index.json")?;
    let mut named = Vec::new();
    let mut pending = Vec::new();
    for desc in index.manifests() {
        // containerd's full name if there is one (learnctr writes both), else the tag.
        let annotations = desc.annotations().clone().unwrap_or_default();
        let ref_name = annotations.get(CONTAINERD_NAME).or_else(|| annotations.get(REF_NAME)).cloned();
        let name = match (tag, &ref_name) {
            (Some(t), _) if index.manifests().len() == 1 => t.to_string(),
            (Some(t), Some(r)) if !r.contains('/') && !r.contains(':') => {
                format!("{}/{}:{r}", t.registry, t.repository)
            }
            (_, Some(r)) if Reference::parse(r).is_ok() && (r.contains('/') || r.contains(':')) => {
                Reference::parse(r).map_err(Failure::new)?.to_string()
            }
            (None, Some(r)) => return Err(fail("image.err.needs_tag", &[("name", r)])),
            (_, None) => return Err(fail("image.err.needs_tag", &[("name", &desc.digest())])),
            (Some(_), Some(r)) => return Err(fail("image.err.needs_tag", &[("name", r)])),
        };
        copy_blob(store, dir, desc)?;
        let mut bytes = store.read_json_blob(desc.digest().as_ref())?;
        let mut desc = desc.clone();
        if media::is_index(desc.media_type().as_ref(), &bytes) {
            let inner: ImageIndex = parse_json(&bytes, "index")?;
            desc = media::for_this_platform(&inner)?;
            copy_blob(store, dir, &desc)?;
            bytes = store.read_json_blob(desc.digest().as_ref())?;
        }
        media::check_manifest_type(desc.media_type().as_ref(), &bytes)?;
        let manifest: ImageManifest = parse_json(&bytes, "manifest")?;
        media::check_layers(&manifest)?;
        for blob in std::iter::once(manifest.config()).chain(manifest.layers()) {
            copy_blob(store, dir, blob)?;
        }
        super::check::image(store, &manifest)?;
        pending.push((name, desc));
    }
    // Names only once every image of the layout passed.
    for (name, desc) in pending {
        store.tag(&name, &desc)?;
        named.push(name);
    }
    Ok(named)
}

/// `docker save`: `manifest.json` = `[{"Config": "<hex>.json", "RepoTags": [...], "Layers": ["<dir>/layer.tar", ...]}]`.
/// Each layer tar becomes an uncompressed OCI layer blob (its digest is its diff_id).
fn import_docker(store: &Store, dir: &Path, tag: Option<&Reference>) -> Result<Vec<String>, Failure> {
    let entries: Vec<Value> = parse_json(&read_small(&dir.join("manifest.json"))?, "manifest.json")?;
    let mut pending = Vec::new();
    for entry in &entries {
        let file = |key: &str| -> Result<PathBuf, Failure> {
            let rel = entry[key].as_str().unwrap_or("");
            inside(dir, rel)
        };
        let config_path = file("Config")?;
        let config_bytes = read_small(&config_path)?;
        let config_blob = store.write_blob(&config_bytes[..], None, "config")?;
        let mut layers = Vec::new();
        for rel in entry["Layers"].as_array().into_iter().flatten() {
            let path = inside(dir, rel.as_str().unwrap_or(""))?;
            let f = fs::File::open(&path).map_err(|e| io_fail(&path, e))?;
            let blob = store.write_blob(f, None, &path.display().to_string())?;
            layers.push(json!({ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blob.digest, "size": blob.size }));
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_blob.digest, "size": config_blob.size },
            "layers": layers,
        });
        let manifest_blob = store.write_json(&manifest)?;
        let parsed: ImageManifest = parse_json(&serde_json::to_vec(&manifest).expect("json"), "manifest")?;
        super::check::image(store, &parsed)?;
        let name = match (tag, entry["RepoTags"].as_array().and_then(|t| t.first()).and_then(|t| t.as_str())) {
            (Some(t), _) => t.to_string(),
            (None, Some(t)) => Reference::parse(t).map_err(Failure::new)?.to_string(),
            (None, None) => return Err(fail("image.err.needs_tag", &[("name", &manifest_blob.digest)])),
        };
        pending.push((name, manifest_blob.descriptor(MediaType::ImageManifest)));
    }
    let mut named = Vec::new();
    for (name, desc) in pending {
        store.tag(&name, &desc)?;
        named.push(name);
    }
    Ok(named)
}

/// A path a `docker save` manifest names, which must stay inside the unpacked tarball.
fn inside(dir: &Path, rel: &str) -> Result<PathBuf, Failure> {
    plain_file_under(dir, rel).ok_or_else(|| fail("image.err.bad_docker_archive", &[("path", &rel)]))
}

/// `dir/rel`, if `rel` is relative, has no `..`, and neither it nor any directory on the way
/// is a symlink, and it is a regular file: an imported layout (from a hostile tarball) cannot
/// make learnctr read a host file such as `blobs/sha256/X -> /etc/shadow`.
fn plain_file_under(dir: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    if rel.is_empty() || !p.components().all(|c| matches!(c, std::path::Component::Normal(_))) {
        return None;
    }
    let mut at = dir.to_path_buf();
    for part in p.components() {
        at.push(part);
        let meta = fs::symlink_metadata(&at).ok()?;
        if meta.file_type().is_symlink() {
            return None;
        }
    }
    fs::symlink_metadata(&at).ok().filter(|m| m.is_file()).map(|_| at)
}

/// `learnctr image export NAME PATH --format oci|docker`.
pub fn export(store: &Store, image: &Image, path: &Path, docker: bool) -> Result<(), Failure> {
    if path.exists() {
        return Err(fail("image.err.export_exists", &[("path", &path.display())]));
    }
    let reference = Reference::parse(&image.name).map_err(Failure::new)?;
    if docker {
        export_docker(store, image, &reference, path)
    } else {
        // Written under a temporary name beside PATH and renamed at the end: a failed
        // export leaves no half-made layout.
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let written = export_layout(store, image, &reference, &tmp)
            .and_then(|()| fs::rename(&tmp, path).map_err(|e| io_fail(path, e)));
        if written.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        written
    }
}

fn export_layout(store: &Store, image: &Image, reference: &Reference, dir: &Path) -> Result<(), Failure> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(|e| io_fail(&blobs, e))?;
    let mut digests = vec![image.manifest_digest.clone(), image.manifest.config().digest().to_string()];
    digests.extend(image.manifest.layers().iter().map(|l| l.digest().to_string()));
    for digest in &digests {
        let to = blobs.join(digest.trim_start_matches("sha256:"));
        fs::copy(store.blob_path(digest), &to).map_err(|e| io_fail(&to, e))?;
    }
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(|e| io_fail(dir, e))?;
    // In a layout, ref.name is the tag alone (what `umoci` and `skopeo oci:DIR:TAG` use);
    // the full name goes in containerd's annotation, which `ctr import` reads too.
    let size = fs::metadata(store.blob_path(&image.manifest_digest)).map_err(|e| io_fail(dir, e))?.len();
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{ "mediaType": media::manifest_media_type(&image.manifest, "").to_string(), "digest": image.manifest_digest, "size": size,
                        "annotations": { REF_NAME: tag, CONTAINERD_NAME: image.name } }],
    });
    fs::write(dir.join("index.json"), serde_json::to_vec_pretty(&index).expect("json")).map_err(|e| io_fail(dir, e))
}

fn export_docker(store: &Store, image: &Image, reference: &Reference, file: &Path) -> Result<(), Failure> {
    let tmp = file.with_extension(format!("tmp-{}", std::process::id()));
    let written = write_docker(store, image, reference, file, &tmp);
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

fn write_docker(store: &Store, image: &Image, reference: &Reference, file: &Path, tmp: &Path) -> Result<(), Failure> {
    let out = fs::File::create(tmp).map_err(|e| io_fail(tmp, e))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(out));
    let io = |e: std::io::Error| io_fail(file, e);
    let config_digest = image.manifest.config().digest().to_string();
    let config_name = format!("{}.json", config_digest.trim_start_matches("sha256:"));
    append_file(&mut tar, &config_name, &store.read_json_blob(&config_digest)?).map_err(io)?;
    let mut layer_names = Vec::new();
    for (layer, diff_id) in image.manifest.layers().iter().zip(image.config.rootfs().diff_ids()) {
        // docker load reads plain tars: each layer decompressed, named by its diff_id.
        let name = format!("{}/layer.tar", diff_id.trim_start_matches("sha256:"));
        let mut plain = Vec::new();
        let blob = store.open_blob(layer.digest().as_ref())?;
        rootfs_fetch::decompress_to(blob, &mut plain).map_err(crate::course_rootfs::failure)?;
        append_file(&mut tar, &name, &plain).map_err(io)?;
        layer_names.push(name);
    }
    let tag =
        format!("{}/{}:{}", reference.registry, reference.repository, reference.tag.as_deref().unwrap_or("latest"));
    let manifest = json!([{ "Config": config_name, "RepoTags": [tag], "Layers": layer_names }]);
    append_file(&mut tar, "manifest.json", &serde_json::to_vec(&manifest).expect("json")).map_err(io)?;
    tar.into_inner().and_then(|w| w.into_inner().map_err(|e| e.into_error())).and_then(|f| f.sync_all()).map_err(io)?;
    fs::rename(tmp, file).map_err(io)
}

fn append_file<W: std::io::Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(bytes.len() as u64);
    tar.append_data(&mut h, name, bytes)
}
