//! Lesson 10, the finale, as root, in the three languages: every earlier lesson's
//! claim proved again on one container, the comparison with runc, nothing left behind.

mod common;

use common::*;

/// The kernel setting the lesson names when it skips the proof that seccomp refuses
/// a user namespace (`label.userns_restricted` in its texts: "kernel.x = 0"), if it
/// skipped it. Which settings forbid user namespaces is the lesson's knowledge
/// (`host::doctor`), not the test's: the test checks that the one named is so here.
fn userns_restriction_named(stdout: &str, lang: &str) -> Option<String> {
    let path = format!("{}/lessons/{lang}/10-finale.md", env!("CARGO_MANIFEST_DIR"));
    let texts = std::fs::read_to_string(&path).unwrap();
    let label = texts
        .lines()
        .find_map(|l| l.strip_prefix("label.userns_restricted = "))
        .unwrap_or_else(|| panic!("{path} has no label.userns_restricted"));
    let setting = stdout.lines().find_map(|l| l.trim_start().strip_prefix(label)?.strip_prefix(": "))?;
    let (name, value) = setting.split_once(" = ").unwrap_or_else(|| panic!("{lang}: not `name = value`: {setting}"));
    let file = format!("/proc/sys/{}", name.replace('.', "/"));
    let here = std::fs::read_to_string(&file).map(|v| v.trim().to_string()).unwrap_or_default();
    assert_eq!(here, value, "{lang}: the lesson skipped the userns proof for {setting}, but {file} says {here:?}");
    Some(setting.to_string())
}

/// bundle 3, create 9, privileges 3 (+1 where the kernel lets a process without
/// CAP_SYS_ADMIN make a user namespace), network 3, runc 1 (when installed), built 1.
fn expected_checks(stdout: &str, lang: &str) -> usize {
    19 + usize::from(userns_restriction_named(stdout, lang).is_none()) + usize::from(runc_available())
}

fn run_lesson10(t: &RootTest, lang: &str, title: &str) {
    let rootfs = t.busybox();
    let out =
        learnctr(&["--lang", lang, "lesson", "10", "--yes", "--rootfs", rootfs.to_str().unwrap()]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{lang}: {stdout}\n{stderr}");
    assert_eq!(stdout.matches('✓').count(), expected_checks(&stdout, lang), "{lang}: {stdout}");
    assert!(!stdout.contains('✗'), "{lang}: {stdout}");
    assert!(!stdout.contains('⟦'), "{lang}: a text is missing: {stdout}");
    assert!(stdout.contains(title), "{lang}: not in its language: {stdout}");
    // The runtime's calls are in the trace: the overlay, the pivot, the capabilities.
    for call in ["mount(\"overlay\"", "pivot_root(\".\", \".\") = 0", "capset("] {
        assert!(stdout.contains(call), "{lang}: trace lacks {call}\n{stdout}");
    }
    t.assert_same_host(&format!("after lesson 10 in {lang}"));
}

#[test]
fn lesson10_in_english() {
    let Some(t) = root_test("lesson10_in_english") else { return };
    run_lesson10(&t, "en", "Lesson 10");
}

#[test]
fn lesson10_in_italian() {
    let Some(t) = root_test("lesson10_in_italian") else { return };
    run_lesson10(&t, "it", "Lezione 10");
}

#[test]
fn lesson10_in_portuguese() {
    let Some(t) = root_test("lesson10_in_portuguese") else { return };
    run_lesson10(&t, "pt", "Lição 10");
}
