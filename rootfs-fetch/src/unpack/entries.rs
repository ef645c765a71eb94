//! Writing one entry of each kind: a directory, a regular file, a symlink (stored
//! verbatim, point 3 of the module docs of `unpack.rs`), a hard link (only to a file of
//! this same archive, point 4); and the owner and times they are given.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid};
use rustix::io::Errno;

use super::path::{clean_path, shorten, PATH_MAX};
use super::{Attrs, CleanPath, DirAttrs, Unpacker};
use crate::error::{Error, Note, Result};
use crate::stream::read_error;

impl Unpacker {
    pub(super) fn directory(&mut self, path: &CleanPath<'_>, attrs: &Attrs) -> Result<()> {
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
        let (uid, gid) = self.owner(attrs.uid, attrs.gid);
        let mode = self.dir_mode(attrs.mode, path);
        self.deferred_dirs.push(DirAttrs { key: path.key(), mode, uid, gid, mtime: attrs.mtime });
        self.report.dirs += 1;
        Ok(())
    }

    pub(super) fn file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &CleanPath<'_>,
        attrs: &Attrs,
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
        let (uid, gid) = self.owner(attrs.uid, attrs.gid);
        if uid.is_some() || gid.is_some() {
            chown_best_effort(&file, uid, gid);
        }
        // Regular files inside the root keep all their bits, setuid/setgid included.
        rustix::fs::fchmod(&file, Mode::from_raw_mode(attrs.mode & 0o7777))
            .map_err(|e| self.fs_error("chmod", path, e))?;
        let _ = rustix::fs::futimens(&file, &times(attrs.mtime));

        self.files.insert(path.key());
        self.report.files += 1;
        self.report.bytes += written;
        Ok(())
    }

    pub(super) fn symlink(
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

    pub(super) fn hardlink(&mut self, path: &CleanPath<'_>, target: Option<&[u8]>) -> Result<()> {
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
}

fn to_uid(u: u32) -> Option<Uid> {
    (u != u32::MAX).then(|| Uid::from_raw(u))
}

fn to_gid(g: u32) -> Option<Gid> {
    (g != u32::MAX).then(|| Gid::from_raw(g))
}

/// chown an open file; failures are ignored (as GNU tar warns and goes on), e.g. an id that is
/// not mapped in a user namespace.
pub(super) fn chown_best_effort<Fd: AsFd>(fd: Fd, uid: Option<u32>, gid: Option<u32>) {
    let _ = rustix::fs::fchown(fd, uid.and_then(to_uid), gid.and_then(to_gid));
}

/// Access time "now", modification time from the archive.
pub(super) fn times(mtime: u64) -> Timestamps {
    let secs = i64::try_from(mtime).unwrap_or(0);
    Timestamps {
        last_access: Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_NOW },
        last_modification: Timespec { tv_sec: secs, tv_nsec: 0 },
    }
}
