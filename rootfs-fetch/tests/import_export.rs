//! Import (tarball or directory), export, remove, list, and the `Path`/`Named` preferences.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

use common::{alpine_like_tar, alpine_like_tar_gz, names, snapshot};
use rootfs_fetch::{Error, Preference, SourceKind, Store};

fn store(dir: &Path, sub: &str) -> Store {
    Store::with_dirs(dir.join(sub).join("cache"), dir.join(sub).join("rootfs")).alpine_base_url("http://127.0.0.1:9")
}

#[test]
fn import_tar_and_tar_gz_by_content_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "a");
    // A gzip file named .tar and a plain tar named .tgz: the magic bytes decide.
    let gz_named_tar = dir.path().join("one.tar");
    fs::write(&gz_named_tar, alpine_like_tar_gz()).unwrap();
    let tar_named_tgz = dir.path().join("two.tgz");
    fs::write(&tar_named_tgz, alpine_like_tar()).unwrap();

    let one = s.import(&gz_named_tar, None).unwrap();
    let two = s.import(&tar_named_tgz, Some("second")).unwrap();
    assert_eq!((one.name.as_str(), one.source), ("one", SourceKind::Imported));
    assert_eq!(two.name, "second");
    assert_eq!(snapshot(&one.path), snapshot(&two.path));
    assert_eq!(fs::read_link(one.path.join("bin/sh")).unwrap(), Path::new("/bin/busybox"));
    assert!(one.notes.is_empty(), "{:?}", one.notes);

    let listed: Vec<(String, SourceKind)> = s.list().unwrap().into_iter().map(|i| (i.name, i.source)).collect();
    assert_eq!(listed, [("one".to_string(), SourceKind::Imported), ("second".to_string(), SourceKind::Imported)]);

    // Same name again: refused, the existing one untouched.
    assert!(matches!(s.import(&gz_named_tar, None), Err(Error::AlreadyExists { .. })));
    assert!(matches!(s.import(&gz_named_tar, Some("../x")), Err(Error::BadName { .. })));
    assert!(matches!(s.import(&dir.path().join("missing.tar"), None), Err(Error::PathNotFound { .. })));
}

#[test]
fn truncated_gzip_import_leaves_no_rootfs() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "a");
    let tgz = alpine_like_tar_gz();
    let cut = dir.path().join("cut.tar.gz");
    fs::write(&cut, &tgz[..tgz.len() * 2 / 3]).unwrap();
    let err = s.import(&cut, None).unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err:?}");
    assert_eq!(names(&dir.path().join("a/rootfs")), Vec::<String>::new());
    assert!(s.list().unwrap().is_empty());
}

#[test]
fn export_then_import_elsewhere_gives_the_same_tree() {
    let dir = tempfile::tempdir().unwrap();
    let a = store(dir.path(), "a");
    let tgz = dir.path().join("alpine-like.tar.gz");
    fs::write(&tgz, alpine_like_tar_gz()).unwrap();
    let original = a.import(&tgz, Some("web")).unwrap();
    // Make the tree more varied: an owner, a hard link already exists, an empty dir, a setuid file.
    fs::create_dir(original.path.join("var/empty")).unwrap();
    fs::write(original.path.join("etc/motd"), "welcome\n").unwrap();
    if common::is_root() {
        std::os::unix::fs::lchown(original.path.join("etc/motd"), Some(1000), Some(1000)).unwrap();
    }

    let out = dir.path().join("class").join("web.tar.gz");
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    // A temporary left by an export that was killed (dead pid) is cleaned up; other files stay.
    fs::write(out.parent().unwrap().join(".tmp-4194304-0-web.tar.gz"), b"half").unwrap();
    a.export("web", &out).unwrap();
    // Only the finished file is there, no temporary name.
    assert_eq!(names(out.parent().unwrap()), ["web.tar.gz"]);

    let b = store(dir.path(), "b");
    let copy = b.import(&out, None).unwrap();
    assert_eq!(copy.name, "web");
    let (left, right) = (snapshot(&original.path), snapshot(&copy.path));
    assert!(left.len() > 400, "{} entries", left.len());
    assert_eq!(left, right);
    assert_eq!(
        fs::metadata(copy.path).unwrap().permissions().mode() & 0o7777,
        fs::metadata(original.path).unwrap().permissions().mode() & 0o7777
    );
    // The hard link survived as a hard link.
    let m = fs::metadata(b.rootfs_dir().join("web/usr/bin/busybox-hardlink")).unwrap();
    assert_eq!(m.nlink(), 2);

    assert!(matches!(a.export("nope", &out), Err(Error::NotFound { .. })));
}

#[test]
fn export_then_import_of_busybox() {
    let dir = tempfile::tempdir().unwrap();
    let a = store(dir.path(), "a");
    let bb = a.build_busybox(None).unwrap();
    let out = dir.path().join("busybox.tgz");
    a.export("busybox", &out).unwrap();
    let b = store(dir.path(), "b");
    let copy = b.import(&out, Some("bb")).unwrap();
    assert_eq!(snapshot(&bb.path), snapshot(&copy.path));
}

#[test]
fn import_directory_copies_symlinks_as_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("myroot");
    fs::create_dir_all(src.join("bin")).unwrap();
    fs::create_dir_all(src.join("data/sub")).unwrap();
    fs::write(src.join("bin/busybox"), b"bb").unwrap();
    fs::set_permissions(src.join("bin/busybox"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::write(src.join("data/sub/f"), b"f").unwrap();
    fs::hard_link(src.join("data/sub/f"), src.join("data/f2")).unwrap();
    symlink("/bin/busybox", src.join("bin/sh")).unwrap();
    symlink("/etc", src.join("hostetc")).unwrap(); // must stay a link, /etc not copied
    symlink("../..", src.join("data/up")).unwrap();
    symlink("dangling-target", src.join("data/dangling")).unwrap();

    let s = store(dir.path(), "a");
    let r = s.import(&src, None).unwrap();
    assert_eq!(r.name, "myroot");
    assert_eq!(snapshot(&src), snapshot(&r.path));
    assert_eq!(fs::read_link(r.path.join("hostetc")).unwrap(), Path::new("/etc"));
    let a = fs::metadata(r.path.join("data/sub/f")).unwrap();
    let b = fs::metadata(r.path.join("data/f2")).unwrap();
    assert_eq!(a.ino(), b.ino());
}

#[test]
fn import_without_a_shell_gives_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("empty-root");
    fs::create_dir_all(src.join("etc")).unwrap();
    let r = store(dir.path(), "a").import(&src, None).unwrap();
    assert_eq!(r.notes.len(), 1);
    assert_eq!(r.notes[0].code, "rootfs.note.no_shell");
}

#[test]
fn remove_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "a");
    let tgz = dir.path().join("x.tgz");
    fs::write(&tgz, alpine_like_tar_gz()).unwrap();
    s.import(&tgz, None).unwrap();
    let named = s.ensure(Preference::Named("x".into())).unwrap();
    assert_eq!(named.source, SourceKind::Imported);
    // ensure(Any) takes an imported one when nothing else is cached.
    assert_eq!(s.ensure(Preference::Any).unwrap().name, "x");

    s.remove("x").unwrap();
    assert_eq!(names(&dir.path().join("a/rootfs")), Vec::<String>::new());
    assert!(matches!(s.remove("x"), Err(Error::NotFound { .. })));
    assert!(matches!(s.ensure(Preference::Named("x".into())), Err(Error::NotFound { .. })));
    assert!(matches!(s.ensure(Preference::Named("../etc".into())), Err(Error::BadName { .. })));
}

#[test]
fn path_preference_is_validated_and_not_copied() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "a");
    let root = dir.path().join("learner-root");
    fs::create_dir_all(root.join("bin")).unwrap();

    let err = s.ensure(Preference::Path(root.clone())).unwrap_err();
    assert!(matches!(err, Error::NoShell { .. }), "{err:?}");
    symlink("/bin/busybox", root.join("bin/sh")).unwrap(); // dangling on purpose: a symlink is enough
    let r = s.ensure(Preference::Path(root.clone())).unwrap();
    assert_eq!(r.path, fs::canonicalize(&root).unwrap());
    assert_eq!(r.source, SourceKind::Directory);
    assert!(names(&dir.path().join("a/rootfs")).is_empty(), "nothing copied");

    let err = s.ensure(Preference::Path(root.join("bin/sh"))).unwrap_err();
    assert!(matches!(err, Error::NotADirectory { .. } | Error::PathNotFound { .. }), "{err:?}");
    let file = dir.path().join("plain-file");
    fs::write(&file, b"").unwrap();
    assert!(matches!(s.ensure(Preference::Path(file)), Err(Error::NotADirectory { .. })));
    assert!(matches!(s.ensure(Preference::Path(dir.path().join("nope"))), Err(Error::PathNotFound { .. })));
}

#[test]
fn ensure_any_prefers_alpine_then_busybox_then_imported() {
    let dir = tempfile::tempdir().unwrap();
    let tgz_bytes = alpine_like_tar_gz();
    let server = common::serve(common::Reply::File(tgz_bytes.clone()));
    let release = rootfs_fetch::AlpineRelease {
        version: "3.21.3".into(),
        arch: "x86_64".into(),
        sha256: common::sha256_hex(&tgz_bytes),
    };
    let s = store(dir.path(), "a").alpine_base_url(&server.base).pinned_release(release);
    let tgz = dir.path().join("imp.tgz");
    fs::write(&tgz, &tgz_bytes).unwrap();
    s.import(&tgz, None).unwrap();
    assert_eq!(s.ensure(Preference::Any).unwrap().source, SourceKind::Imported);
    s.build_busybox(None).unwrap();
    assert_eq!(s.ensure(Preference::Any).unwrap().source, SourceKind::Busybox);
    s.fetch_alpine().unwrap();
    let any = s.ensure(Preference::Any).unwrap();
    assert_eq!((any.source, any.name.as_str()), (SourceKind::Alpine, "alpine-3.21.3"));
    // fetch(Busybox) and ensure(Alpine) return what is cached, without rebuilding.
    assert_eq!(s.ensure(Preference::Alpine).unwrap().path, any.path);
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    let names: Vec<String> = s.list().unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(names, ["alpine-3.21.3", "busybox", "imp"]);
}

#[test]
fn imports_that_cannot_be_a_root_filesystem_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "a");
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    assert!(matches!(s.import(&empty, None), Err(Error::EmptyDirectory { .. })));
    // A device is no archive (and /dev/zero would never end).
    assert!(matches!(s.import(Path::new("/dev/zero"), None), Err(Error::NotAnArchive { .. })));
    // A directory holding the store would be copied into itself.
    let err = s.import(dir.path(), Some("itself")).unwrap_err();
    assert!(matches!(err, Error::HoldsStore { .. }), "{err:?}");
    assert!(matches!(s.import(Path::new("/"), Some("host")), Err(Error::HoldsStore { .. })));
    let text = dir.path().join("passwd");
    fs::write(&text, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    let err = s.import(&text, None).unwrap_err();
    assert!(matches!(err, Error::NotAnArchive { .. }), "{err:?}");
    assert!(!err.to_string().contains("root:x"), "{err}");
    assert!(s.list().unwrap().is_empty());
    assert_eq!(names(&dir.path().join("a/rootfs")), Vec::<String>::new());
}
