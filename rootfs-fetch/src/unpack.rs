//! Safe unpacking of a tar or tar.gz archive into a directory.
//!
//! A root filesystem tarball is a list of entries: directories, files, symlinks, hard links,
//! devices. Unpacked naively (`tar -xf` of an untrusted file, or `tar::Archive::unpack`), a
//! hostile archive can write anywhere on the host:
//!
//! * a path such as `../../etc/cron.d/x` or `/etc/passwd` names a file outside the target;
//! * a symlink `evil -> /etc` followed by a file `evil/passwd` writes *through* the symlink;
//! * a hard link `x` to `/etc/shadow` makes the host's file appear (and be writable) inside;
//! * a device node gives raw access to a disk; a setuid file can be an escalation path.
//!
//! What we do, for every archive, trusted or not:
//!
//! 1. Each entry's path is cleaned *lexically*: a leading `/` is stripped (and reported), `.` and
//!    empty components are dropped, and any `..` component makes the whole unpack fail. Paths
//!    longer than PATH_MAX (4096) or names longer than NAME_MAX (255) fail too.
//! 2. The parent directory of each entry is reached component by component with
//!    `openat(dir, name, O_DIRECTORY | O_NOFOLLOW)`, starting from an fd of the target. The kernel
//!    refuses to open a symlink with O_NOFOLLOW, so if an earlier entry planted a symlink where a
//!    directory should be, the entry is refused instead of written through it. Files are created
//!    with `openat(parent, name, O_CREAT | O_EXCL | O_NOFOLLOW)`, never by a path string.
//! 3. Symlinks are stored *verbatim*. A rootfs legitimately contains absolute links such as
//!    `bin/sh -> /bin/busybox`: they must mean "/bin/busybox inside the container", which is what
//!    they mean once the container's root is this directory. Storing such a link is harmless;
//!    only *following* it during unpacking would be dangerous, and step 2 never follows one.
//! 4. A hard link may only point to a regular file that this same archive already unpacked. Its
//!    target name is cleaned like any path (so `/etc/shadow` means `etc/shadow` inside the target),
//!    and the link is made with `linkat` without AT_SYMLINK_FOLLOW.
//! 5. Device nodes and FIFOs are skipped and reported in `UnpackReport::notes`. Setuid/setgid bits
//!    are kept only on regular files; directories keep at most the sticky bit (`/tmp` is 1777).
//!
//! Ownership is restored only when we run as root (like GNU tar), using the numeric ids of the
//! archive (like `tar --numeric-owner`): user *names* would be looked up in the host's /etc/passwd,
//! but they belong to the container's. Directory modes and times are
//! applied at the end, so a read-only directory in the archive does not block its own children.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Read};
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use tar::EntryType;

use crate::error::{Error, Note, Result};
use crate::stream::{decompressed, header_error, read_error};

// The steps of an unpack, in the order of the module docs above: `path.rs` cleans an
// entry's path, `dirs.rs` reaches its directory without following a symlink,
// `entries.rs` writes it; `whiteout.rs` applies an image layer's deletions.
mod dirs;
mod entries;
mod path;
pub(crate) mod whiteout;

use entries::{chown_best_effort, times};
pub(crate) use path::{clean_path, CleanPath};
use whiteout::LayerState;

/// How many open directory fds we keep at most (the default soft limit is 1024 fds).
const DIR_CACHE_MAX: usize = 256;
/// Read buffer for the archive and copy buffer for file contents.
const BUF_SIZE: usize = 256 * 1024;

/// What an unpack did.
#[derive(Debug, Default, Clone)]
pub struct UnpackReport {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    /// Bytes of file contents written.
    pub bytes: u64,
    /// Whiteouts applied (an image layer's `.wh.` entries and opaque markers).
    pub whiteouts: u64,
    /// Entries skipped or changed (device nodes, FIFOs, absolute paths, dropped setuid bits…).
    pub notes: Vec<Note>,
}

/// Unpack a tar archive (plain or gzip-compressed, detected by its first bytes) into `target`.
///
/// `target` is created if missing. Nothing is ever written outside it; see the module docs.
/// On error, whatever was already unpacked stays in `target`: callers unpack into a temporary
/// directory and remove it on failure (the `Store` does this). An archive with no entry at all
/// (an empty file, or only the end marker) is refused: it is no root filesystem. Errors never
/// quote what the archive holds: a file that is no archive (`/etc/shadow`) stays unread.
pub fn unpack<R: Read>(archive: R, target: &Path) -> Result<UnpackReport> {
    unpack_named(archive, target, "the archive")
}

/// Same as [`unpack`], with a description of the archive (a path or a URL) for error messages.
pub fn unpack_named<R: Read>(archive: R, target: &Path, what: &str) -> Result<UnpackReport> {
    // The target may have a temporary name: errors name the archive.
    std::fs::create_dir_all(target).map_err(|e| Error::io("unpack", what, e))?;
    let reader = decompressed(BufReader::with_capacity(BUF_SIZE, archive), what)?;
    unpack_tar(reader, target, what, None)
}

/// Apply one image layer (an OCI "changeset": tar, tar+gzip or tar+zstd) on top of the
/// root filesystem `rootfs` that the layers below it made.
///
/// Everything [`unpack`] guarantees holds, and a layer may also delete: `.wh.NAME` removes
/// `NAME` of a lower layer, `.wh..wh..opq` empties its directory of what lower layers put
/// there, and an entry may replace a lower layer's directory. Whiteouts are reached the way
/// every entry is (never through a symlink), a whiteout name can only name one entry of its
/// own directory (`.wh..` and `.wh...` are refused), and hard links may only point to a file
/// of this same layer. An empty layer is valid (`buildah` makes some).
pub fn apply_layer<R: Read>(layer: R, rootfs: &Path, what: &str) -> Result<UnpackReport> {
    if !rootfs.is_dir() {
        return Err(Error::NotADirectory { path: rootfs.display().to_string() });
    }
    let reader = decompressed(BufReader::with_capacity(BUF_SIZE, layer), what)?;
    unpack_tar(reader, rootfs, what, Some(LayerState::default()))
}

/// Unpack one image layer into `dir`, an empty directory of its own, as containerd's overlay
/// snapshotter keeps layers: stacked as overlayfs lower directories, they give the image's
/// root filesystem. The layer's deletions are written as overlayfs reads them (a `.wh.NAME`
/// becomes a 0/0 character device `NAME`, an opaque marker the `trusted.overlay.opaque`
/// attribute), so this needs root. Every other rule of [`apply_layer`] holds.
pub fn unpack_layer_for_overlay<R: Read>(layer: R, dir: &Path, what: &str) -> Result<UnpackReport> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("unpack", what, e))?;
    let reader = decompressed(BufReader::with_capacity(BUF_SIZE, layer), what)?;
    unpack_tar(reader, dir, what, Some(LayerState::for_overlay()))
}

fn unpack_tar<R: Read>(reader: R, target: &Path, what: &str, layer: Option<LayerState>) -> Result<UnpackReport> {
    let root = rustix::fs::open(target, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::io("unpack", what, e.into()))?;
    let is_layer = layer.is_some();
    let mut unpacker = Unpacker::new(root, what, layer);

    let mut archive = tar::Archive::new(reader);
    let mut read = 0;
    let entries = archive.entries().map_err(|e| header_error(what, e, read))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| header_error(what, e, read))?;
        read += 1;
        unpacker.entry(&mut entry)?;
    }
    if read == 0 && !is_layer {
        // Before reading on: an endless stream of zeros would otherwise be read forever.
        return Err(Error::EmptyArchive { what: what.to_string() });
    }
    // Read what follows the end-of-archive marker, so a gzip stream is checked to its end
    // (its CRC and length trailer): a cut .tar.gz must fail even if the cut is in the padding.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| read_error(what, e))?;
    unpacker.finish()
}

/// What a tar header says about an entry besides its name and kind.
struct Attrs {
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
    mtime: u64,
}

/// A directory whose mode, owner and time are applied at the end.
struct DirAttrs {
    key: Vec<u8>,
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
    mtime: u64,
}

/// The state of one unpack.
struct Unpacker {
    /// The target directory.
    root: OwnedFd,
    /// Directories already opened (no-follow) inside the target, by relative path. Safe to
    /// reuse: a plain archive never removes or replaces a directory, and a layer that does
    /// (a whiteout, an entry replacing a lower directory) empties this cache first.
    dirs: HashMap<Vec<u8>, OwnedFd>,
    /// Regular files unpacked so far: the only allowed targets of hard links.
    files: HashSet<Vec<u8>>,
    deferred_dirs: Vec<DirAttrs>,
    /// Set when the archive is an image layer applied over lower ones (whiteouts apply).
    layer: Option<LayerState>,
    /// Set when a directory was removed: cached directory fds may name removed ones.
    flush_dirs: std::cell::Cell<bool>,
    as_root: bool,
    buf: Vec<u8>,
    what: String,
    report: UnpackReport,
}

impl Unpacker {
    fn new(root: OwnedFd, what: &str, layer: Option<LayerState>) -> Unpacker {
        Unpacker {
            root,
            dirs: HashMap::new(),
            files: HashSet::new(),
            deferred_dirs: Vec::new(),
            layer,
            flush_dirs: std::cell::Cell::new(false),
            as_root: rustix::process::geteuid().is_root(),
            buf: vec![0; BUF_SIZE],
            what: what.to_string(),
            report: UnpackReport::default(),
        }
    }

    /// Unpack one entry.
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw_path = entry.path_bytes().into_owned();
        let (path, stripped) = clean_path(&raw_path)?;
        if stripped {
            self.report.notes.push(Note::entry("rootfs.note.stripped_absolute", &path.shown));
        }
        if self.dirs.len() > DIR_CACHE_MAX || self.flush_dirs.replace(false) {
            self.dirs.clear();
        }
        if self.layer.is_some() {
            if let Some(marker) = whiteout::marker(&path)? {
                return self.whiteout(&path, marker);
            }
        }
        let header = entry.header();
        let kind = header.entry_type();
        let attrs = Attrs {
            mode: header.mode().map_err(|_| self.bad_header())?,
            uid: header.uid().ok().and_then(|u| u32::try_from(u).ok()),
            gid: header.gid().ok().and_then(|g| u32::try_from(g).ok()),
            mtime: header.mtime().unwrap_or(0),
        };
        let (uid, gid) = (attrs.uid, attrs.gid);

        if path.comps.is_empty() {
            // `./` itself: only a directory entry makes sense, and it describes the target.
            if kind.is_dir() {
                let (uid, gid) = self.owner(uid, gid);
                let mode = self.dir_mode(attrs.mode, &path);
                self.deferred_dirs.push(DirAttrs { key: Vec::new(), mode, uid, gid, mtime: attrs.mtime });
                return Ok(());
            }
            return Err(Error::UnsafeEntry { path: path.shown, why: "it has an empty name".into() });
        }

        let written = match kind {
            EntryType::Directory => self.directory(&path, &attrs),
            EntryType::Regular | EntryType::Continuous => self.file(entry, &path, &attrs),
            EntryType::Symlink => {
                let target = entry.link_name_bytes().map(|t| t.into_owned());
                self.symlink(&path, target.as_deref(), uid, gid)
            }
            EntryType::Link => {
                let target = entry.link_name_bytes().map(|t| t.into_owned());
                self.hardlink(&path, target.as_deref())
            }
            EntryType::Char | EntryType::Block => {
                self.report.notes.push(Note::entry("rootfs.note.skipped_device", &path.shown));
                Ok(())
            }
            EntryType::Fifo => {
                self.report.notes.push(Note::entry("rootfs.note.skipped_fifo", &path.shown));
                Ok(())
            }
            // A pax global header carries only metadata (git archive writes one).
            EntryType::XGlobalHeader => Ok(()),
            other => {
                let kind = format!("{other:?}");
                self.report
                    .notes
                    .push(Note::new("rootfs.note.skipped_other", vec![("path", path.shown.clone()), ("kind", kind)]));
                Ok(())
            }
        };
        if written.is_ok() {
            // What this layer wrote is no longer "lower": its own whiteouts leave it alone.
            self.layer_made(&path);
        }
        written
    }

    /// A header field that cannot be parsed (the parser's message would quote its bytes).
    fn bad_header(&self) -> Error {
        Error::BadArchive { what: self.what.clone() }
    }

    /// The owner to restore: only when running as root, like GNU tar.
    fn owner(&self, uid: Option<u32>, gid: Option<u32>) -> (Option<u32>, Option<u32>) {
        if self.as_root {
            (uid, gid)
        } else {
            (None, None)
        }
    }

    /// Directories keep permission bits and the sticky bit, never setuid/setgid.
    fn dir_mode(&mut self, mode: u32, path: &CleanPath<'_>) -> u32 {
        if mode & 0o6000 != 0 {
            self.report.notes.push(Note::entry("rootfs.note.dropped_setid", &path.shown));
        }
        mode & 0o1777
    }

    /// Apply directory modes, owners and times, deepest first, then return the report.
    fn finish(mut self) -> Result<UnpackReport> {
        let mut deferred = std::mem::take(&mut self.deferred_dirs);
        // Stable sort: for the same directory listed twice, the later entry is applied last.
        deferred.sort_by_key(|d| std::cmp::Reverse(depth(&d.key)));
        for d in deferred {
            let fd = if d.key.is_empty() {
                self.root.try_clone().map_err(|e| Error::io("unpack", &self.what, e))?
            } else {
                let comps: Vec<&[u8]> = d.key.split(|&b| b == b'/').collect();
                let path = CleanPath { comps, shown: String::from_utf8_lossy(&d.key).into_owned() };
                if self.dirs.len() > DIR_CACHE_MAX {
                    self.dirs.clear();
                }
                let parent_key = self.parent(&path)?;
                self.open_dir_in(&parent_key, path.name(), &path)?
            };
            if d.uid.is_some() || d.gid.is_some() {
                chown_best_effort(&fd, d.uid, d.gid);
            }
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(d.mode))
                .map_err(|e| Error::io("set_mode", String::from_utf8_lossy(&d.key), e.into()))?;
            let _ = rustix::fs::futimens(&fd, &times(d.mtime));
        }
        Ok(self.report)
    }
}

/// Number of components of a relative path key ("" = 0, "a" = 1, "a/b" = 2).
fn depth(key: &[u8]) -> usize {
    if key.is_empty() {
        0
    } else {
        key.iter().filter(|&&b| b == b'/').count() + 1
    }
}
