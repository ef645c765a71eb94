//! Reaching an entry's directory without ever following a symlink (point 2 of the module
//! docs of `unpack.rs`), and creating the entry in it: from an fd of the target, one
//! `openat(O_DIRECTORY | O_NOFOLLOW)` per component, each fd cached for the next entries.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::{CleanPath, Unpacker};
use crate::error::{Error, Result};

impl Unpacker {
    /// The fd of a directory resolved by `parent()` for the current entry (empty key = the
    /// target itself). Never falls back to another directory: a missing key is an error.
    pub(super) fn fd(&self, key: &[u8]) -> Result<BorrowedFd<'_>> {
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
    pub(super) fn parent(&mut self, path: &CleanPath<'_>) -> Result<Vec<u8>> {
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
    pub(super) fn open_dir_in(&self, parent_key: &[u8], name: &[u8], path: &CleanPath<'_>) -> Result<OwnedFd> {
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
    pub(super) fn refuse_parent(&self, path: &CleanPath<'_>, parent_key: &[u8], name: &[u8], e: Errno) -> Error {
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
    pub(super) fn fs_error(&self, _op: &str, path: &CleanPath<'_>, e: Errno) -> Error {
        Error::io("unpack", &path.shown, e.into())
    }

    /// Create the entry `path` in its parent directory `dir_key` with `make`. If the name is
    /// already taken by a file or symlink, that one is removed and `make` runs once more (the
    /// later archive entry wins, as with tar); a directory there is never replaced.
    pub(super) fn create_at<T>(
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
}
