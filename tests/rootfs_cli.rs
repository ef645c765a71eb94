//! `learnctr rootfs ...` end to end, in a store of the test's own
//! (`LEARNCTR_STORE_DIR`): BusyBox offline, list, export for a class, import, use it
//! in a lesson, remove; and one sentence for each mistake.

mod common;

use common::*;
use std::process::Command;

fn rootfs_cmd(store: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = learnctr(args);
    cmd.env("LEARNCTR_STORE_DIR", store);
    cmd
}

fn ok(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    stdout
}

#[test]
fn fetch_list_export_import_use_remove() {
    let Some(t) = root_test("fetch_list_export_import_use_remove") else { return };
    let store = t.path().join("store");
    let listed = ok(rootfs_cmd(&store, &["rootfs", "list"]));
    assert!(listed.contains("No root filesystem yet"), "{listed}");
    let fetched = ok(rootfs_cmd(&store, &["rootfs", "fetch", "busybox"]));
    assert!(fetched.contains("busybox is ready"), "{fetched}");
    let listed = ok(rootfs_cmd(&store, &["rootfs", "list"]));
    assert!(listed.contains("busybox") && listed.contains("MiB"), "{listed}");

    let tarball = t.path().join("class.tar.gz");
    ok(rootfs_cmd(&store, &["rootfs", "export", tarball.to_str().unwrap()]));
    assert!(std::fs::metadata(&tarball).unwrap().len() > 100_000);
    let other = t.path().join("other-store");
    ok(rootfs_cmd(&other, &["rootfs", "import", tarball.to_str().unwrap(), "--name", "class"]));
    let lesson = ok(rootfs_cmd(&other, &["lesson", "2", "--yes", "--rootfs", "class"]));
    assert!(lesson.contains("class (imported"), "the lesson says which rootfs it uses:\n{lesson}");
    ok(rootfs_cmd(&other, &["rootfs", "remove", "class"]));
    assert!(!other.join("rootfs/class").exists());
    assert!(std::fs::read_dir(other.join("rootfs")).unwrap().next().is_none(), "remove leaves nothing");
}

#[test]
fn rootfs_mistakes_are_one_sentence() {
    let Some(t) = root_test("rootfs_mistakes_are_one_sentence") else { return };
    for (args, code, expect) in [
        (vec!["rootfs", "fetch", "debian"], 2, "unknown root filesystem kind 'debian'"),
        (vec!["rootfs", "remove", "nope"], 1, "no root filesystem called nope"),
        (vec!["rootfs", "import", "/nonexistent/x.tar"], 1, "nothing exists at /nonexistent/x.tar"),
        (vec!["rootfs", "export", "/tmp/learnctr-never.tar.gz"], 1, "no root filesystem to export yet"),
        (vec!["lesson", "2", "--yes", "--rootfs", "nope"], 1, "no root filesystem called nope"),
    ] {
        let out = rootfs_cmd(t.path(), &args).output().unwrap();
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
    assert!(!std::path::Path::new("/tmp/learnctr-never.tar.gz").exists());
}

#[test]
fn without_root_list_works_and_fetch_says_sudo() {
    let dir = tempfile::tempdir().unwrap();
    let mut list = rootfs_cmd(dir.path(), &["rootfs", "list"]);
    let mut fetch = rootfs_cmd(dir.path(), &["rootfs", "fetch", "busybox"]);
    if is_root() {
        use std::os::unix::process::CommandExt;
        list.uid(65534).gid(65534);
        fetch.uid(65534).gid(65534);
    }
    assert!(list.output().unwrap().status.success());
    let out = fetch.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("sudo"), "{}", text(&out).1);
}
