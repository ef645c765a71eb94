//! The bridge between the course and the `rootfs-fetch` crate: which root filesystem a
//! lesson uses, and whether it is fit for the lessons.

use crate::course::i18n::tf;
use crate::course::Failure;
use std::path::{Path, PathBuf};

/// The names of the root filesystems already unpacked on this machine.
pub fn installed_names() -> Vec<String> {
    let Ok(read) = std::fs::read_dir("/var/lib/learnctr/rootfs") else { return Vec::new() };
    let mut names: Vec<String> = read
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// The root filesystem for a lesson: the learner's choice (a directory, or a name),
/// else the default one.
pub fn for_lesson(choice: Option<&str>) -> Result<PathBuf, Failure> {
    let path = match choice {
        Some(c) if c.contains('/') => PathBuf::from(c),
        _ => return Err(Failure::new(tf("rootfs.unavailable", &[("choice", &choice.unwrap_or("default"))]))),
    };
    check(&path)?;
    Ok(path)
}

/// The mount points the lessons need in a root filesystem.
const MOUNT_POINTS: [&str; 4] = ["proc", "sys", "dev", "tmp"];

/// Is this directory fit for the lessons? One clear sentence when it is not. Missing
/// mount points are created (as runc creates them); on a read-only path that fails.
pub fn check(root: &Path) -> Result<(), Failure> {
    let shown = root.display().to_string();
    let meta = std::fs::metadata(root).map_err(|_| Failure::new(tf("rootfs.missing", &[("path", &shown)])))?;
    if !meta.is_dir() {
        return Err(Failure::new(tf("rootfs.not_dir", &[("path", &shown)])));
    }
    if std::fs::read_dir(root).map(|mut d| d.next().is_none()).unwrap_or(true) {
        return Err(Failure::new(tf("rootfs.empty", &[("path", &shown)])));
    }
    if !has_shell(root) {
        return Err(Failure::new(tf("rootfs.no_shell", &[("path", &shown)])));
    }
    for dir in MOUNT_POINTS {
        let p = root.join(dir);
        if p.symlink_metadata().is_ok() {
            continue;
        }
        if let Err(e) = std::fs::create_dir(&p) {
            let key = if e.raw_os_error() == Some(libc::EROFS) { "rootfs.read_only" } else { "rootfs.cannot_prepare" };
            return Err(Failure::new(tf(key, &[("path", &shown), ("dir", &dir), ("detail", &e)])));
        }
    }
    Ok(())
}

/// `bin/sh` exists inside the root, following symlinks *inside* the root (an absolute
/// link such as `/bin/busybox` means ROOT/bin/busybox, not the host's).
fn has_shell(root: &Path) -> bool {
    let mut path = root.join("bin/sh");
    for _ in 0..16 {
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let Ok(target) = std::fs::read_link(&path) else { return false };
                path = if target.is_absolute() {
                    root.join(target.strip_prefix("/").unwrap_or(&target))
                } else {
                    path.parent().unwrap_or(root).join(target)
                };
            }
            Ok(m) => return m.is_file(),
            Err(_) => return false,
        }
    }
    false
}
