//! Small file-system helpers that make every change all-or-nothing.
//!
//! The rule: anything being built (a download, an unpacked tree, a metadata file) is written
//! under a temporary name `.tmp-<pid>-<n>-<what>` in the same directory as its final place, and
//! then `rename`d into place. A rename inside one file system is atomic: other processes see the
//! old state or the new one, never half of it. If we fail, the guard below deletes the
//! temporary; if we are killed (Ctrl-C, kill -9), the next call removes temporaries whose
//! process is gone (`clean_stale`).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{show, Error, Result};

/// Every temporary name starts with this; rootfs names may not start with a dot.
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// Distinguishes temporaries of several calls running at once in one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary path beside its final place; removed when dropped unless `keep()` was called.
pub(crate) struct TempPath {
    path: PathBuf,
    armed: bool,
}

impl TempPath {
    /// A fresh temporary name in `dir` (nothing is created yet).
    pub(crate) fn new(dir: &Path, what: &str) -> TempPath {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{TMP_PREFIX}{}-{n}-{what}", std::process::id());
        TempPath { path: dir.join(name), armed: true }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Rename the temporary to `dest` and stop guarding it.
    pub(crate) fn persist(mut self, dest: &Path) -> io::Result<()> {
        fs::rename(&self.path, dest)?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.armed {
            remove_any(&self.path);
        }
    }
}

/// Remove a file, symlink or whole directory tree, ignoring errors (used for cleanup only).
/// `symlink_metadata` makes sure a symlink is removed itself, never followed.
pub(crate) fn remove_any(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// Create `dir` (and parents) if needed, make it root's alone (0700), then remove
/// temporaries left there by dead processes. Root only: an imported tarball may keep
/// setuid-root programs (a container needs them), and no other user of this machine
/// may reach them to run them.
pub(crate) fn prepare_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dir).map_err(|e| Error::io("create_dir", show(dir), e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| Error::io("set_mode", show(dir), e))?;
    clean_stale(dir);
    Ok(())
}

/// Remove `.tmp-<pid>-…` entries of `dir` whose process no longer runs.
pub(crate) fn clean_stale(dir: &Path) {
    clean_stale_matching(dir, "");
}

/// Like `clean_stale`, but only temporaries for the final name `what` (`.tmp-<pid>-<n>-<what>`);
/// used in directories that are not ours, such as the destination of an export.
pub(crate) fn clean_stale_matching(dir: &Path, what: &str) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TMP_PREFIX)) else { continue };
        if !what.is_empty() && rest.splitn(3, '-').nth(2) != Some(what) {
            continue;
        }
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let alive = match pid {
            Some(pid) => pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists(),
            None => false,
        };
        if !alive {
            remove_any(&entry.path());
        }
    }
}

/// Write `bytes` to `dest` atomically: temporary file, fsync, rename.
pub(crate) fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let what = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = TempPath::new(dir, &what);
    let fail = |e| Error::io("write", show(dest), e);
    let mut f = fs::File::create(tmp.path()).map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    drop(f);
    tmp.persist(dest).map_err(fail)
}

/// Total size in bytes of the regular files and symlinks under `dir` (symlinks not followed).
pub(crate) fn tree_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue }; // DirEntry::metadata does not follow
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_path_is_removed_on_drop_and_kept_on_persist() {
        let dir = tempfile::tempdir().unwrap();
        let t = TempPath::new(dir.path(), "x");
        fs::create_dir(t.path()).unwrap();
        fs::write(t.path().join("f"), b"1").unwrap();
        let p = t.path().to_path_buf();
        drop(t);
        assert!(!p.exists());

        let t = TempPath::new(dir.path(), "y");
        fs::write(t.path(), b"2").unwrap();
        t.persist(&dir.path().join("y")).unwrap();
        assert_eq!(fs::read(dir.path().join("y")).unwrap(), b"2");
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // pid 4194304 is above the kernel's maximum, so no such process can exist.
        let dead = dir.path().join(".tmp-4194304-0-busybox");
        fs::create_dir(&dead).unwrap();
        let mine = TempPath::new(dir.path(), "alive");
        fs::write(mine.path(), b"").unwrap();
        let garbage = dir.path().join(".tmp-notapid");
        fs::write(&garbage, b"").unwrap();
        let kept = dir.path().join("busybox");
        fs::create_dir(&kept).unwrap();
        clean_stale(dir.path());
        assert!(!dead.exists());
        assert!(!garbage.exists());
        assert!(mine.path().exists());
        assert!(kept.exists());
    }
}
