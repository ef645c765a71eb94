//! Fetching Alpine through the real download code, from a server on 127.0.0.1 serving a
//! generated Alpine-like tarball (never the real CDN: tests must not need the Internet).

mod common;

use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{alpine_like_tar_gz, closed_port_url, names, serve, sha256_hex, Reply};
use rootfs_fetch::{AlpineRelease, Error, Preference, SourceKind, Store};

fn release_for(bytes: &[u8]) -> AlpineRelease {
    AlpineRelease { version: "3.21.3".into(), arch: "x86_64".into(), sha256: sha256_hex(bytes) }
}

fn store(dir: &Path, base: &str, release: AlpineRelease) -> Store {
    Store::with_dirs(dir.join("cache"), dir.join("rootfs"))
        .alpine_base_url(base)
        .pinned_release(release)
        .connect_timeout(Duration::from_secs(1))
}

/// Nothing at all, not even a temporary name, in the cache and rootfs directories.
fn assert_nothing_left(dir: &Path) {
    assert_eq!(names(&dir.join("cache")), Vec::<String>::new(), "cache must be empty");
    assert_eq!(names(&dir.join("rootfs")), Vec::<String>::new(), "rootfs dir must be empty");
}

#[test]
fn fetch_from_local_server_verifies_and_unpacks() {
    let tgz = alpine_like_tar_gz();
    let server = serve(Reply::File(tgz.clone()));
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), &server.base, release_for(&tgz));

    let rootfs = store.fetch(Preference::Alpine).unwrap();
    assert_eq!(rootfs.name, "alpine-3.21.3");
    assert_eq!(rootfs.source, SourceKind::Alpine);
    assert_eq!(rootfs.path, dir.path().join("rootfs/alpine-3.21.3"));
    assert_eq!(fs::read_link(rootfs.path.join("bin/sh")).unwrap(), Path::new("/bin/busybox"));
    assert!(fs::read_to_string(rootfs.path.join("etc/os-release")).unwrap().contains("ID=alpine"));
    assert_eq!(
        server.paths.lock().unwrap().as_slice(),
        ["/v3.21/releases/x86_64/alpine-minirootfs-3.21.3-x86_64.tar.gz"]
    );

    // The verified tarball is cached, the metadata sits beside the tree, no temporaries remain.
    let mut cache = names(&dir.path().join("cache"));
    cache.sort();
    assert_eq!(cache, ["alpine-minirootfs-3.21.3-x86_64.tar.gz"]);
    let mut rootfs_dir = names(&dir.path().join("rootfs"));
    rootfs_dir.sort();
    assert_eq!(rootfs_dir, ["alpine-3.21.3", "alpine-3.21.3.json"]);

    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].source, SourceKind::Alpine);
    assert_eq!(list[0].version.as_deref(), Some("3.21.3"));
    assert!(list[0].size > 200_000, "size {}", list[0].size);

    // ensure() uses what is there: no second request.
    let again = store.ensure(Preference::Any).unwrap();
    assert_eq!(again.path, rootfs.path);
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);

    // After remove, the cached tarball is reused (re-checked), still no new request.
    store.remove("alpine-3.21.3").unwrap();
    assert!(!rootfs.path.exists());
    store.fetch_alpine().unwrap();
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
}

#[test]
fn checksum_mismatch_keeps_nothing() {
    let tgz = alpine_like_tar_gz();
    let server = serve(Reply::File(tgz.clone()));
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = release_for(&tgz);
    wrong.sha256 = sha256_hex(b"something else");
    let err = store(dir.path(), &server.base, wrong.clone()).fetch_alpine().unwrap_err();
    match &err {
        Error::ChecksumMismatch { expected, got, .. } => {
            assert_eq!(expected, &wrong.sha256);
            assert_eq!(got, &sha256_hex(&tgz));
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
    assert_eq!(err.code(), "rootfs.checksum_mismatch");
    assert_nothing_left(dir.path());
}

#[test]
fn truncated_download_keeps_nothing() {
    let tgz = alpine_like_tar_gz();
    let server = serve(Reply::Truncated(tgz.clone()));
    let dir = tempfile::tempdir().unwrap();
    let err = store(dir.path(), &server.base, release_for(&tgz)).fetch_alpine().unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "expected Truncated, got {err:?}");
    assert_nothing_left(dir.path());
}

#[test]
fn silent_server_times_out_and_keeps_nothing() {
    let server = serve(Reply::Silent(Duration::from_secs(6)));
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let err = store(dir.path(), &server.base, release_for(b"x")).fetch_alpine().unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "expected Timeout, got {err:?}");
    assert!(took < Duration::from_secs(4), "gave up after {took:?}, the timeout is 1 s");
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    assert_nothing_left(dir.path());
}

#[test]
fn refused_connection_is_offline() {
    let dir = tempfile::tempdir().unwrap();
    let err = store(dir.path(), &closed_port_url(), release_for(b"x")).fetch_alpine().unwrap_err();
    assert!(matches!(err, Error::Offline { .. }), "expected Offline, got {err:?}");
    assert_eq!(err.code(), "rootfs.offline");
    assert!(err.to_string().contains("BusyBox"), "{err}");
    assert_nothing_left(dir.path());
}

#[test]
fn http_error_status() {
    let server = serve(Reply::Status(404));
    let dir = tempfile::tempdir().unwrap();
    let err = store(dir.path(), &server.base, release_for(b"x")).fetch_alpine().unwrap_err();
    assert!(matches!(err, Error::HttpStatus { status: 404, .. }), "got {err:?}");
    assert_nothing_left(dir.path());
}

#[test]
fn a_corrupted_cache_file_is_downloaded_again() {
    let tgz = alpine_like_tar_gz();
    let server = serve(Reply::File(tgz.clone()));
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("cache")).unwrap();
    fs::write(dir.path().join("cache/alpine-minirootfs-3.21.3-x86_64.tar.gz"), b"garbage").unwrap();
    store(dir.path(), &server.base, release_for(&tgz)).fetch_alpine().unwrap();
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    assert_eq!(fs::read(dir.path().join("cache/alpine-minirootfs-3.21.3-x86_64.tar.gz")).unwrap(), tgz);
}

#[test]
fn stale_temporaries_of_a_killed_fetch_are_removed() {
    let tgz = alpine_like_tar_gz();
    let server = serve(Reply::File(tgz.clone()));
    let dir = tempfile::tempdir().unwrap();
    // What a process killed mid-way leaves: a partial download and a partial tree.
    fs::create_dir_all(dir.path().join("cache")).unwrap();
    fs::create_dir_all(dir.path().join("rootfs/.tmp-4194304-0-alpine-3.21.3/bin")).unwrap();
    fs::write(dir.path().join("cache/.tmp-4194304-1-alpine-minirootfs-3.21.3-x86_64.tar.gz"), b"half").unwrap();
    store(dir.path(), &server.base, release_for(&tgz)).fetch_alpine().unwrap();
    assert_eq!(names(&dir.path().join("cache")), ["alpine-minirootfs-3.21.3-x86_64.tar.gz"]);
    let mut rootfs = names(&dir.path().join("rootfs"));
    rootfs.sort();
    assert_eq!(rootfs, ["alpine-3.21.3", "alpine-3.21.3.json"]);
}

#[test]
fn fetch_any_falls_back_to_busybox_when_offline() {
    if !Path::new("/bin/busybox").exists() && !Path::new("/usr/bin/busybox").exists() {
        eprintln!("skipping: no busybox on this machine");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), &closed_port_url(), release_for(b"x"));
    let rootfs = store.fetch(Preference::Any).unwrap();
    assert_eq!(rootfs.source, SourceKind::Busybox);
    assert_eq!(rootfs.notes.len(), 1);
    assert_eq!(rootfs.notes[0].code, "rootfs.note.fell_back_to_busybox");
    assert!(rootfs.notes[0].to_string().contains("BusyBox"));
    assert!(rootfs.notes[0].args.iter().any(|(k, v)| *k == "reason_code" && v == "rootfs.offline"));
    // ensure(Any) now finds the cached BusyBox without trying the network again.
    let again = store.ensure(Preference::Any).unwrap();
    assert_eq!(again.source, SourceKind::Busybox);
    assert!(again.notes.is_empty());
}
