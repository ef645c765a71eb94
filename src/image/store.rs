//! learnctr's images, kept as one OCI image layout: the same directory format `skopeo copy
//! oci:DIR`, `umoci` and `podman save --format oci-dir` use.
//!
//! ```text
//! /var/lib/learnctr/images/
//!   oci-layout            {"imageLayoutVersion":"1.0.0"}
//!   index.json            one descriptor per image, its full name in the annotation
//!                         org.opencontainers.image.ref.name
//!   blobs/sha256/<hex>    every manifest, config and layer, named by the SHA-256 of its bytes
//! ```
//!
//! Blobs are content-addressed, so a layer two images share is kept (and pulled) once. A blob
//! is written under a temporary name, hashed as it is written, and renamed to its digest only
//! if the digest (and size) is the one expected: a failed or tampered download never leaves a
//! file with a digest for a name. `index.json` is replaced whole (temporary file, rename). A
//! lock on `index.json`'s directory keeps two learnctr processes from interleaving.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageIndexBuilder, ImageManifest, MediaType};
use sha2::{Digest as _, Sha256};

use super::{fail, Reference};
use crate::course::Failure;

/// The annotation that names an image in an OCI layout's index.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Manifests and configs are small; a larger one is refused before it is read.
pub const JSON_LIMIT: u64 = 8 << 20;

pub struct Store {
    root: PathBuf,
}

/// One image of the store, read.
pub struct Image {
    pub name: String,
    pub manifest_digest: String,
    pub manifest: ImageManifest,
    pub config: ImageConfiguration,
}

impl Store {
    /// `/var/lib/learnctr/images`, or `$LEARNCTR_STORE_DIR/images` (the tests use their own).
    pub fn system_dir() -> PathBuf {
        match std::env::var_os("LEARNCTR_STORE_DIR") {
            Some(dir) => Path::new(&dir).join("images"),
            None => PathBuf::from("/var/lib/learnctr/images"),
        }
    }

    pub fn open() -> Result<Store, Failure> {
        Store::at(&Store::system_dir())
    }

    /// Open (creating when missing) the layout at `root`; temporaries of a killed learnctr
    /// are removed.
    pub fn at(root: &Path) -> Result<Store, Failure> {
        let store = Store { root: root.to_path_buf() };
        let blobs = store.blobs_dir();
        fs::create_dir_all(&blobs).map_err(|e| io_fail(&blobs, e))?;
        let layout = root.join("oci-layout");
        if !layout.exists() {
            write_atomically(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        if let Ok(entries) = fs::read_dir(&blobs) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix(".tmp-").and_then(|r| r.split('-').next()) {
                    let alive = pid.parse::<i32>().is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists());
                    if !alive {
                        let _ = fs::remove_file(entry.path());
                    }
                }
            }
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }

    /// Where the blob with this digest is (or would be).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.blobs_dir().join(digest.trim_start_matches("sha256:"))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Hold the store for this process until the guard is dropped.
    pub fn lock(&self) -> Result<Flock<File>, Failure> {
        let file = File::open(&self.root).map_err(|e| io_fail(&self.root, e))?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| io_fail(&self.root, e.into()))
    }

    /// Copy `reader` into the store as a blob; with `expected`, refuse (and keep nothing) when
    /// the bytes are not the ones that digest and size name. `what` names it for messages.
    pub fn write_blob(&self, reader: impl Read, expected: Option<&Descriptor>, what: &str) -> Result<Blob, Failure> {
        let tmp = TempFile::new(&self.blobs_dir())?;
        let mut file = File::create(&tmp.0).map_err(|e| io_fail(&tmp.0, e))?;
        let mut hashing = rootfs_fetch::Hashing::new(reader);
        let limit = expected.map_or(u64::MAX, |d| d.size().saturating_add(1));
        io::copy(&mut (&mut hashing).take(limit), &mut file)
            .map_err(|e| fail("image.err.read", &[("what", &what), ("why", &crate::i18n::io_reason(&e))]))?;
        let digest = format!("sha256:{}", rootfs_fetch::hex(&hashing.hash.finalize()));
        if let Some(d) = expected {
            if digest != d.digest().to_string() || hashing.bytes != d.size() {
                return Err(fail(
                    "image.err.digest_mismatch",
                    &[("what", &what), ("expected", &d.digest()), ("got", &digest)],
                ));
            }
        }
        file.sync_all().map_err(|e| io_fail(&tmp.0, e))?;
        let path = self.blob_path(&digest);
        fs::rename(&tmp.0, &path).map_err(|e| io_fail(&path, e))?;
        tmp.keep();
        Ok(Blob { digest, size: hashing.bytes })
    }

    /// A blob written as it is made (a layer being built): hashed on the way, named at the end.
    pub fn blob_writer(&self) -> Result<BlobWriter, Failure> {
        let tmp = TempFile::new(&self.blobs_dir())?;
        let file = File::create(&tmp.0).map_err(|e| io_fail(&tmp.0, e))?;
        Ok(BlobWriter {
            dir: self.blobs_dir(),
            tmp,
            file: io::BufWriter::with_capacity(256 * 1024, file),
            hash: Sha256::new(),
            size: 0,
        })
    }

    /// A JSON document as a blob (a config, a manifest).
    pub fn write_json<T: serde::Serialize>(&self, value: &T) -> Result<Blob, Failure> {
        let bytes = serde_json::to_vec(value).expect("OCI types serialize");
        self.write_blob(&bytes[..], None, "JSON")
    }

    /// The bytes of a small blob (a manifest or config).
    pub fn read_json_blob(&self, digest: &str) -> Result<Vec<u8>, Failure> {
        let path = self.blob_path(digest);
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|f| f.take(JSON_LIMIT).read_to_end(&mut bytes))
            .map_err(|_| fail("image.err.missing_blob", &[("digest", &digest)]))?;
        Ok(bytes)
    }

    pub fn open_blob(&self, digest: &str) -> Result<File, Failure> {
        File::open(self.blob_path(digest)).map_err(|_| fail("image.err.missing_blob", &[("digest", &digest)]))
    }

    pub fn index(&self) -> Result<ImageIndex, Failure> {
        let path = self.root.join("index.json");
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|_| fail("image.err.bad_index", &[("path", &path.display())]))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(empty_index()),
            Err(e) => Err(io_fail(&path, e)),
        }
    }

    /// The images, by name, in the order they were added.
    pub fn images(&self) -> Result<Vec<(String, Descriptor)>, Failure> {
        Ok(self
            .index()?
            .manifests()
            .iter()
            .filter_map(|d| d.annotations().as_ref().and_then(|a| a.get(REF_NAME)).map(|n| (n.clone(), d.clone())))
            .collect())
    }

    /// The image a reference names (`alpine` finds `docker.io/library/alpine:latest`).
    pub fn find(&self, reference: &Reference) -> Result<Option<Descriptor>, Failure> {
        let name = reference.to_string();
        Ok(self.images()?.into_iter().find(|(n, _)| *n == name).map(|(_, d)| d))
    }

    pub fn image(&self, reference: &Reference) -> Result<Image, Failure> {
        let name = reference.to_string();
        let desc = self.find(reference)?.ok_or_else(|| fail("image.err.not_in_store", &[("name", &name)]))?;
        let manifest_digest = desc.digest().to_string();
        let manifest: ImageManifest = parse_json(&self.read_json_blob(&manifest_digest)?, "manifest")?;
        let config: ImageConfiguration =
            parse_json(&self.read_json_blob(manifest.config().digest().as_ref())?, "config")?;
        Ok(Image { name, manifest_digest, manifest, config })
    }

    /// Name the manifest `desc` (already in the store) `name`, replacing what had that name.
    pub fn tag(&self, name: &str, desc: &Descriptor) -> Result<(), Failure> {
        let mut desc = desc.clone();
        desc.set_annotations(Some([(REF_NAME.to_string(), name.to_string())].into()));
        desc.set_platform(None);
        let mut manifests: Vec<Descriptor> = self.index()?.manifests().clone();
        manifests.retain(|d| d.annotations().as_ref().and_then(|a| a.get(REF_NAME)).is_none_or(|n| n != name));
        manifests.push(desc);
        self.write_index(manifests)
    }

    /// Forget the name; blobs no image uses any more are removed. False if no image had it.
    pub fn untag(&self, name: &str) -> Result<bool, Failure> {
        let mut manifests: Vec<Descriptor> = self.index()?.manifests().clone();
        let before = manifests.len();
        manifests.retain(|d| d.annotations().as_ref().and_then(|a| a.get(REF_NAME)).is_none_or(|n| n != name));
        if manifests.len() == before {
            return Ok(false);
        }
        self.write_index(manifests)?;
        self.remove_unused_blobs()?;
        Ok(true)
    }

    fn write_index(&self, manifests: Vec<Descriptor>) -> Result<(), Failure> {
        let index = ImageIndexBuilder::default().schema_version(2u32).manifests(manifests).build().expect("index");
        let bytes = serde_json::to_vec_pretty(&index).expect("OCI types serialize");
        write_atomically(&self.root.join("index.json"), &bytes)
    }

    /// Every blob some named image reaches (manifest, config, layers).
    fn used_blobs(&self) -> Result<std::collections::HashSet<String>, Failure> {
        let mut used = std::collections::HashSet::new();
        for (_, desc) in self.images()? {
            let digest = desc.digest().to_string();
            used.insert(digest.clone());
            let Ok(bytes) = self.read_json_blob(&digest) else { continue };
            let Ok(manifest) = serde_json::from_slice::<ImageManifest>(&bytes) else { continue };
            used.insert(manifest.config().digest().to_string());
            used.extend(manifest.layers().iter().map(|l| l.digest().to_string()));
        }
        Ok(used)
    }

    /// Remove the blobs, and the unpacked layer directories, no named image uses.
    pub fn remove_unused_blobs(&self) -> Result<(), Failure> {
        let used = self.used_blobs()?;
        let mut diff_ids = std::collections::HashSet::new();
        for (name, _) in self.images()? {
            if let Ok(image) = Reference::parse(&name).map_err(Failure::new).and_then(|r| self.image(&r)) {
                diff_ids.extend(image.config.rootfs().diff_ids().iter().cloned());
            }
        }
        super::layers::remove_unused(self, &diff_ids)?;
        for entry in fs::read_dir(self.blobs_dir()).map_err(|e| io_fail(&self.blobs_dir(), e))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && !used.contains(&format!("sha256:{name}")) {
                fs::remove_file(entry.path()).map_err(|e| io_fail(&entry.path(), e))?;
            }
        }
        Ok(())
    }
}

/// A blob being written; `finish` names it by its digest.
pub struct BlobWriter {
    dir: PathBuf,
    tmp: TempFile,
    file: io::BufWriter<File>,
    hash: Sha256,
    size: u64,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl BlobWriter {
    pub fn finish(self) -> Result<Blob, Failure> {
        let file = self.file.into_inner().map_err(|e| io_fail(&self.tmp.0, e.into_error()))?;
        file.sync_all().map_err(|e| io_fail(&self.tmp.0, e))?;
        let digest = format!("sha256:{}", rootfs_fetch::hex(&self.hash.finalize()));
        let path = self.dir.join(digest.trim_start_matches("sha256:"));
        fs::rename(&self.tmp.0, &path).map_err(|e| io_fail(&path, e))?;
        self.tmp.keep();
        Ok(Blob { digest, size: self.size })
    }
}

/// A blob written: its digest and size.
#[derive(Debug, Clone)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
}

impl Blob {
    pub fn descriptor(&self, media_type: MediaType) -> Descriptor {
        let digest: oci_spec::image::Digest = self.digest.parse().expect("a sha256 digest we computed");
        Descriptor::new(media_type, self.size, digest)
    }
}

pub fn empty_index() -> ImageIndex {
    ImageIndexBuilder::default().schema_version(2u32).manifests(Vec::new()).build().expect("index")
}

/// Parse a JSON document of an image; `kind` names it in the sentence.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], kind: &str) -> Result<T, Failure> {
    serde_json::from_slice(bytes).map_err(|e| fail("image.err.bad_json", &[("kind", &kind), ("why", &e)]))
}

/// Replace `path` whole: a reader sees the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = TempFile::new(dir)?;
    let mut file = File::create(&tmp.0).map_err(|e| io_fail(&tmp.0, e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| io_fail(path, e))?;
    fs::rename(&tmp.0, path).map_err(|e| io_fail(path, e))?;
    tmp.keep();
    Ok(())
}

pub fn io_fail(path: &Path, e: io::Error) -> Failure {
    fail("image.err.io", &[("path", &path.display()), ("why", &crate::i18n::io_reason(&e))])
}

/// A temporary file `.tmp-PID-N` in a directory, removed unless kept.
struct TempFile(PathBuf);

impl TempFile {
    fn new(dir: &Path) -> Result<TempFile, Failure> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        fs::create_dir_all(dir).map_err(|e| io_fail(dir, e))?;
        Ok(TempFile(dir.join(format!(".tmp-{}-{n}", std::process::id()))))
    }
    fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}
