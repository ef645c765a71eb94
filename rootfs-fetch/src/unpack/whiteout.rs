//! What an image layer adds to a plain archive: deletions.
//!
//! A layer is the difference between two root filesystems. Files added or changed are ordinary
//! tar entries; a deletion needs a name of its own, because a tar archive cannot hold "nothing":
//!
//! * `dir/.wh.NAME` (a *whiteout*) means "`dir/NAME` of the lower layers is gone";
//! * `dir/.wh..wh..opq` (an *opaque marker*) means "`dir` keeps nothing of the lower layers:
//!   only what this layer puts in it".
//!
//! These are the OCI image spec's names (from aufs). overlayfs says the same with a 0/0
//! character device and the `trusted.overlay.opaque` xattr; `learnctr image commit` turns
//! those into these entries.
//!
//! A whiteout is an instruction to delete, written by the image's author, so it gets the same
//! care as a write: its directory is reached component by component without following a
//! symlink (`lnk/.wh.passwd` with `lnk -> /etc` is refused, never deletes the host's file), the
//! name it deletes is one entry of that directory (`.wh..` and `.wh...` climb and are refused),
//! `.wh.` may not appear in a directory part of a path, and removal goes down with
//! `openat(O_NOFOLLOW)` and `unlinkat`, so it never leaves the root filesystem either.
//! Deletions apply only to what lower layers made: whatever this layer wrote stays.

use std::collections::HashSet;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::{CleanPath, Unpacker};
use crate::error::{Error, Result};

/// The opaque marker's name.
pub(crate) const OPAQUE: &[u8] = b".wh..wh..opq";
/// The whiteout prefix.
pub(crate) const PREFIX: &[u8] = b".wh.";

/// What one layer has written so far (paths relative to the root filesystem).
#[derive(Default)]
pub(crate) struct LayerState {
    made: HashSet<Vec<u8>>,
    /// The layer is unpacked into a directory of its own, to be an overlay lower directory:
    /// deletions are written the way overlayfs reads them, not applied.
    for_overlay: bool,
}

impl LayerState {
    pub(crate) fn for_overlay() -> LayerState {
        LayerState { for_overlay: true, ..LayerState::default() }
    }
}

/// A deletion entry.
pub(crate) enum Marker<'a> {
    /// `.wh.NAME`: remove NAME.
    Remove(&'a [u8]),
    /// `.wh..wh..opq`: empty the directory of lower layers' entries.
    Opaque,
}

/// Whether `path` is a whiteout or opaque marker; refuses the ones that could climb or hide.
pub(crate) fn marker<'p>(path: &'p CleanPath<'_>) -> Result<Option<Marker<'p>>> {
    let last = path.comps.len().saturating_sub(1);
    if path.comps[..last].iter().any(|c| c.starts_with(PREFIX)) {
        return Err(refused(path, "a whiteout name (.wh.) can only be the last part of a path"));
    }
    let name = path.name();
    if name == OPAQUE {
        return Ok(Some(Marker::Opaque));
    }
    let Some(hidden) = name.strip_prefix(PREFIX) else { return Ok(None) };
    match hidden {
        b"" | b"." | b".." => {
            Err(refused(path, "its whiteout names no entry of its directory (it would climb out of it)"))
        }
        h if h.starts_with(PREFIX) => {
            Err(refused(path, "it is an aufs-internal whiteout name that no image may carry"))
        }
        h => Ok(Some(Marker::Remove(h))),
    }
}

fn refused(path: &CleanPath<'_>, why: &str) -> Error {
    Error::UnsafeEntry { path: path.shown.clone(), why: why.into() }
}

/// `parent/name` as a key.
fn child_key(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut key = parent.to_vec();
    if !key.is_empty() {
        key.push(b'/');
    }
    key.extend_from_slice(name);
    key
}

impl Unpacker {
    /// Remember that this layer wrote `path`, and every directory above it.
    pub(super) fn layer_made(&mut self, path: &CleanPath<'_>) {
        if let Some(layer) = self.layer.as_mut() {
            for n in 1..=path.comps.len() {
                layer.made.insert(path.comps[..n].join(&b'/'));
            }
        }
    }

    /// True when `path` exists only because a lower layer made it (so this layer may delete
    /// or replace it). In a plain archive nothing is "lower".
    pub(super) fn lower_made(&self, path: &CleanPath<'_>) -> bool {
        self.layer.as_ref().is_some_and(|l| !l.made.contains(&path.key()))
    }

    /// Apply a whiteout or an opaque marker.
    pub(super) fn whiteout(&mut self, path: &CleanPath<'_>, marker: Marker<'_>) -> Result<()> {
        if self.layer.as_ref().is_some_and(|l| l.for_overlay) {
            return self.overlay_whiteout(path, marker);
        }
        // Nothing to hide when the directory does not exist below.
        let Some(dir) = self.existing_dir(path)? else { return Ok(()) };
        let parent_key = path.parent_key();
        let made = &self.layer.as_ref().expect("whiteouts are only read in layers").made;
        let mut doomed: Vec<Vec<u8>> = Vec::new();
        match marker {
            Marker::Remove(name) => {
                if !made.contains(&child_key(&parent_key, name)) {
                    doomed.push(name.to_vec());
                }
            }
            Marker::Opaque => {
                for name in names_in(&dir).map_err(|e| self.fs_error("read", path, e))? {
                    if !made.contains(&child_key(&parent_key, &name)) {
                        doomed.push(name);
                    }
                }
            }
        }
        for name in doomed {
            match remove_entry(dir.as_fd(), &name) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(self.fs_error("remove", path, e)),
            }
        }
        // Cached fds of removed directories would now write into unlinked ones.
        self.dirs.clear();
        self.report.whiteouts += 1;
        Ok(())
    }

    /// overlayfs' own words for a deletion: a character device 0/0 named like the deleted
    /// entry, and the `trusted.overlay.opaque` attribute `y` on an opaque directory.
    fn overlay_whiteout(&mut self, path: &CleanPath<'_>, marker: Marker<'_>) -> Result<()> {
        let parent_key = self.parent(path)?;
        let dir = self.fd(&parent_key)?;
        match marker {
            Marker::Remove(name) => {
                let mode = Mode::from_raw_mode(0o600);
                match rustix::fs::mknodat(dir, name, FileType::CharacterDevice, mode, 0) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(self.fs_error("create whiteout", path, e)),
                }
            }
            Marker::Opaque => {
                rustix::fs::fsetxattr(dir, "trusted.overlay.opaque", b"y", rustix::fs::XattrFlags::empty())
                    .map_err(|e| self.fs_error("set opaque", path, e))?;
            }
        }
        self.report.whiteouts += 1;
        Ok(())
    }

    /// Remove the lower layer's directory at `path` (in `dir`) before an entry replaces it.
    pub(super) fn remove_tree(&self, dir: BorrowedFd<'_>, path: &CleanPath<'_>) -> Result<()> {
        remove_entry(dir, path.name()).map_err(|e| self.fs_error("remove", path, e))?;
        self.flush_dirs.set(true);
        Ok(())
    }

    /// The directory a whiteout is in, reached without following symlinks; `None` if a part
    /// of it does not exist. A symlink or file on the way is refused, never gone through.
    fn existing_dir(&self, path: &CleanPath<'_>) -> Result<Option<OwnedFd>> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut dir = self.root.try_clone().map_err(|e| Error::io("unpack", &self.what, e))?;
        let mut walked: Vec<u8> = Vec::new();
        for comp in &path.comps[..path.comps.len() - 1] {
            match rustix::fs::openat(&dir, *comp, flags, Mode::empty()) {
                Ok(fd) => dir = fd,
                Err(Errno::NOENT) => return Ok(None),
                Err(e) => return Err(self.refuse_parent(path, &walked, comp, e)),
            }
            walked = child_key(&walked, comp);
        }
        Ok(Some(dir))
    }
}

/// The names in a directory, without `.` and `..`.
fn names_in(dir: &OwnedFd) -> rustix::io::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(name);
        }
    }
    Ok(names)
}

/// Remove `name` in `dir`: a file or symlink by `unlinkat` (a symlink's target is never
/// touched), a directory with everything in it, going down with `O_NOFOLLOW`.
fn remove_entry(dir: BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<()> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return rustix::fs::unlinkat(dir, name, AtFlags::empty());
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let sub = rustix::fs::openat(dir, name, flags, Mode::empty())?;
    for child in names_in(&sub)? {
        remove_entry(sub.as_fd(), &child)?;
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)
}
