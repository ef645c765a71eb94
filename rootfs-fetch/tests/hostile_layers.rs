//! Image layers applied one on another: whiteouts, opaque directories, replaced directories,
//! and the layers an image's author writes to escape. For each hostile case: nothing outside
//! the root filesystem changes (`<tmp>/outside` is compared before and after), and the layer
//! is refused with one `UnsafeEntry`.

mod common;

use std::fs;
use std::path::PathBuf;

use common::{gzip, raw_entry, snapshot, Node};
use rootfs_fetch::{apply_layer, scan_layer, EntryKind, Error};
use tar::EntryType::{self, *};

type E<'a> = (&'a [u8], EntryType, u32, Option<&'a [u8]>, &'a [u8]);

fn layer(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, mode, link, data) in entries {
        raw_entry(&mut b, path, *kind, *mode, *link, data);
    }
    b.into_inner().unwrap()
}

struct Stack {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    rootfs: PathBuf,
    outside: PathBuf,
}

impl Stack {
    fn new() -> Stack {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        let outside = base.join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep"), b"still here").unwrap();
        let rootfs = base.join("rootfs");
        fs::create_dir(&rootfs).unwrap();
        Stack { rootfs, outside, base, _tmp: tmp }
    }

    fn apply(&self, entries: &[E<'_>]) -> Result<rootfs_fetch::UnpackReport, Error> {
        let before = self.outside_view();
        let r = apply_layer(&layer(entries)[..], &self.rootfs, "the layer");
        assert_eq!(self.outside_view(), before, "something outside the root filesystem changed");
        r
    }

    fn outside_view(&self) -> Vec<(PathBuf, Node)> {
        snapshot(&self.base).into_iter().filter(|(p, _)| !p.starts_with("rootfs")).collect()
    }

    fn has(&self, rel: &str) -> bool {
        fs::symlink_metadata(self.rootfs.join(rel)).is_ok()
    }
}

fn refused(r: Result<rootfs_fetch::UnpackReport, Error>) -> String {
    match r {
        Err(Error::UnsafeEntry { path, why }) => format!("{path}: {why}"),
        other => panic!("expected the layer to be refused, got {other:?}"),
    }
}

const LOWER: &[E<'static>] = &[
    (b"etc/", Directory, 0o755, None, b""),
    (b"etc/passwd", Regular, 0o644, None, b"root:x:0:0\n"),
    (b"etc/motd", Regular, 0o644, None, b"hello\n"),
    (b"data/", Directory, 0o755, None, b""),
    (b"data/a", Regular, 0o644, None, b"a"),
    (b"data/sub/", Directory, 0o755, None, b""),
    (b"data/sub/deep", Regular, 0o644, None, b"deep"),
    (b"tree/", Directory, 0o755, None, b""),
    (b"tree/leaf", Regular, 0o644, None, b"leaf"),
];

#[test]
fn whiteouts_delete_and_opaque_directories_hide_the_lower_layers() {
    let s = Stack::new();
    s.apply(LOWER).unwrap();
    let report = s
        .apply(&[
            (b"etc/.wh.motd", Regular, 0o644, None, b""),
            (b"data/", Directory, 0o755, None, b""),
            (b"data/.wh..wh..opq", Regular, 0o644, None, b""),
            (b"data/new", Regular, 0o644, None, b"new"),
            // A directory of the lower layer replaced by a file.
            (b"tree", Regular, 0o644, None, b"now a file"),
            (b"etc/passwd", Regular, 0o644, None, b"root:x:0:0:changed\n"),
        ])
        .unwrap();
    assert!(!s.has("etc/motd"), "the whiteout removed etc/motd");
    assert!(s.has("etc/passwd"));
    assert!(!s.has("data/a") && !s.has("data/sub"), "the opaque marker emptied data/ of the lower layer");
    assert_eq!(fs::read(s.rootfs.join("data/new")).unwrap(), b"new", "what this layer put in data/ stays");
    assert_eq!(fs::read(s.rootfs.join("tree")).unwrap(), b"now a file");
    assert!(!s.has("etc/.wh.motd") && !s.has("data/.wh..wh..opq"), "markers are instructions, not files");
    assert_eq!(report.whiteouts, 2);
}

#[test]
fn a_whiteout_of_something_absent_changes_nothing() {
    let s = Stack::new();
    s.apply(LOWER).unwrap();
    s.apply(&[(b"nowhere/.wh.x", Regular, 0o644, None, b""), (b"etc/.wh.nothing", Regular, 0o644, None, b"")]).unwrap();
    assert!(!s.has("nowhere"), "a whiteout does not create its directory");
}

#[test]
fn whiteouts_that_climb_are_refused() {
    for path in [&b"etc/.wh.."[..], b"etc/.wh...", b".wh.../x", b"../.wh.x", b"/../.wh.x", b"etc/.wh..wh.plnk"] {
        let s = Stack::new();
        s.apply(LOWER).unwrap();
        let why = refused(s.apply(&[(path, Regular, 0o644, None, b"")]));
        assert!(s.has("etc/passwd") && s.has("data/a"), "{why}: nothing was deleted");
    }
}

#[test]
fn a_whiteout_never_goes_through_a_symlink() {
    let s = Stack::new();
    let outside = s.outside.to_str().unwrap().as_bytes().to_vec();
    // Layer 1: lnk -> the absolute path of a directory outside; layer 2 whites out lnk/keep.
    s.apply(&[(b"lnk", Symlink, 0o777, Some(&outside), b"")]).unwrap();
    refused(s.apply(&[(b"lnk/.wh.keep", Regular, 0o644, None, b"")]));
    refused(s.apply(&[(b"lnk/.wh..wh..opq", Regular, 0o644, None, b"")]));
    assert!(s.outside.join("keep").exists());
}

#[test]
fn a_later_layer_never_writes_through_a_lower_symlink() {
    let s = Stack::new();
    let outside = s.outside.to_str().unwrap().as_bytes().to_vec();
    s.apply(&[(b"evil", Symlink, 0o777, Some(&outside), b"")]).unwrap();
    refused(s.apply(&[(b"evil/pwned", Regular, 0o644, None, b"x")]));
    assert!(!s.outside.join("pwned").exists());
}

#[test]
fn an_opaque_marker_under_a_file_is_refused() {
    let s = Stack::new();
    s.apply(LOWER).unwrap();
    refused(s.apply(&[(b"etc/passwd/.wh..wh..opq", Regular, 0o644, None, b"")]));
    refused(s.apply(&[(b"etc/passwd/.wh.x", Regular, 0o644, None, b"")]));
    assert!(s.has("etc/passwd"));
}

#[test]
fn hard_links_only_to_a_file_of_the_same_layer() {
    let s = Stack::new();
    s.apply(LOWER).unwrap();
    // To a file of the lower layer.
    refused(s.apply(&[(b"link", Link, 0o644, Some(b"etc/passwd"), b"")]));
    // Out of the root filesystem, or to the host's file by an absolute name.
    refused(s.apply(&[(b"link", Link, 0o644, Some(b"../../etc/passwd"), b"")]));
    refused(s.apply(&[(b"link", Link, 0o644, Some(b"/etc/shadow"), b"")]));
    // Within the layer: fine.
    s.apply(&[(b"f", Regular, 0o644, None, b"x"), (b"g", Link, 0o644, Some(b"f"), b"")]).unwrap();
    assert!(s.has("g"));
}

#[test]
fn the_scan_refuses_what_apply_refuses_and_lists_the_rest() {
    let bad: &[&[E<'_>]] = &[
        &[(b"etc/.wh..", Regular, 0o644, None, b"")],
        &[(b"../x", Regular, 0o644, None, b"")],
        &[(b"l", Link, 0o644, Some(b"etc/passwd"), b"")],
    ];
    for entries in bad {
        assert!(matches!(scan_layer(&layer(entries)[..], "l"), Err(Error::UnsafeEntry { .. })));
    }
    let bytes = layer(&[
        (b"etc/", Directory, 0o755, None, b""),
        (b"etc/.wh.motd", Regular, 0o644, None, b""),
        (b"data/.wh..wh..opq", Regular, 0o644, None, b""),
        (b"bin", Regular, 0o755, None, b"12345"),
    ]);
    let scan = scan_layer(&gzip(&bytes)[..], "l").unwrap();
    let kinds: Vec<(&str, EntryKind)> = scan.entries.iter().map(|e| (e.path.as_str(), e.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("etc", EntryKind::Dir),
            ("etc/motd", EntryKind::Whiteout),
            ("data", EntryKind::Opaque),
            ("bin", EntryKind::File)
        ]
    );
    // The diff_id is the sha256 of the uncompressed tar, whatever the compression.
    assert_eq!(scan.diff_id, scan_layer(&bytes[..], "l").unwrap().diff_id);
    assert_eq!(scan.tar_size, bytes.len() as u64);
}

#[test]
fn a_truncated_layer_is_refused() {
    let s = Stack::new();
    let gz = gzip(&layer(LOWER));
    let cut = &gz[..gz.len() - 10];
    assert!(matches!(apply_layer(cut, &s.rootfs, "l"), Err(Error::Truncated { .. } | Error::BadArchive { .. })));
    assert!(scan_layer(cut, "l").is_err());
}

#[test]
fn zstd_layers_are_read() {
    let bytes = layer(LOWER);
    let z = ruzstd::encoding::compress_to_vec(&bytes[..], ruzstd::encoding::CompressionLevel::Fastest);
    let s = Stack::new();
    apply_layer(&z[..], &s.rootfs, "l").unwrap();
    assert!(s.has("data/sub/deep"));
    assert_eq!(scan_layer(&z[..], "l").unwrap().diff_id, scan_layer(&bytes[..], "l").unwrap().diff_id);
}
