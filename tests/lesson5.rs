//! Lesson 5 as root, on whatever cgroup layout this machine has (CI runs this file
//! on the hybrid host and again in a pure cgroup v2 VM): every check passes, and no
//! learnctr cgroup is left in any hierarchy — after the lesson, and after SIGKILL
//! mid-lesson followed by `learnctr cleanup`.

mod common;

use common::*;
use nix::sys::signal::Signal;

fn pure_v2() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains(" /sys/fs/cgroup ") && l.contains(" - cgroup2 "))
}

#[test]
fn lesson5_proves_every_limit() {
    let Some(t) = root_test("lesson5_proves_every_limit") else { return };
    let out = learnctr(&["lesson", "5", "--yes"]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // v2 adds two checks: the parent's delegation and the "no internal processes" rule.
    let expected = if pure_v2() { 19 } else { 17 };
    assert_eq!(stdout.matches('✓').count(), expected, "{stdout}");
    assert!(!stdout.contains('✗'), "{stdout}");
    for counter in ["oom_kill", "nr_throttled", "pids.events max", "EAGAIN"] {
        assert!(stdout.contains(counter), "the lesson shows {counter}:\n{stdout}");
    }
    t.assert_same_host("after lesson 5");
}

#[test]
fn sigkill_mid_lesson5_then_cleanup_leaves_no_cgroup() {
    let Some(t) = root_test("sigkill_mid_lesson5_then_cleanup_leaves_no_cgroup") else { return };
    let mut child = start_held(&["lesson", "5", "--yes"], "memory");
    assert!(!host_state().cgroups.is_empty(), "the memory step's cgroup exists while it holds");
    signal(&child, Signal::SIGKILL);
    child.wait().unwrap();
    assert!(!host_state().cgroups.is_empty(), "SIGKILL leaves the cgroup for cleanup to find");
    let out = learnctr(&["cleanup"]).output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains("cgroup"), "{}", text(&out).0);
    t.assert_same_host("after SIGKILL and cleanup");
}
