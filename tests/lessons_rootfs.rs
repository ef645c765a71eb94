//! Lessons 2 to 4 as root, on a BusyBox rootfs and on one whose /bin/sh is dynamically
//! linked: every check passes, the host's mount table is the same before, during
//! (while a step holds) and after, and nothing remains in /run/learnctr.

mod common;

use common::*;
use nix::sys::signal::Signal;
use std::path::Path;
use std::process::Command;

/// (lesson, checks it proves, a step to hold at while the test looks from the host)
const LESSONS: [(&str, usize, &str); 3] = [("2", 6, "escape"), ("3", 10, "pivot"), ("4", 12, "sys")];

fn run_lesson(lesson: &str, rootfs: &Path, lang: &str) -> (String, String) {
    let out =
        learnctr(&["lesson", lesson, "--yes", "--lang", lang, "--rootfs", rootfs.to_str().unwrap()]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "lesson {lesson} on {} failed:\n{stdout}\n{stderr}", rootfs.display());
    (stdout, stderr)
}

fn check_lessons_on(rootfs: &Path) {
    for (lesson, checks, hold) in LESSONS {
        let before = host_state();
        let (stdout, _) = run_lesson(lesson, rootfs, "en");
        assert_eq!(stdout.matches('✓').count(), checks, "lesson {lesson}:\n{stdout}");
        assert!(!stdout.contains('✗') && !stdout.contains('⟦'), "lesson {lesson}:\n{stdout}");
        assert_same_host(&before, &host_state(), &format!("after lesson {lesson}"));

        // During: hold the lesson at a step with its container alive, look from outside.
        let child = start_held(&["lesson", lesson, "--yes", "--rootfs", rootfs.to_str().unwrap()], hold);
        let during = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert_eq!(before.mountinfo, during, "lesson {lesson}: the host's mount table changed during step {hold}");
        signal(&child, Signal::SIGINT);
        let mut child = child;
        assert_eq!(child.wait().unwrap().code(), Some(130));
        assert_same_host(&before, &host_state(), &format!("after lesson {lesson} was interrupted"));
    }
}

#[test]
fn lessons_2_to_4_on_busybox() {
    let Some(t) = root_test("lessons_2_to_4_on_busybox") else { return };
    check_lessons_on(&t.busybox());
}

#[test]
fn lessons_2_to_4_on_a_dynamically_linked_shell() {
    let Some(t) = root_test("lessons_2_to_4_on_a_dynamically_linked_shell") else { return };
    check_lessons_on(&dynamic_rootfs(t.path()));
}

#[test]
fn lessons_2_to_4_in_italian_and_portuguese() {
    let Some(t) = root_test("lessons_2_to_4_in_italian_and_portuguese") else { return };
    let rootfs = t.busybox();
    for lang in ["it", "pt"] {
        for (lesson, checks, _) in LESSONS {
            let (stdout, _) = run_lesson(lesson, &rootfs, lang);
            assert_eq!(stdout.matches('✓').count(), checks, "lesson {lesson} {lang}");
            assert!(!stdout.contains('⟦'), "lesson {lesson} {lang}: missing text");
        }
    }
}

/// One sentence and a non-zero exit for each kind of unusable root filesystem.
#[test]
fn a_bad_rootfs_is_one_sentence() {
    let Some(t) = root_test("a_bad_rootfs_is_one_sentence") else { return };
    let empty = t.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let no_shell = t.path().join("no-shell");
    std::fs::create_dir_all(no_shell.join("etc")).unwrap();
    let file = t.path().join("file");
    std::fs::write(&file, "x").unwrap();
    for (path, expect) in [
        (t.path().join("missing"), "nothing exists at"),
        (empty, "has no bin/sh"),
        (no_shell, "has no bin/sh"),
        (file, "is not a directory"),
    ] {
        let out = learnctr(&["lesson", "2", "--yes", "--rootfs", path.to_str().unwrap()]).output().unwrap();
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", path.display());
        assert!(stderr.contains(expect), "{}: {stderr}", path.display());
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    assert!(Path::new("/run/learnctr").read_dir().is_err(), "state left in /run/learnctr");
}

/// A rootfs on a read-only path, without /proc: made read-only inside a private mount
/// namespace of the test's own, so the host never sees the mount.
#[test]
fn a_read_only_rootfs_is_one_sentence() {
    let Some(t) = root_test("a_read_only_rootfs_is_one_sentence") else { return };
    let ro = t.path().join("ro");
    std::fs::create_dir_all(ro.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", ro.join("bin/sh")).unwrap();
    let script = format!(
        "mount --make-rprivate / && mount --bind {ro} {ro} && mount -o remount,bind,ro {ro} && exec {bin} lesson 2 --yes --rootfs {ro}",
        ro = ro.display(),
        bin = bin().display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8")
        .env("LEARNCTR_PROGRESS_FILE", progress_file())
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("read-only path"), "{stderr}");
}
