//! One known-bad setup per lesson, as root: a root filesystem that lacks what a step
//! relies on, or a host whose state the step must notice. Each one must turn a named
//! claim to ✗, make the lesson exit 1 with its "checks failed" sentence, and leave
//! the host as it was; a check that is always true fails here.
//!
//! Lesson 9's is in tests/lesson9.rs (a rootfs without /etc/hostname: ✗ on the
//! whiteout claim). Each test runs the one step concerned (`--step`), to stay short.
//!
//! Where it can, a host condition is made where the real host never sees it: a mount
//! or a network sysctl in a namespace of learnctr's own, made just before learnctr
//! starts (`pre_exec`). The others (a SysV segment, a cgroup, a directory in /tmp)
//! are removed by a guard before the host is compared.

mod common;

use common::*;
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `learnctr lesson N --step K --yes [--rootfs R]`.
fn lesson_step(lesson: &str, step: &str, rootfs: Option<&Path>) -> Command {
    let mut args = vec!["lesson", lesson, "--step", step, "--yes"];
    if let Some(r) = rootfs {
        args.extend(["--rootfs", r.to_str().unwrap()]);
    }
    learnctr(&args)
}

/// The claim is shown failed, and the lesson ends as a failed lesson does: exit 1,
/// and the sentence that counts the failed checks.
fn assert_claim_fails(out: &Output, claim: &str, setup: &str) {
    let (stdout, stderr) = text(out);
    assert!(stdout.contains(&format!("✗ {claim}")), "{setup}: the claim {claim:?} is not marked ✗\n{stdout}\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "{setup}: the lesson's exit\n{stdout}\n{stderr}");
    assert!(stderr.contains("checks failed:"), "{setup}: the failure is not said\n{stderr}");
}

/// In the child, before it becomes learnctr: a mount namespace of its own, private, so
/// whatever is mounted next never reaches the host. (After the fork nothing may
/// allocate: a failure is the bare errno, which `spawn` returns.)
fn own_private_mount_namespace() -> std::io::Result<()> {
    // SAFETY: plain system calls with constant arguments, in the child after fork.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let flags = libc::MS_REC | libc::MS_PRIVATE;
        if libc::mount(std::ptr::null(), c"/".as_ptr(), std::ptr::null(), flags, std::ptr::null()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `mount(source, target, fstype, flags)` in the child; the strings are made before
/// the fork (no allocation after it).
fn mount(source: &CString, target: &CString, fstype: Option<&CString>, flags: libc::c_ulong) -> std::io::Result<()> {
    let fstype = fstype.map_or(std::ptr::null(), |f| f.as_ptr());
    // SAFETY: valid C strings that outlive the call.
    if unsafe { libc::mount(source.as_ptr(), target.as_ptr(), fstype, flags, std::ptr::null()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn c_path(p: &Path) -> CString {
    CString::new(p.to_str().unwrap()).unwrap()
}

/// Lesson 1, ipc: a host that already holds a System V segment with the lesson's key
/// (0x1ea4, as a program of the learner's might). The step makes its segment inside a
/// new IPC namespace as always, but "on the host, there is no such segment" is ✗.
#[test]
fn lesson1_a_host_segment_with_the_lessons_key_is_seen() {
    if !require_root("lesson1_a_host_segment_with_the_lessons_key_is_seen") {
        return;
    }
    let _one = serial();
    let before = host_state();
    /// Removes the segment when the test ends, passed or not.
    struct Segment(libc::c_int);
    impl Drop for Segment {
        fn drop(&mut self) {
            // SAFETY: IPC_RMID of a segment id this test made.
            unsafe { libc::shmctl(self.0, libc::IPC_RMID, std::ptr::null_mut()) };
        }
    }
    // SAFETY: shmget with integer arguments; IPC_EXCL refuses a segment that exists.
    let id = unsafe { libc::shmget(0x1ea4, 4096, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
    assert!(id >= 0, "cannot make the host's segment 0x1ea4: {}", std::io::Error::last_os_error());
    let segment = Segment(id);
    let out = lesson_step("1", "4", None).output().unwrap();
    drop(segment);
    assert_claim_fails(&out, "on the host, there is no such segment", "a host segment 0x1ea4");
    assert_same_host(&before, &host_state(), "after lesson 1 with a host segment 0x1ea4");
}

/// Lesson 2, escape: a root filesystem whose /tmp is a symlink to its own /. The
/// escape chroots into "/tmp", which is then the root itself, so the climb has
/// nowhere to go and "/ is the host's real /" is ✗.
#[test]
fn lesson2_no_escape_through_a_tmp_that_is_the_root() {
    if !require_root("lesson2_no_escape_through_a_tmp_that_is_the_root") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(dir.path());
    std::fs::remove_dir(rootfs.join("tmp")).unwrap();
    std::os::unix::fs::symlink("/", rootfs.join("tmp")).unwrap();
    let before = host_state();
    let out = lesson_step("2", "2", Some(&rootfs)).output().unwrap();
    assert_claim_fails(&out, "after the escape, / is the host's real / (same device and inode)", "/tmp → /");
    assert_same_host(&before, &host_state(), "after lesson 2 with /tmp → /");
}

/// Lesson 3, pivot: something mounted inside the root filesystem before the lesson
/// (here a tmpfs on its /mnt, in learnctr's own mount namespace). The recursive bind
/// carries it into the container, so "the only mounts are the rootfs and its /proc"
/// is ✗.
#[test]
fn lesson3_a_mount_inside_the_rootfs_is_seen() {
    if !require_root("lesson3_a_mount_inside_the_rootfs_is_seen") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(dir.path());
    std::fs::create_dir_all(rootfs.join("mnt")).unwrap();
    let (source, target, fstype) = (c"planted".to_owned(), c_path(&rootfs.join("mnt")), c"tmpfs".to_owned());
    let before = host_state();
    let mut cmd = lesson_step("3", "2", Some(&rootfs));
    // SAFETY: the closure makes system calls only, on strings made before the fork.
    unsafe {
        cmd.pre_exec(move || {
            own_private_mount_namespace()?;
            mount(&source, &target, Some(&fstype), 0)
        });
    }
    let out = cmd.output().expect("the setup before learnctr (pre_exec)");
    assert_claim_fails(&out, "inside, the only mounts are the rootfs and its /proc", "a tmpfs on ROOTFS/mnt");
    assert!(text(&out).0.contains("/mnt (tmpfs)"), "the planted mount is the one named\n{}", text(&out).0);
    assert_same_host(&before, &host_state(), "after lesson 3 with a mount inside the rootfs");
}

/// Lesson 4, dev: a host whose /dev/null is a regular file (what `rm /dev/null` then
/// a redirection as root leaves), made in learnctr's own mount namespace by binding
/// a file over it. The container's /dev/null is bound from the host's, so "/dev/null
/// is the character device 1:3" is ✗.
#[test]
fn lesson4_a_host_dev_null_that_is_a_file_is_seen() {
    if !require_root("lesson4_a_host_dev_null_that_is_a_file_is_seen") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(dir.path());
    let file = dir.path().join("not-a-device");
    std::fs::write(&file, "").unwrap();
    let (source, target) = (c_path(&file), c"/dev/null".to_owned());
    let before = host_state();
    let mut cmd = lesson_step("4", "3", Some(&rootfs));
    // SAFETY: the closure makes system calls only, on strings made before the fork.
    unsafe {
        cmd.pre_exec(move || {
            own_private_mount_namespace()?;
            mount(&source, &target, None, libc::MS_BIND)
        });
    }
    let out = cmd.output().expect("the setup before learnctr (pre_exec)");
    assert_claim_fails(&out, "inside, /dev/null is the character device 1:3", "a /dev/null that is a file");
    assert_same_host(&before, &host_state(), "after lesson 4 with a /dev/null that is a file");
}

/// The directory of learnctr's parent cgroup in the pids hierarchy.
fn learnctr_pids_parent() -> PathBuf {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        PathBuf::from("/sys/fs/cgroup/learnctr")
    } else {
        PathBuf::from("/sys/fs/cgroup/pids/learnctr")
    }
}

/// Lesson 5, pids: a `learnctr` parent cgroup already there with pids.max = 5 (an
/// administrator's cap, or an old one). The step's own cgroup says 20, but the
/// parent's limit stops the bomb first, so "the bomb was stopped with exactly
/// pids.max processes" is ✗.
#[test]
fn lesson5_a_tighter_parent_limit_is_seen() {
    if !require_root("lesson5_a_tighter_parent_limit_is_seen") {
        return;
    }
    let _one = serial();
    let parent = learnctr_pids_parent();
    assert!(!parent.exists(), "{} exists before the test", parent.display());
    let before = host_state();
    /// Removes the parent cgroup when the test ends (the lesson may have already).
    struct Parent(PathBuf);
    impl Drop for Parent {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    std::fs::create_dir(&parent).unwrap();
    let guard = Parent(parent.clone());
    std::fs::write(parent.join("pids.max"), "5").unwrap();
    let out = lesson_step("5", "5", None).output().unwrap();
    drop(guard);
    assert_claim_fails(&out, "the bomb was stopped with exactly pids.max processes in the cgroup", "pids.max 5 above");
    assert_same_host(&before, &host_state(), "after lesson 5 under a tighter parent");
}

/// Lesson 6, nnp: learnctr started with no_new_privs already set (as under systemd's
/// NoNewPrivileges= or `docker run --security-opt no-new-privileges`). It is
/// inherited and cannot be undone, so the container "without" it has it too, and
/// "without no_new_privs, the setuid program runs as root" is ✗.
#[test]
fn lesson6_an_inherited_no_new_privs_is_seen() {
    if !require_root("lesson6_an_inherited_no_new_privs_is_seen") {
        return;
    }
    let _one = serial();
    let before = host_state();
    let mut cmd = lesson_step("6", "6", None);
    // SAFETY: one prctl with constant arguments, in the child after fork.
    unsafe {
        cmd.pre_exec(|| match libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        });
    }
    let out = cmd.output().expect("the setup before learnctr (pre_exec)");
    assert_claim_fails(&out, "without no_new_privs, the setuid program runs as root (euid 0)", "no_new_privs set");
    assert_same_host(&before, &host_state(), "after lesson 6 under no_new_privs");
}

/// Lesson 7, veth: a host that ignores echo requests (net.ipv4.icmp_echo_ignore_all =
/// 1, as some hardened hosts set). learnctr runs in a network namespace of its own,
/// which is its "host" and the one with the setting. The container's pings to the
/// host get no reply, so "the container reaches the host" is ✗.
#[test]
fn lesson7_a_host_that_ignores_pings_is_seen() {
    if !require_root("lesson7_a_host_that_ignores_pings_is_seen") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(dir.path());
    let sysctl = c"/proc/sys/net/ipv4/icmp_echo_ignore_all".to_owned();
    let before = host_state();
    let mut cmd = lesson_step("7", "2", Some(&rootfs));
    // SAFETY: system calls only, on a string made before the fork; the sysctl is the
    // new namespace's own (/proc/sys/net is read and written for the caller's).
    unsafe {
        cmd.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let fd = libc::open(sysctl.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let written = libc::write(fd, b"1".as_ptr().cast(), 1);
            libc::close(fd);
            match written {
                1 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    let out = cmd.output().expect("the setup before learnctr (pre_exec)");
    assert_claim_fails(&out, "the container reaches the host (three replies)", "icmp_echo_ignore_all = 1");
    assert_same_host(&before, &host_state(), "after lesson 7 with a host that ignores pings");
}

/// Lesson 8, http: a root filesystem with a shell and nothing else, so no web server
/// (the host's dynamically linked /bin/sh and its libraries). The container's program
/// cannot start httpd, so "the host gets the page: HTTP 200" is ✗.
#[test]
fn lesson8_a_rootfs_without_httpd_serves_nothing() {
    if !require_root("lesson8_a_rootfs_without_httpd_serves_nothing") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dynamic_rootfs(dir.path());
    let before = host_state();
    let out = lesson_step("8", "6", Some(&rootfs)).output().unwrap();
    assert_claim_fails(&out, "the host gets the page: HTTP 200", "a rootfs without httpd");
    assert_same_host(&before, &host_state(), "after lesson 8 without httpd");
}

/// Lesson 10, built: a bundle directory left in /tmp by an earlier run that was killed
/// (`learnctr-lesson10-…`). The last step looks for what the lesson leaves, so
/// "nothing this lesson made is left" is ✗.
#[test]
fn lesson10_a_bundle_left_by_an_earlier_run_is_seen() {
    if !require_root("lesson10_a_bundle_left_by_an_earlier_run_is_seen") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(dir.path());
    let before = host_state();
    /// Removes the planted directory when the test ends.
    struct Left(PathBuf);
    impl Drop for Left {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let left = Left(std::env::temp_dir().join(format!("learnctr-lesson10-built-{}", std::process::id())));
    std::fs::create_dir(&left.0).unwrap();
    let out = lesson_step("10", "6", Some(&rootfs)).output().unwrap();
    drop(left);
    let claim = "nothing this lesson made is left: no cgroup, interface, bundle or container state";
    assert_claim_fails(&out, claim, "a bundle left in /tmp");
    assert_same_host(&before, &host_state(), "after lesson 10 with a bundle left in /tmp");
}

/// Lesson 11, calls: a root filesystem whose /bin/sh is a symlink to nothing. The
/// lesson accepts it (there is a bin/sh), Podman imports it, and the container's
/// `sh -c` cannot run, so "the container's output came back through Podman" is ✗.
#[test]
fn lesson11_a_rootfs_whose_sh_is_missing_prints_nothing() {
    if !require_root("lesson11_a_rootfs_whose_sh_is_missing_prints_nothing") {
        return;
    }
    let found = std::process::Command::new("podman").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but podman is not installed");
        eprintln!("SKIPPED lesson11_a_rootfs_whose_sh_is_missing_prints_nothing: podman is not installed");
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(dir.path());
    std::fs::remove_file(rootfs.join("bin/sh")).unwrap();
    std::os::unix::fs::symlink("/bin/no-such-shell", rootfs.join("bin/sh")).unwrap();
    let before = host_state();
    let out = lesson_step("11", "1", Some(&rootfs)).output().unwrap();
    assert_claim_fails(&out, "the container's output came back through Podman", "a dangling /bin/sh");
    assert_same_host(&before, &host_state(), "after lesson 11 with a dangling /bin/sh");
}
