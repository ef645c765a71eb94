//! A corpus of hostile archives. For each: unpack into `<tmp>/target`, then check that nothing
//! beside it changed (`<tmp>/outside/sentinel` and every other path under `<tmp>`), and that
//! the entry was refused with an error, skipped with a note, or neutralised, as documented.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{gzip, raw_entry, snapshot, Node};
use rootfs_fetch::unpack::{unpack, UnpackReport};
use rootfs_fetch::Error;
use tar::EntryType::{self, *};

const SENTINEL: &[u8] = b"original content";

/// One entry of a test archive: path, type, mode, link target, data.
type E<'a> = (&'a [u8], EntryType, u32, Option<&'a [u8]>, &'a [u8]);

struct Case {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    target: PathBuf,
    outside: PathBuf,
}

impl Case {
    fn new() -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        let outside = base.join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("sentinel"), SENTINEL).unwrap();
        Case { target: base.join("target"), outside, base, _tmp: tmp }
    }

    /// Build the archive (gzip-compressed when `gz`), unpack it, check nothing outside changed.
    fn run(&self, entries: &[E<'_>], gz: bool) -> Result<UnpackReport, Error> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, mode, link, data) in entries {
            raw_entry(&mut b, path, *kind, *mode, *link, data);
        }
        let mut bytes = b.into_inner().unwrap();
        if gz {
            bytes = gzip(&bytes);
        }
        let before = self.outside_snapshot();
        let result = unpack(&bytes[..], &self.target);
        assert_eq!(self.outside_snapshot(), before, "something outside the target changed");
        assert_eq!(fs::read(self.outside.join("sentinel")).unwrap(), SENTINEL);
        result
    }

    /// Everything under the temporary base except the target itself.
    fn outside_snapshot(&self) -> Vec<(PathBuf, Node)> {
        snapshot(&self.base).into_iter().filter(|(p, _)| !p.starts_with("target")).collect()
    }

    fn t(&self, rel: &str) -> PathBuf {
        self.target.join(rel)
    }
}

fn unsafe_entry(r: Result<UnpackReport, Error>) -> String {
    match r {
        Err(Error::UnsafeEntry { path, why }) => format!("{path}: {why}"),
        other => panic!("expected UnsafeEntry, got {other:?}"),
    }
}

fn note_codes(r: &UnpackReport) -> Vec<&'static str> {
    r.notes.iter().map(|n| n.code).collect()
}

#[test]
fn dotdot_paths_are_refused() {
    let c = Case::new();
    let why = unsafe_entry(c.run(&[(b"../outside/sentinel", Regular, 0o644, None, b"pwned")], false));
    assert!(why.contains(".."), "{why}");
    let why = unsafe_entry(c.run(&[(b"a/b/../../../outside/new", Regular, 0o644, None, b"pwned")], true));
    assert!(why.contains(".."), "{why}");
    assert!(!c.outside.join("new").exists());
}

#[test]
fn absolute_paths_are_made_relative() {
    let c = Case::new();
    // Even an absolute path naming the real sentinel lands inside the target.
    let abs = c.outside.join("sentinel");
    let abs = abs.to_str().unwrap().as_bytes();
    let report =
        c.run(&[(b"/etc/passwd", Regular, 0o644, None, b"root"), (abs, Regular, 0o644, None, b"pwned")], true).unwrap();
    assert_eq!(fs::read(c.t("etc/passwd")).unwrap(), b"root");
    let inside = c.target.join(c.outside.strip_prefix("/").unwrap()).join("sentinel");
    assert_eq!(fs::read(inside).unwrap(), b"pwned");
    assert_eq!(note_codes(&report), ["rootfs.note.stripped_absolute", "rootfs.note.stripped_absolute"]);
}

#[test]
fn file_through_an_escaping_symlink_is_refused() {
    for absolute in [false, true] {
        let c = Case::new();
        let link = if absolute { c.outside.to_str().unwrap().as_bytes().to_vec() } else { b"../outside".to_vec() };
        let why = unsafe_entry(c.run(
            &[(b"escape", Symlink, 0o777, Some(&link), b""), (b"escape/sentinel", Regular, 0o644, None, b"pwned")],
            absolute,
        ));
        assert!(why.contains("symlink"), "{why}");
        // The symlink itself was stored verbatim (storing is harmless; following is not).
        assert_eq!(fs::read_link(c.t("escape")).unwrap().as_os_str().as_encoded_bytes(), &link[..]);
    }
}

#[test]
fn directory_through_an_escaping_symlink() {
    // A dir entry at the symlink's own path replaces the symlink (neutralised, like GNU tar)...
    let c = Case::new();
    let out = c.outside.to_str().unwrap().as_bytes().to_vec();
    let report = c
        .run(
            &[
                (b"evil", Symlink, 0o777, Some(&out), b""),
                (b"evil/", Directory, 0o755, None, b""),
                (b"evil/new", Regular, 0o644, None, b"inside"),
            ],
            false,
        )
        .unwrap();
    assert!(fs::symlink_metadata(c.t("evil")).unwrap().is_dir());
    assert_eq!(fs::read(c.t("evil/new")).unwrap(), b"inside");
    assert!(!c.outside.join("new").exists());
    assert_eq!(note_codes(&report), ["rootfs.note.replaced_symlink"]);

    // ...while a dir entry *below* the symlink is refused.
    let c = Case::new();
    let why = unsafe_entry(c.run(
        &[
            (b"evil", Symlink, 0o777, Some(b"../outside"), b""),
            (b"evil/sub/", Directory, 0o755, None, b""),
            (b"evil/sub/new", Regular, 0o644, None, b"pwned"),
        ],
        true,
    ));
    assert!(why.contains("evil"), "{why}");
    assert!(!c.outside.join("sub").exists());
}

#[test]
fn a_file_replaces_a_symlink_instead_of_writing_through_it() {
    let c = Case::new();
    c.run(
        &[(b"passwd", Symlink, 0o777, Some(b"../outside/sentinel"), b""), (b"passwd", Regular, 0o644, None, b"new")],
        false,
    )
    .unwrap();
    assert!(fs::symlink_metadata(c.t("passwd")).unwrap().is_file());
    assert_eq!(fs::read(c.t("passwd")).unwrap(), b"new");
}

#[test]
fn hard_link_to_host_file_is_refused() {
    let c = Case::new();
    let links_before = fs::metadata("/etc/shadow").map(|m| m.nlink()).ok();
    let why = unsafe_entry(c.run(&[(b"shadow", Link, 0o644, Some(b"/etc/shadow"), b"")], false));
    assert!(why.contains("hard link"), "{why}");
    assert!(!c.t("shadow").exists());
    assert_eq!(fs::metadata("/etc/shadow").map(|m| m.nlink()).ok(), links_before);

    // Through `..`.
    let c = Case::new();
    let why = unsafe_entry(c.run(&[(b"x", Link, 0o644, Some(b"../outside/sentinel"), b"")], true));
    assert!(why.contains(".."), "{why}");
    assert_eq!(fs::metadata(c.outside.join("sentinel")).unwrap().nlink(), 1);

    // Through a symlink planted earlier.
    let c = Case::new();
    unsafe_entry(c.run(
        &[(b"l", Symlink, 0o777, Some(b"../outside"), b""), (b"h", Link, 0o644, Some(b"l/sentinel"), b"")],
        false,
    ));
    assert_eq!(fs::metadata(c.outside.join("sentinel")).unwrap().nlink(), 1);
}

#[test]
fn hard_link_to_an_earlier_file_works() {
    let c = Case::new();
    let report = c
        .run(
            &[(b"bin/busybox", Regular, 0o755, None, b"bb"), (b"/usr/bin/bb", Link, 0o755, Some(b"/bin/busybox"), b"")],
            false,
        )
        .unwrap();
    assert_eq!(report.hardlinks, 1);
    let a = fs::metadata(c.t("bin/busybox")).unwrap();
    let b = fs::metadata(c.t("usr/bin/bb")).unwrap();
    assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()));
}

#[test]
fn devices_and_fifos_are_skipped_with_notes() {
    let c = Case::new();
    let report = c
        .run(
            &[
                (b"dev/", Directory, 0o755, None, b""),
                (b"dev/sda", Block, 0o660, None, b""),
                (b"dev/mem", Char, 0o640, None, b""),
                (b"run/fifo", Fifo, 0o644, None, b""),
                (b"etc/ok", Regular, 0o644, None, b"ok"),
            ],
            true,
        )
        .unwrap();
    assert_eq!(
        note_codes(&report),
        ["rootfs.note.skipped_device", "rootfs.note.skipped_device", "rootfs.note.skipped_fifo"]
    );
    assert!(report.notes[0].to_string().contains("dev/sda"));
    for p in ["dev/sda", "dev/mem", "run/fifo"] {
        assert!(fs::symlink_metadata(c.t(p)).is_err(), "{p} must not exist");
    }
    assert_eq!(fs::read(c.t("etc/ok")).unwrap(), b"ok");
}

#[test]
fn very_long_paths_are_refused() {
    let c = Case::new();
    let long: Vec<u8> = b"abcdefgh/".repeat(500); // 4500 bytes
    let r = c.run(&[(&long, Regular, 0o644, None, b"x")], false);
    assert!(matches!(r, Err(Error::PathTooLong { .. })), "{r:?}");
    let long_name = format!("dir/{}", "n".repeat(300));
    let r = c.run(&[(long_name.as_bytes(), Regular, 0o644, None, b"x")], true);
    assert!(matches!(r, Err(Error::PathTooLong { .. })), "{r:?}");
    let long_link = vec![b'l'; 5000];
    let r = c.run(&[(b"sym", Symlink, 0o777, Some(&long_link), b"")], false);
    assert!(matches!(r, Err(Error::PathTooLong { .. })), "{r:?}");
}

#[test]
fn setuid_is_kept_on_files_and_dropped_on_directories() {
    let c = Case::new();
    let report = c
        .run(
            &[
                (b"bin/su", Regular, 0o4755, None, b"su"),
                (b"bin/wall", Regular, 0o2755, None, b"wall"),
                (b"shared/", Directory, 0o6775, None, b""),
                (b"tmp/", Directory, 0o1777, None, b""),
            ],
            false,
        )
        .unwrap();
    let mode = |p: &str| fs::symlink_metadata(c.t(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("bin/su"), 0o4755);
    assert_eq!(mode("bin/wall"), 0o2755);
    assert_eq!(mode("shared"), 0o775);
    assert_eq!(mode("tmp"), 0o1777);
    assert_eq!(note_codes(&report), ["rootfs.note.dropped_setid"]);
}

#[test]
fn absolute_symlinks_inside_a_rootfs_are_kept_verbatim() {
    let c = Case::new();
    c.run(
        &[
            (b"bin/busybox", Regular, 0o755, None, b"bb"),
            (b"bin/sh", Symlink, 0o777, Some(b"/bin/busybox"), b""),
            (b"etc/mtab", Symlink, 0o777, Some(b"../proc/mounts"), b""),
        ],
        true,
    )
    .unwrap();
    assert_eq!(fs::read_link(c.t("bin/sh")).unwrap(), Path::new("/bin/busybox"));
    assert_eq!(fs::read_link(c.t("etc/mtab")).unwrap(), Path::new("../proc/mounts"));
}

#[test]
fn a_symlink_cannot_replace_a_directory_that_holds_files() {
    let c = Case::new();
    let r = c.run(
        &[
            (b"etc/", Directory, 0o755, None, b""),
            (b"etc/x", Regular, 0o644, None, b"x"),
            (b"etc", Symlink, 0o777, Some(b"../outside"), b""),
            (b"etc/y", Regular, 0o644, None, b"y"),
        ],
        false,
    );
    unsafe_entry(r);
    assert!(!c.outside.join("y").exists());
}

#[test]
fn truncated_and_garbage_archives_fail() {
    let c = Case::new();
    let mut b = tar::Builder::new(Vec::new());
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    raw_entry(&mut b, b"big", Regular, 0o644, None, &big);
    let tar = b.into_inner().unwrap();
    let gz = gzip(&tar);
    let r = unpack(&gz[..gz.len() / 2], &c.base.join("t1"));
    assert!(matches!(r, Err(Error::Truncated { .. })), "{r:?}");
    // Cut in the gzip trailer only: the tar data is complete but the stream is not.
    let r = unpack(&gz[..gz.len() - 4], &c.base.join("t2"));
    assert!(matches!(r, Err(Error::Truncated { .. })), "{r:?}");
    // A plain tar cut in the middle of the file data.
    let r = unpack(&tar[..100_000], &c.base.join("t3"));
    assert!(matches!(r, Err(Error::Truncated { .. })), "{r:?}");
    // Corrupt compressed data (bytes flipped in the middle): refused, not half-trusted.
    let mut bad = gz.clone();
    for b in &mut bad[gz.len() / 2..gz.len() / 2 + 64] {
        *b ^= 0x5a;
    }
    let r = unpack(&bad[..], &c.base.join("t6"));
    assert!(matches!(r, Err(Error::BadArchive { .. } | Error::Truncated { .. })), "{r:?}");
    // Not an archive at all, long or short, plain or gzipped: said so, never quoted.
    let text = b"this is not a tar file, just some text that is long enough"[..].repeat(20);
    let r = unpack(&text[..], &c.base.join("t4"));
    assert!(matches!(r, Err(Error::NotAnArchive { .. })), "{r:?}");
    assert!(!r.unwrap_err().to_string().contains("just some text"));
    let r = unpack(&b"root:x:0:0:root:/root:/bin/bash\n"[..], &c.base.join("t7"));
    assert!(matches!(r, Err(Error::NotAnArchive { .. })), "{r:?}");
    let r = unpack(&gzip(&text)[..], &c.base.join("t8"));
    assert!(matches!(r, Err(Error::NotAnArchive { .. })), "{r:?}");
    // Nothing at all, or only the end marker (and an endless stream of zeros ends too).
    let r = unpack(&b""[..], &c.base.join("t9"));
    assert!(matches!(r, Err(Error::EmptyArchive { .. })), "{r:?}");
    let r = unpack(std::io::repeat(0), &c.base.join("t10"));
    assert!(matches!(r, Err(Error::EmptyArchive { .. })), "{r:?}");
    // xz is told by its magic bytes.
    let r = unpack(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0, 0][..], &c.base.join("t5"));
    assert!(matches!(r, Err(Error::UnsupportedCompression { .. })), "{r:?}");
}
