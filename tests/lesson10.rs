//! Lesson 10, the finale, as root, in the three languages: every earlier lesson's
//! claim proved again on one container, the comparison with runc, nothing left behind.

mod common;

use common::*;

/// bundle 3, create 9, privileges 3 (+1 where the kernel lets a process without
/// CAP_SYS_ADMIN make a user namespace), network 3, runc 1 (when installed), built 1.
fn expected_checks() -> usize {
    let read = |p: &str| std::fs::read_to_string(p).map(|v| v.trim().to_string()).ok();
    let restricted = read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0")
        || read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
        || read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0");
    19 + usize::from(!restricted) + usize::from(runc_available())
}

fn run_lesson10(lang: &str, title: &str) {
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(dir.path());
    let before = host_state();
    let out =
        learnctr(&["--lang", lang, "lesson", "10", "--yes", "--rootfs", rootfs.to_str().unwrap()]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{lang}: {stdout}\n{stderr}");
    assert_eq!(stdout.matches('✓').count(), expected_checks(), "{lang}: {stdout}");
    assert!(!stdout.contains('✗'), "{lang}: {stdout}");
    assert!(!stdout.contains('⟦'), "{lang}: a text is missing: {stdout}");
    assert!(stdout.contains(title), "{lang}: not in its language: {stdout}");
    // The runtime's calls are in the trace: the overlay, the pivot, the capabilities.
    for call in ["mount(\"overlay\"", "pivot_root(\".\", \".\") = 0", "capset("] {
        assert!(stdout.contains(call), "{lang}: trace lacks {call}\n{stdout}");
    }
    assert_same_host(&before, &host_state(), &format!("after lesson 10 in {lang}"));
}

#[test]
fn lesson10_in_english() {
    if require_root("lesson10_in_english") {
        run_lesson10("en", "Lesson 10");
    }
}

#[test]
fn lesson10_in_italian() {
    if require_root("lesson10_in_italian") {
        run_lesson10("it", "Lezione 10");
    }
}

#[test]
fn lesson10_in_portuguese() {
    if require_root("lesson10_in_portuguese") {
        run_lesson10("pt", "Lição 10");
    }
}
