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
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid};
use rustix::io::Errno;
use tar::EntryType;

use crate::error::{Error, Note, Result};
use crate::stream::{decompressed, header_error, read_error};

pub(crate) mod whiteout;
use whiteout::LayerState;

/// Linux limits: a whole path, and one name in it.
const PATH_MAX: usize = 4096;
const NAME_MAX: usize = 255;
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

/// A cleaned entry path: its components, and the path as text for messages.
pub(crate) struct CleanPath<'a> {
    pub(crate) comps: Vec<&'a [u8]>,
    pub(crate) shown: String,
}

impl CleanPath<'_> {
    pub(crate) fn key(&self) -> Vec<u8> {
        self.comps.join(&b'/')
    }
    pub(crate) fn parent_key(&self) -> Vec<u8> {
        self.comps[..self.comps.len().saturating_sub(1)].join(&b'/')
    }
    pub(crate) fn name(&self) -> &[u8] {
        self.comps.last().copied().unwrap_or(b".")
    }
}

/// Clean an archive path lexically (see the module docs). `stripped` tells whether a leading `/`
/// was removed.
pub(crate) fn clean_path(raw: &[u8]) -> Result<(CleanPath<'_>, bool)> {
    let shown = String::from_utf8_lossy(raw).into_owned();
    if raw.len() > PATH_MAX {
        return Err(Error::PathTooLong { path: shorten(&shown) });
    }
    if raw.contains(&0) {
        return Err(Error::UnsafeEntry { path: shown, why: "its name contains a NUL byte".into() });
    }
    let stripped = raw.first() == Some(&b'/');
    let mut comps = Vec::new();
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => continue,
            b".." => {
                return Err(Error::UnsafeEntry {
                    path: shown,
                    why: "it contains a `..` component that could point outside the root filesystem".into(),
                })
            }
            c if c.len() > NAME_MAX => return Err(Error::PathTooLong { path: shorten(&shown) }),
            c => comps.push(c),
        }
    }
    Ok((CleanPath { comps, shown }, stripped))
}

/// Very long paths are cut in messages.
fn shorten(s: &str) -> String {
    if s.len() <= 120 {
        return s.to_string();
    }
    let mut end = 100;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
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
        let mode = header.mode().map_err(|_| self.bad_header())?;
        let uid = header.uid().ok().and_then(|u| u32::try_from(u).ok());
        let gid = header.gid().ok().and_then(|g| u32::try_from(g).ok());
        let mtime = header.mtime().unwrap_or(0);

        if path.comps.is_empty() {
            // `./` itself: only a directory entry makes sense, and it describes the target.
            if kind.is_dir() {
                let (uid, gid) = self.owner(uid, gid);
                let mode = self.dir_mode(mode, &path);
                self.deferred_dirs.push(DirAttrs { key: Vec::new(), mode, uid, gid, mtime });
                return Ok(());
            }
            return Err(Error::UnsafeEntry { path: path.shown, why: "it has an empty name".into() });
        }

        let written = match kind {
            EntryType::Directory => self.directory(&path, mode, uid, gid, mtime),
            EntryType::Regular | EntryType::Continuous => self.file(entry, &path, mode, uid, gid, mtime),
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

    /// The fd of a directory resolved by `parent()` for the current entry (empty key = the
    /// target itself). Never falls back to another directory: a missing key is an error.
    fn fd(&self, key: &[u8]) -> Result<BorrowedFd<'_>> {
        if key.is_empty() {
            return Ok(self.root.as_fd());
        }
        self.dirs.get(key).map(|fd| fd.as_fd()).ok_or_else(|| {
            let dir = String::from_utf8_lossy(key);
            Error::io("unpack", dir, io::ErrorKind::NotFound.into())
        })
    }

    /// Reach the parent directory of `path`, one component at a time, never following a
    /// symlink, creating missing directories (mode 0755) on the way. Returns its key, whose fd
    /// stays cached at least until the next entry (the cache is only trimmed between entries).
    fn parent(&mut self, path: &CleanPath<'_>) -> Result<Vec<u8>> {
        let parent_len = path.comps.len().saturating_sub(1);
        let key = path.parent_key();
        if parent_len == 0 || self.dirs.contains_key(&key) {
            return Ok(key);
        }
        let mut prefix: Vec<u8> = Vec::new();
        for (i, comp) in path.comps[..parent_len].iter().enumerate() {
            let prev = prefix.clone();
            if i > 0 {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(comp);
            if self.dirs.contains_key(&prefix) {
                continue;
            }
            let fd = self.open_dir_in(&prev, comp, path)?;
            self.dirs.insert(prefix.clone(), fd);
        }
        Ok(key)
    }

    /// Open directory `name` inside the directory `parent_key`, creating it if missing.
    fn open_dir_in(&self, parent_key: &[u8], name: &[u8], path: &CleanPath<'_>) -> Result<OwnedFd> {
        let parent = self.fd(parent_key)?;
        // O_NOFOLLOW: if `name` is a symlink, the kernel refuses (ELOOP) instead of following it.
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(parent, name, flags, Mode::empty()) {
            Ok(fd) => Ok(fd),
            Err(Errno::NOENT) => {
                match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(self.fs_error("create directory", path, e)),
                }
                rustix::fs::openat(parent, name, flags, Mode::empty())
                    .map_err(|e| self.refuse_parent(path, parent_key, name, e))
            }
            Err(e) => Err(self.refuse_parent(path, parent_key, name, e)),
        }
    }

    /// ELOOP (a symlink, refused by O_NOFOLLOW) or ENOTDIR (a file) on the way to an entry.
    fn refuse_parent(&self, path: &CleanPath<'_>, parent_key: &[u8], name: &[u8], e: Errno) -> Error {
        let mut comp = parent_key.to_vec();
        if !comp.is_empty() {
            comp.push(b'/');
        }
        comp.extend_from_slice(name);
        let comp = String::from_utf8_lossy(&comp).into_owned();
        match e {
            Errno::LOOP | Errno::NOTDIR => Error::UnsafeEntry {
                path: path.shown.clone(),
                why: format!(
                    "it lies under {comp}, which is a symlink or a file, and unpacking never goes through a symlink"
                ),
            },
            e => self.fs_error("open directory", path, e),
        }
    }

    /// A file system call for the entry `path` failed (`op` says which, for the reader of
    /// the code; the sentence says "could not unpack PATH").
    fn fs_error(&self, _op: &str, path: &CleanPath<'_>, e: Errno) -> Error {
        Error::io("unpack", &path.shown, e.into())
    }

    /// Create the entry `path` in its parent directory `dir_key` with `make`. If the name is
    /// already taken by a file or symlink, that one is removed and `make` runs once more (the
    /// later archive entry wins, as with tar); a directory there is never replaced.
    fn create_at<T>(
        &self,
        dir_key: &[u8],
        path: &CleanPath<'_>,
        op: &str,
        make: impl Fn(BorrowedFd<'_>) -> rustix::io::Result<T>,
    ) -> Result<T> {
        let dir = self.fd(dir_key)?;
        match make(dir) {
            Err(Errno::EXIST) => {
                // lstat (SYMLINK_NOFOLLOW): we look at the name itself, not at what a link points to.
                let st = rustix::fs::statat(dir, path.name(), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| self.fs_error("inspect", path, e))?;
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    if self.lower_made(path) {
                        // A later layer replaces a lower layer's directory with a file.
                        self.remove_tree(dir, path)?;
                        return make(dir).map_err(|e| self.fs_error(op, path, e));
                    }
                    return Err(Error::UnsafeEntry {
                        path: path.shown.clone(),
                        why: "it would replace a directory that the archive already created".into(),
                    });
                }
                // unlinkat removes the name; if it is a symlink, its target is untouched.
                rustix::fs::unlinkat(dir, path.name(), AtFlags::empty())
                    .map_err(|e| self.fs_error("remove", path, e))?;
                make(dir).map_err(|e| self.fs_error(op, path, e))
            }
            other => other.map_err(|e| self.fs_error(op, path, e)),
        }
    }

    fn directory(
        &mut self,
        path: &CleanPath<'_>,
        mode: u32,
        uid: Option<u32>,
        gid: Option<u32>,
        mtime: u64,
    ) -> Result<()> {
        let parent_key = self.parent(path)?;
        let parent = self.fd(&parent_key)?;
        let name = path.name();
        // Created owner-only; the archive's mode is applied in `finish`.
        match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(self.fs_error("create directory", path, e)),
        }
        let st = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.fs_error("inspect", path, e))?;
        let file_type = FileType::from_raw_mode(st.st_mode);
        if file_type != FileType::Directory {
            // A symlink or file where the archive now wants a directory: replace it, as GNU tar
            // does. Removing a symlink never touches what it points to.
            rustix::fs::unlinkat(parent, name, AtFlags::empty()).map_err(|e| self.fs_error("remove", path, e))?;
            rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700))
                .map_err(|e| self.fs_error("create directory", path, e))?;
            self.files.remove(&path.key());
            if file_type == FileType::Symlink {
                self.report.notes.push(Note::entry("rootfs.note.replaced_symlink", &path.shown));
            }
        }
        let (uid, gid) = self.owner(uid, gid);
        let mode = self.dir_mode(mode, path);
        self.deferred_dirs.push(DirAttrs { key: path.key(), mode, uid, gid, mtime });
        self.report.dirs += 1;
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &CleanPath<'_>,
        mode: u32,
        uid: Option<u32>,
        gid: Option<u32>,
        mtime: u64,
    ) -> Result<()> {
        let parent_key = self.parent(path)?;
        // O_EXCL | O_NOFOLLOW: create a new file or fail; never open an existing one, and never
        // write through a symlink that sits at this name.
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = self.create_at(&parent_key, path, "create file", |dir| {
            rustix::fs::openat(dir, path.name(), flags, Mode::from_raw_mode(0o600))
        })?;
        // Until its contents are complete, the name must not count as a hard link target.
        self.files.remove(&path.key());

        let mut file = File::from(fd);
        let expected = entry.size();
        let mut written: u64 = 0;
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(&self.what, e)),
            };
            file.write_all(&self.buf[..n]).map_err(|e| Error::io("unpack", &path.shown, e))?;
            written += n as u64;
        }
        if written != expected {
            return Err(Error::Truncated { what: self.what.clone() });
        }

        // Owner first: chown clears setuid/setgid bits, so chmod comes after it.
        let (uid, gid) = self.owner(uid, gid);
        if uid.is_some() || gid.is_some() {
            chown_best_effort(&file, uid, gid);
        }
        // Regular files inside the root keep all their bits, setuid/setgid included.
        rustix::fs::fchmod(&file, Mode::from_raw_mode(mode & 0o7777)).map_err(|e| self.fs_error("chmod", path, e))?;
        let _ = rustix::fs::futimens(&file, &times(mtime));

        self.files.insert(path.key());
        self.report.files += 1;
        self.report.bytes += written;
        Ok(())
    }

    fn symlink(
        &mut self,
        path: &CleanPath<'_>,
        target: Option<&[u8]>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Result<()> {
        let target = match target {
            Some(t) if !t.is_empty() && !t.contains(&0) => t,
            _ => {
                return Err(Error::UnsafeEntry {
                    path: path.shown.clone(),
                    why: "it is a symlink without a valid target".into(),
                })
            }
        };
        if target.len() >= PATH_MAX {
            return Err(Error::PathTooLong { path: shorten(&path.shown) });
        }
        // The target is stored as it is, absolute or not: see point 3 of the module docs.
        let parent_key = self.parent(path)?;
        self.create_at(&parent_key, path, "create symlink", |dir| rustix::fs::symlinkat(target, dir, path.name()))?;
        self.files.remove(&path.key());

        let (uid, gid) = self.owner(uid, gid);
        if uid.is_some() || gid.is_some() {
            // AT_SYMLINK_NOFOLLOW: change the link itself, never what it points to.
            let _ = rustix::fs::chownat(
                self.fd(&parent_key)?,
                path.name(),
                uid.and_then(to_uid),
                gid.and_then(to_gid),
                AtFlags::SYMLINK_NOFOLLOW,
            );
        }
        self.report.symlinks += 1;
        Ok(())
    }

    fn hardlink(&mut self, path: &CleanPath<'_>, target: Option<&[u8]>) -> Result<()> {
        let Some(raw_target) = target else {
            return Err(Error::UnsafeEntry {
                path: path.shown.clone(),
                why: "it is a hard link without a target".into(),
            });
        };
        // The target is an archive path, cleaned like any other: `/etc/shadow` means
        // `etc/shadow` inside the target, and `..` is refused.
        let (target, _) = clean_path(raw_target).map_err(|e| match e {
            Error::UnsafeEntry { why, .. } => {
                Error::UnsafeEntry { path: path.shown.clone(), why: format!("its hard link target {why}") }
            }
            other => other,
        })?;
        if target.comps.is_empty() || !self.files.contains(&target.key()) {
            return Err(Error::UnsafeEntry {
                path: path.shown.clone(),
                why: format!(
                    "it is a hard link to {}, which is not a regular file unpacked earlier from this archive",
                    target.shown
                ),
            });
        }
        if target.key() == path.key() {
            return Ok(()); // a link to itself: the file is already there
        }
        let target_parent = self.parent(&target)?;
        let parent_key = self.parent(path)?;
        let target_dir = self.fd(&target_parent)?;
        // No AT_SYMLINK_FOLLOW: even if the target had become a symlink, it would not be followed.
        self.create_at(&parent_key, path, "create hard link", |dir| {
            rustix::fs::linkat(target_dir, target.name(), dir, path.name(), AtFlags::empty())
        })?;
        self.files.insert(path.key());
        self.report.hardlinks += 1;
        Ok(())
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

fn to_uid(u: u32) -> Option<Uid> {
    (u != u32::MAX).then(|| Uid::from_raw(u))
}

fn to_gid(g: u32) -> Option<Gid> {
    (g != u32::MAX).then(|| Gid::from_raw(g))
}

/// chown an open file; failures are ignored (as GNU tar warns and goes on), e.g. an id that is
/// not mapped in a user namespace.
fn chown_best_effort<Fd: AsFd>(fd: Fd, uid: Option<u32>, gid: Option<u32>) {
    let _ = rustix::fs::fchown(fd, uid.and_then(to_uid), gid.and_then(to_gid));
}

/// Access time "now", modification time from the archive.
fn times(mtime: u64) -> Timestamps {
    let secs = i64::try_from(mtime).unwrap_or(0);
    Timestamps {
        last_access: Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_NOW },
        last_modification: Timespec { tv_sec: secs, tv_nsec: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_rules() {
        let (p, s) = clean_path(b"./bin//sh").unwrap();
        assert_eq!(p.comps, vec![&b"bin"[..], &b"sh"[..]]);
        assert!(!s);
        let (p, s) = clean_path(b"/etc/passwd").unwrap();
        assert_eq!(p.key(), b"etc/passwd");
        assert!(s);
        assert!(matches!(clean_path(b"a/../../b"), Err(Error::UnsafeEntry { .. })));
        assert!(matches!(clean_path(&[b'a'; 300]), Err(Error::PathTooLong { .. })));
        let long: Vec<u8> = b"abc/".repeat(1100);
        assert!(matches!(clean_path(&long), Err(Error::PathTooLong { .. })));
        assert!(clean_path(b"./").unwrap().0.comps.is_empty());
    }
}
