//! What a caller names: a root filesystem's name, a directory to use or to import.

use std::fs;
use std::path::Path;

use crate::error::{show, Error, Result};
use crate::store::{Rootfs, SourceKind};

/// A directory to import: not empty, and not holding the store (checked on resolved paths,
/// so `/srv/..` is `/` too).
pub(crate) fn check_import_dir(src: &Path, rootfs_dir: &Path) -> Result<()> {
    let mut entries = fs::read_dir(src).map_err(|e| Error::io("read_dir", show(src), e))?;
    if entries.next().is_none() {
        return Err(Error::EmptyDirectory { path: show(src) });
    }
    let resolved = fs::canonicalize(src).map_err(|e| Error::io("resolve", show(src), e))?;
    // The store's directory may not exist yet: its nearest existing ancestor decides.
    let store = rootfs_dir.ancestors().find_map(|a| fs::canonicalize(a).ok());
    if store.is_some_and(|store| store.starts_with(&resolved)) {
        return Err(Error::HoldsStore { path: show(src), store: show(rootfs_dir) });
    }
    Ok(())
}

/// `Preference::Path`: a directory that exists and has `bin/sh` (a symlink is fine).
pub(crate) fn use_directory(path: &Path) -> Result<Rootfs> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::PathNotFound { path: show(path) }),
        Err(e) => return Err(Error::io("inspect", show(path), e)),
    };
    if !meta.is_dir() {
        return Err(Error::NotADirectory { path: show(path) });
    }
    if fs::symlink_metadata(path.join("bin/sh")).is_err() {
        return Err(Error::NoShell { path: show(path) });
    }
    let path = fs::canonicalize(path).map_err(|e| Error::io("resolve", show(path), e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "/".into());
    Ok(Rootfs { name, path, source: SourceKind::Directory, notes: Vec::new() })
}

/// `alpine.tar.gz` -> `alpine`, `x.tgz` -> `x`, `dir/` -> `dir`.
pub(crate) fn default_name(src: &Path) -> String {
    let file = src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for ext in [".tar.gz", ".tgz", ".tar"] {
        if let Some(stem) = file.strip_suffix(ext) {
            return stem.to_string();
        }
    }
    file
}

/// Names: 1–64 of `[a-zA-Z0-9._-]`, no leading dot (temporaries start with one), and not ending
/// in `.json` (that would clash with another entry's metadata file).
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && !name.ends_with(".json")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::BadName { name: name.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["alpine-3.21.3", "busybox", "my_image.v2", "a"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".tmp-1", "a/b", "..", "x.json", "é", &"a".repeat(65), "a b"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_names() {
        assert_eq!(default_name(Path::new("/x/alpine.tar.gz")), "alpine");
        assert_eq!(default_name(Path::new("web.tgz")), "web");
        assert_eq!(default_name(Path::new("export.tar")), "export");
        assert_eq!(default_name(Path::new("/srv/myroot/")), "myroot");
    }
}
