//! The store: where root filesystems are kept, and the operations on them.
//!
//! Layout (for `Store::system()`):
//!
//! ```text
//! /var/cache/learnctr/alpine-minirootfs-3.21.3-x86_64.tar.gz   verified download, kept for reuse
//! /var/lib/learnctr/rootfs/alpine-3.21.3/                       an unpacked root filesystem
//! /var/lib/learnctr/rootfs/alpine-3.21.3.json                   what it is (source, version, size)
//! /var/lib/learnctr/rootfs/busybox/   busybox.json
//! ```
//!
//! The `.json` file sits *beside* the tree, never inside it: the tree is what the container sees.
//! A root filesystem exists only when both its directory and its `.json` are there; the
//! directory is renamed into place first and the metadata written after, so an interrupted
//! install is never listed (and is cleaned up by the next install of that name).

use std::fs::{self, File};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::alpine::{AlpineRelease, ALPINE_CDN};
use crate::busybox;
use crate::download::{self, download_verified};
use crate::error::{show, Error, Note, Result};
use crate::fsutil::{self, TempPath};
use crate::import_export;
use crate::sources::{self, default_name, use_directory, validate_name};
use crate::unpack::unpack_named;

/// Which root filesystem the caller wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preference {
    /// Whatever is cached (Alpine, else BusyBox, else an imported one); if nothing is, Alpine
    /// when the network answers, else BusyBox.
    Any,
    /// The pinned Alpine minirootfs.
    Alpine,
    /// The offline BusyBox root filesystem.
    Busybox,
    /// A root filesystem of the store, by name.
    Named(String),
    /// A directory the learner names, used in place (not copied).
    Path(PathBuf),
}

/// Where a root filesystem came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Alpine,
    Busybox,
    Imported,
    /// A directory outside the store, used in place (`Preference::Path`).
    Directory,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Alpine => "alpine",
            SourceKind::Busybox => "busybox",
            SourceKind::Imported => "imported",
            SourceKind::Directory => "directory",
        }
    }
}

/// A root filesystem ready to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rootfs {
    pub name: String,
    /// The directory that becomes `/` in the container.
    pub path: PathBuf,
    pub source: SourceKind,
    /// Things to tell the learner, e.g. that BusyBox was used because Alpine was unreachable.
    pub notes: Vec<Note>,
}

/// One entry of `Store::list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsInfo {
    pub name: String,
    pub source: SourceKind,
    /// Alpine or BusyBox version, when known.
    pub version: Option<String>,
    /// Bytes of the files and symlinks in the tree.
    pub size: u64,
    pub path: PathBuf,
    /// Where it came from: a URL, the busybox binary, or the imported file or directory.
    pub origin: String,
}

/// The `<name>.json` metadata file.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    name: String,
    source: SourceKind,
    version: Option<String>,
    origin: String,
    size: u64,
    created_unix: u64,
}

/// Where root filesystems are downloaded, cached and unpacked.
#[derive(Debug, Clone)]
pub struct Store {
    cache_dir: PathBuf,
    rootfs_dir: PathBuf,
    alpine_base_url: String,
    connect_timeout: Duration,
    progress: bool,
    /// The Alpine release to fetch; None when none is pinned for this architecture.
    release: Option<AlpineRelease>,
}

impl Store {
    /// The system-wide store: /var/cache/learnctr, /var/lib/learnctr/rootfs, the real Alpine CDN.
    pub fn system() -> Store {
        Store::with_dirs("/var/cache/learnctr", "/var/lib/learnctr/rootfs")
    }

    /// A store in other directories (tests use temporary ones).
    pub fn with_dirs(cache: impl Into<PathBuf>, rootfs: impl Into<PathBuf>) -> Store {
        Store {
            cache_dir: cache.into(),
            rootfs_dir: rootfs.into(),
            alpine_base_url: ALPINE_CDN.to_string(),
            connect_timeout: Duration::from_secs(3),
            progress: false,
            release: AlpineRelease::pinned_for_host().ok(),
        }
    }

    /// Download Alpine from another server (a mirror, or a test server on 127.0.0.1).
    pub fn alpine_base_url(mut self, url: impl Into<String>) -> Store {
        self.alpine_base_url = url.into();
        self
    }

    /// Fetch this release (version, arch, sha256) instead of the pinned one.
    pub fn pinned_release(mut self, r: AlpineRelease) -> Store {
        self.release = Some(r);
        self
    }

    /// How long to wait for a connection, and for the server to start answering.
    pub fn connect_timeout(mut self, d: Duration) -> Store {
        self.connect_timeout = d;
        self
    }

    /// Show a progress bar while downloading (only when stderr is a terminal).
    pub fn progress(mut self, on: bool) -> Store {
        self.progress = on;
        self
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    pub fn rootfs_dir(&self) -> &Path {
        &self.rootfs_dir
    }

    /// All complete root filesystems of the store, sorted by name.
    pub fn list(&self) -> Result<Vec<RootfsInfo>> {
        let entries = match fs::read_dir(&self.rootfs_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read_dir", show(&self.rootfs_dir), e)),
        };
        let mut list = Vec::new();
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(".json")) else { continue };
            if validate_name(name).is_err() {
                continue;
            }
            if let Some(info) = self.info(name) {
                list.push(info);
            }
        }
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    /// The complete root filesystem called `name`, if there is one.
    fn info(&self, name: &str) -> Option<RootfsInfo> {
        let text = fs::read_to_string(self.meta_path(name)).ok()?;
        let meta: Meta = serde_json::from_str(&text).ok()?;
        let path = self.rootfs_dir.join(name);
        if meta.name != name || !fs::symlink_metadata(&path).ok()?.is_dir() {
            return None;
        }
        Some(RootfsInfo {
            name: meta.name,
            source: meta.source,
            version: meta.version,
            size: meta.size,
            path,
            origin: meta.origin,
        })
    }

    fn existing(&self, name: &str) -> Option<Rootfs> {
        self.info(name).map(|i| Rootfs { name: i.name, path: i.path, source: i.source, notes: Vec::new() })
    }

    fn meta_path(&self, name: &str) -> PathBuf {
        self.rootfs_dir.join(format!("{name}.json"))
    }

    /// Get a root filesystem, downloading or building it even if another one is cached.
    /// `Any` = Alpine when the network answers, else BusyBox (with a note saying so).
    pub fn fetch(&self, pref: Preference) -> Result<Rootfs> {
        match pref {
            Preference::Any => match self.fetch_alpine() {
                Ok(r) => Ok(r),
                Err(alpine) if falls_back(&alpine) => match self.build_busybox(None) {
                    Ok(mut r) => {
                        let reason = alpine.to_string();
                        r.notes.push(Note::new(
                            "rootfs.note.fell_back_to_busybox",
                            vec![("reason", reason), ("reason_code", alpine.code().to_string())],
                        ));
                        Ok(r)
                    }
                    Err(busybox) => {
                        Err(Error::NothingAvailable { alpine: Box::new(alpine), busybox: Box::new(busybox) })
                    }
                },
                Err(e) => Err(e),
            },
            Preference::Alpine => self.fetch_alpine(),
            Preference::Busybox => self.build_busybox(None),
            Preference::Named(name) => self.named(&name),
            Preference::Path(path) => use_directory(&path),
        }
    }

    /// The one call lessons make: a usable root filesystem, cached if possible.
    pub fn ensure(&self, pref: Preference) -> Result<Rootfs> {
        match pref {
            Preference::Any => {
                let list = self.list()?;
                let pinned = self.release.as_ref().map(|r| r.rootfs_name());
                let pick = list
                    .iter()
                    .find(|i| Some(&i.name) == pinned.as_ref())
                    .or_else(|| list.iter().find(|i| i.source == SourceKind::Alpine))
                    .or_else(|| list.iter().find(|i| i.source == SourceKind::Busybox))
                    .or_else(|| list.iter().find(|i| i.source == SourceKind::Imported));
                match pick {
                    Some(i) => {
                        Ok(Rootfs { name: i.name.clone(), path: i.path.clone(), source: i.source, notes: Vec::new() })
                    }
                    None => self.fetch(Preference::Any),
                }
            }
            // fetch_alpine and build_busybox return the cached one when it is there.
            other => self.fetch(other),
        }
    }

    fn named(&self, name: &str) -> Result<Rootfs> {
        validate_name(name)?;
        self.existing(name).ok_or_else(|| Error::NotFound { name: name.to_string() })
    }

    /// The pinned Alpine minirootfs: reuse the unpacked one, else the cached tarball (checked
    /// again), else download it; verify the SHA-256 before unpacking anything.
    pub fn fetch_alpine(&self) -> Result<Rootfs> {
        let release = match &self.release {
            Some(r) => r.clone(),
            None => return Err(Error::NoAlpineForArch { arch: crate::alpine::host_arch().to_string() }),
        };
        let name = release.rootfs_name();
        if let Some(r) = self.existing(&name) {
            return Ok(r);
        }
        fsutil::prepare_dir(&self.cache_dir)?;
        fsutil::prepare_dir(&self.rootfs_dir)?;

        let url = release.url(&self.alpine_base_url);
        let cached = self.cache_dir.join(release.file_name());
        if cached.exists() {
            let ok = download::sha256_file(&cached).is_ok_and(|h| h.eq_ignore_ascii_case(&release.sha256));
            if !ok {
                fsutil::remove_any(&cached);
            }
        }
        if !cached.exists() {
            let opts = download::Options { connect_timeout: self.connect_timeout, progress: self.progress };
            download_verified(&url, &cached, &release.sha256, &opts)?;
        }

        let what = show(&cached);
        self.install(&name, SourceKind::Alpine, Some(release.version.clone()), &url, |dir| {
            let file = File::open(&cached).map_err(|e| Error::io("open", &what, e))?;
            Ok(unpack_named(file, dir, &what)?.notes)
        })
    }

    /// Build the BusyBox root filesystem from a static busybox (`busybox`, or the first static
    /// one found on the host). Returns the existing one if it was already built.
    pub fn build_busybox(&self, busybox: Option<&Path>) -> Result<Rootfs> {
        if let Some(r) = self.existing("busybox") {
            return Ok(r);
        }
        let bin = busybox::find_static(busybox)?;
        let applets = busybox::list_applets(&bin)?;
        fsutil::prepare_dir(&self.rootfs_dir)?;
        let version = busybox::version(&bin);
        self.install("busybox", SourceKind::Busybox, version, &show(&bin), |dir| {
            busybox::populate(dir, &bin, &applets)?;
            Ok(Vec::new())
        })
    }

    /// Import a `.tar`, `.tar.gz`/`.tgz` (told apart by content) or a directory, under `name` or
    /// the file's name without its extension. Refused before anything is written: a device
    /// (`/dev/zero` is no archive, and would be read forever), an empty directory, and a
    /// directory that holds the store itself (`/`: the copy would copy itself).
    pub fn import(&self, src: &Path, name: Option<&str>) -> Result<Rootfs> {
        let meta = match fs::metadata(src) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::PathNotFound { path: show(src) }),
            Err(e) => return Err(Error::io("inspect", show(src), e)),
        };
        let kind = meta.file_type();
        if kind.is_char_device() || kind.is_block_device() || kind.is_socket() {
            return Err(Error::NotAnArchive { what: show(src) });
        }
        if meta.is_dir() {
            sources::check_import_dir(src, &self.rootfs_dir)?;
        }
        let name = match name {
            Some(n) => n.to_string(),
            None => default_name(src),
        };
        validate_name(&name)?;
        if self.existing(&name).is_some() {
            return Err(Error::AlreadyExists { name });
        }
        fsutil::prepare_dir(&self.rootfs_dir)?;
        let what = show(src);
        let mut rootfs = self.install(&name, SourceKind::Imported, None, &what, |dir| {
            if meta.is_dir() {
                import_export::copy_tree(src, dir)
            } else {
                let file = File::open(src).map_err(|e| Error::io("open", &what, e))?;
                Ok(unpack_named(file, dir, &what)?.notes)
            }
        })?;
        if fs::symlink_metadata(rootfs.path.join("bin/sh")).is_err() {
            rootfs.notes.push(Note::new("rootfs.note.no_shell", vec![("name", name)]));
        }
        Ok(rootfs)
    }

    /// Write the root filesystem `name` to `dest` as one .tar.gz (written atomically).
    pub fn export(&self, name: &str, dest: &Path) -> Result<()> {
        let rootfs = self.named(name)?;
        import_export::export_tar_gz(&rootfs.path, dest)
    }

    /// Delete the root filesystem `name` (the downloaded tarball stays in the cache).
    pub fn remove(&self, name: &str) -> Result<()> {
        let rootfs = self.named(name)?;
        // Move the tree aside first (atomic), so a half-deleted tree never carries the name.
        let tmp = TempPath::new(&self.rootfs_dir, &format!("remove-{name}"));
        fs::rename(&rootfs.path, tmp.path()).map_err(|e| Error::io("remove", show(&rootfs.path), e))?;
        let meta = self.meta_path(name);
        fs::remove_file(&meta).map_err(|e| Error::io("remove", show(&meta), e))?;
        drop(tmp); // deletes the tree
        Ok(())
    }

    /// Build a root filesystem in a temporary directory with `fill`, then move it into place
    /// and write its metadata. On any error the temporary directory is removed.
    fn install(
        &self,
        name: &str,
        source: SourceKind,
        version: Option<String>,
        origin: &str,
        fill: impl FnOnce(&Path) -> Result<Vec<Note>>,
    ) -> Result<Rootfs> {
        validate_name(name)?;
        let tmp = TempPath::new(&self.rootfs_dir, name);
        let dest = self.rootfs_dir.join(name);
        // Errors name the final place: the temporary name is nobody's business.
        fs::create_dir(tmp.path()).map_err(|e| Error::io("create_dir", show(&dest), e))?;
        let notes = fill(tmp.path())?;
        let size = fsutil::tree_size(tmp.path());

        if fs::symlink_metadata(&dest).is_ok() && self.info(name).is_none() {
            // A directory without metadata is the leftover of an interrupted install.
            let old = TempPath::new(&self.rootfs_dir, &format!("old-{name}"));
            let _ = fs::rename(&dest, old.path());
        }
        if let Err(e) = tmp.persist(&dest) {
            // Another process may have installed the same name meanwhile: use theirs.
            return match self.existing(name) {
                Some(r) => Ok(Rootfs { notes, ..r }),
                None => Err(Error::io("install", show(&dest), e)),
            };
        }
        let meta = Meta {
            name: name.to_string(),
            source,
            version,
            origin: origin.to_string(),
            size,
            created_unix: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        };
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| Error::io("metadata", name, e.into()))?;
        if let Err(e) = fsutil::write_atomic(&self.meta_path(name), &json) {
            fsutil::remove_any(&dest);
            return Err(e);
        }
        Ok(Rootfs { name: name.to_string(), path: dest, source, notes })
    }
}

/// Errors after which `fetch(Any)` tries BusyBox: the network or the download failed, or no
/// Alpine is pinned for this machine. Local problems (disk full, permissions) are reported.
fn falls_back(e: &Error) -> bool {
    matches!(
        e,
        Error::Offline { .. }
            | Error::Timeout { .. }
            | Error::HttpStatus { .. }
            | Error::TooLarge { .. }
            | Error::Truncated { .. }
            | Error::ChecksumMismatch { .. }
            | Error::NoAlpineForArch { .. }
    )
}
