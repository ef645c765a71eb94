//! Copy a root filesystem in (from a directory) and out (to one .tar.gz).
//!
//! Importing a *tarball* is just `unpack`. Importing a *directory* copies its tree: symlinks
//! are copied as symlinks (their target text, never what they point to), hard links stay hard
//! links, device nodes, FIFOs and sockets are skipped with a note, owners are kept when we run
//! as root. Exporting writes the same kinds of entries into a gzip-compressed tar file.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::os::unix::fs::{lchown, symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{show, Error, Note, Result};
use crate::fsutil::{self, TempPath};

/// Copy the tree under `src` into the existing, empty directory `dst`. Errors name the
/// source's paths (`dst` has a temporary name).
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> Result<Vec<Note>> {
    let as_root = rustix::process::geteuid().is_root();
    let mut notes = Vec::new();
    // (dev, inode) of files with several links -> where we copied the first one.
    let mut linked: HashMap<(u64, u64), PathBuf> = HashMap::new();
    // Directory modes are applied at the end (deepest first), so read-only dirs can be filled.
    // The top directory itself may be given through a symlink, so it alone is followed.
    let top = fs::metadata(src).map_err(|e| Error::io("inspect", show(src), e))?;
    let mut dir_modes: Vec<(PathBuf, PathBuf, fs::Metadata)> = vec![(dst.to_path_buf(), src.to_path_buf(), top)];
    let mut stack = vec![(src.to_path_buf(), dst.to_path_buf())];

    while let Some((from_dir, to_dir)) = stack.pop() {
        let entries = fs::read_dir(&from_dir).map_err(|e| Error::io("read_dir", show(&from_dir), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read_dir", show(&from_dir), e))?;
            let from = entry.path();
            let to = to_dir.join(entry.file_name());
            let rel = from.strip_prefix(src).unwrap_or(&from).display().to_string();
            let m = meta(&from)?; // lstat: a symlink is described, not followed
            let ft = m.file_type();
            let fail = |op: &'static str, e| Error::io(op, show(&from), e);
            if ft.is_dir() {
                fs::create_dir(&to).map_err(|e| fail("copy", e))?;
                fs::set_permissions(&to, fs::Permissions::from_mode(0o700)).map_err(|e| fail("set_mode", e))?;
                if m.mode() & 0o6000 != 0 {
                    notes.push(Note::entry("rootfs.note.dropped_setid", &rel));
                }
                stack.push((from.clone(), to.clone()));
                dir_modes.push((to, from, m));
            } else if ft.is_symlink() {
                let target = fs::read_link(&from).map_err(|e| fail("link", e))?;
                symlink(&target, &to).map_err(|e| fail("link", e))?;
                if as_root {
                    let _ = lchown(&to, Some(m.uid()), Some(m.gid()));
                }
            } else if ft.is_file() {
                if m.nlink() > 1 {
                    if let Some(first) = linked.get(&(m.dev(), m.ino())) {
                        fs::hard_link(first, &to).map_err(|e| fail("link", e))?;
                        continue;
                    }
                    linked.insert((m.dev(), m.ino()), to.clone());
                }
                fs::copy(&from, &to).map_err(|e| fail("copy", e))?;
                if as_root {
                    let _ = lchown(&to, Some(m.uid()), Some(m.gid()));
                }
                // After chown (which clears setuid/setgid): the exact mode, special bits included.
                fs::set_permissions(&to, fs::Permissions::from_mode(m.mode() & 0o7777))
                    .map_err(|e| fail("set_mode", e))?;
                if let (Ok(mtime), Ok(f)) = (m.modified(), File::options().write(true).open(&to)) {
                    let _ = f.set_modified(mtime);
                }
            } else if ft.is_char_device() || ft.is_block_device() {
                notes.push(Note::entry("rootfs.note.skipped_device", &rel));
            } else if ft.is_fifo() {
                notes.push(Note::entry("rootfs.note.skipped_fifo", &rel));
            } else {
                notes.push(Note::new("rootfs.note.skipped_other", vec![("path", rel), ("kind", "socket".into())]));
            }
        }
    }

    dir_modes.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.components().count()));
    for (dir, from, m) in dir_modes {
        if as_root {
            let _ = lchown(&dir, Some(m.uid()), Some(m.gid()));
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(m.mode() & 0o1777))
            .map_err(|e| Error::io("set_mode", show(&from), e))?;
    }
    Ok(notes)
}

fn meta(p: &Path) -> Result<fs::Metadata> {
    fs::symlink_metadata(p).map_err(|e| Error::io("inspect", show(p), e))
}

/// Write the tree under `root` to `dest` as one .tar.gz, atomically (temporary name + rename).
pub(crate) fn export_tar_gz(root: &Path, dest: &Path) -> Result<()> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "export".into());
    fsutil::clean_stale_matching(dir, &file_name); // left by an export that was killed
    let tmp = TempPath::new(dir, &file_name);
    let fail = |e: io::Error| Error::io("write", show(dest), e);

    let file = File::create(tmp.path()).map_err(fail)?;
    let gz = flate2::write::GzEncoder::new(BufWriter::with_capacity(256 * 1024, file), flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    builder.follow_symlinks(false);
    write_tree(&mut builder, root).map_err(fail)?;
    let gz = builder.into_inner().map_err(fail)?;
    let file = gz.finish().map_err(fail)?.into_inner().map_err(|e| fail(e.into_error()))?;
    file.sync_all().map_err(fail)?;
    drop(file);
    tmp.persist(dest).map_err(fail)
}

/// Append `./` and everything under `root`, in sorted order (the same tree gives the same list).
fn write_tree<W: io::Write>(builder: &mut tar::Builder<W>, root: &Path) -> io::Result<()> {
    let mut linked: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&fs::symlink_metadata(root)?, tar::HeaderMode::Complete);
    builder.append_data(&mut header, "./", io::empty())?;

    let mut stack = vec![PathBuf::new()];
    while let Some(rel_dir) = stack.pop() {
        let mut names: Vec<_> =
            fs::read_dir(root.join(&rel_dir))?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
        names.sort();
        // Reverse so that popping from the stack visits subdirectories in sorted order too.
        let mut subdirs = Vec::new();
        for name in names {
            let rel = rel_dir.join(&name);
            let full = root.join(&rel);
            let m = fs::symlink_metadata(&full)?;
            let ft = m.file_type();
            let mut header = tar::Header::new_gnu();
            header.set_metadata_in_mode(&m, tar::HeaderMode::Complete);
            if ft.is_dir() {
                builder.append_data(&mut header, &rel, io::empty())?;
                subdirs.push(rel);
            } else if ft.is_symlink() {
                builder.append_link(&mut header, &rel, fs::read_link(&full)?)?;
            } else if ft.is_file() {
                if m.nlink() > 1 {
                    if let Some(first) = linked.get(&(m.dev(), m.ino())) {
                        header.set_entry_type(tar::EntryType::Link);
                        header.set_size(0);
                        builder.append_link(&mut header, &rel, first)?;
                        continue;
                    }
                    linked.insert((m.dev(), m.ino()), rel.clone());
                }
                builder.append_data(&mut header, &rel, File::open(&full)?)?;
            }
            // Devices, FIFOs and sockets are not exported: unpack would skip them anyway.
        }
        stack.extend(subdirs.into_iter().rev());
    }
    builder.finish()
}
