//! The offline BusyBox root filesystem: built from the host's static busybox with no network,
//! and it really works as a root: a shell in `chroot` runs ps, hostname, ip and wget.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::require_root;
use rootfs_fetch::{Error, Preference, SourceKind, Store, REQUIRED_APPLETS};

fn store(dir: &Path) -> Store {
    // An unreachable base URL: nothing here may touch the network.
    Store::with_dirs(dir.join("cache"), dir.join("rootfs")).alpine_base_url("http://127.0.0.1:9")
}

#[test]
fn busybox_rootfs_is_built_offline_with_the_expected_layout() {
    let dir = tempfile::tempdir().unwrap();
    let rootfs = store(dir.path()).build_busybox(None).unwrap();
    assert_eq!(rootfs.name, "busybox");
    assert_eq!(rootfs.source, SourceKind::Busybox);
    let p = |rel: &str| rootfs.path.join(rel);

    for d in ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run", "var"] {
        assert!(fs::symlink_metadata(p(d)).unwrap().is_dir(), "{d}");
    }
    assert_eq!(fs::metadata(p("tmp")).unwrap().permissions().mode() & 0o7777, 0o1777);
    let bin = fs::symlink_metadata(p("bin/busybox")).unwrap();
    assert!(bin.is_file() && bin.permissions().mode() & 0o111 != 0);
    assert!(rootfs_fetch::is_static_elf(&p("bin/busybox")).unwrap());
    assert_eq!(fs::read_link(p("bin/sh")).unwrap(), Path::new("/bin/busybox"));
    assert_eq!(fs::read_link(p("sbin/ip")).unwrap(), Path::new("/bin/busybox"));
    for applet in REQUIRED_APPLETS {
        let found = ["bin", "sbin", "usr/bin", "usr/sbin"]
            .iter()
            .any(|d| fs::symlink_metadata(p(&format!("{d}/{applet}"))).is_ok());
        assert!(found, "applet {applet} missing");
    }
    let passwd = fs::read_to_string(p("etc/passwd")).unwrap();
    assert!(passwd.starts_with("root:x:0:0:") && passwd.contains("\nnobody:x:65534:"), "{passwd}");
    assert!(fs::read_to_string(p("etc/group")).unwrap().contains("root:x:0:"));
    assert_eq!(fs::read_to_string(p("etc/hostname")).unwrap().trim(), "learnctr");
    assert!(fs::read_to_string(p("etc/hosts")).unwrap().contains("127.0.0.1"));

    // It is listed, and ensure(Busybox) reuses it.
    let list = store(dir.path()).list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].source, SourceKind::Busybox);
    assert!(list[0].size > 500_000);
    assert_eq!(store(dir.path()).ensure(Preference::Busybox).unwrap().path, rootfs.path);
}

#[test]
fn busybox_rootfs_runs_in_chroot() {
    if !require_root("busybox_rootfs_runs_in_chroot") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rootfs = store(dir.path()).build_busybox(None).unwrap();
    let out = Command::new("/usr/sbin/chroot")
        .arg(&rootfs.path)
        .args(["/bin/sh", "-c", "ps; hostname; ip link; wget --help; echo done-$((6*7))"])
        .env_clear()
        .env("PATH", "/bin:/sbin:/usr/bin:/usr/sbin")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    assert!(stdout.contains("PID"), "ps printed no header:\n{stdout}");
    assert!(stdout.contains("lo:") || stdout.contains(": lo"), "ip link shows no loopback:\n{stdout}");
    assert!(stderr.contains("Usage: wget") || stdout.contains("Usage: wget"), "wget --help:\n{stdout}\n{stderr}");
    assert!(stdout.contains("done-42"), "{stdout}");
}

#[test]
fn a_dynamic_busybox_is_refused_and_nothing_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let err = store(dir.path()).build_busybox(Some(Path::new("/bin/ls"))).unwrap_err();
    assert!(matches!(err, Error::BusyboxNotStatic { .. }), "{err:?}");
    assert!(err.to_string().contains("apt-get install busybox-static"));
    let err = store(dir.path()).build_busybox(Some(Path::new("/nonexistent/busybox"))).unwrap_err();
    assert!(matches!(err, Error::PathNotFound { .. }), "{err:?}");
    assert!(common::names(&dir.path().join("rootfs")).is_empty());
}

#[test]
fn a_busybox_without_the_needed_applets_is_refused() {
    // A copy of the real static busybox named `true`: busybox picks the applet from its own
    // name, so `true --list-full` prints nothing and exits 0, like a build without applets.
    let Some(real) = ["/bin/busybox", "/usr/bin/busybox"].iter().map(Path::new).find(|p| p.exists()) else {
        eprintln!("skipping: no busybox");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("true");
    fs::copy(real, &fake).unwrap();
    let err = store(dir.path()).build_busybox(Some(&fake)).unwrap_err();
    assert!(matches!(err, Error::BusyboxMissingApplet { ref applet, .. } if applet == "sh"), "{err:?}");
    assert!(!dir.path().join("rootfs/busybox").exists());
}
