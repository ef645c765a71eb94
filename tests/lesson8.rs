//! Lesson 8 as root: the bundle, its fields, the mistakes refused, the lifecycle and
//! the init's checklist, all proved; nothing left behind.

mod common;

use common::*;

/// spec 2, fields 2, edit 2, lifecycle 2, checklist 6 (5 where this kernel has none of
/// the masked /proc files), http 3, and 1 for the comparison with runc when installed.
fn expected_checks() -> usize {
    let masked = ["/proc/kcore", "/proc/keys", "/proc/timer_list"].iter().any(|p| std::path::Path::new(p).exists());
    16 + usize::from(masked) + usize::from(runc_available())
}

#[test]
fn lesson8_runs_a_bundle_with_learnctrs_runtime() {
    let Some(t) = root_test("lesson8_runs_a_bundle_with_learnctrs_runtime") else { return };
    let rootfs = t.busybox();
    let out = learnctr(&["lesson", "8", "--yes", "--rootfs", rootfs.to_str().unwrap()]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.matches('✓').count(), expected_checks(), "{stdout}");
    assert!(!stdout.contains('✗'), "{stdout}");
    // The runtime's own calls are in the trace: the FIFO, the pivot, the exec.
    for call in ["mknod(", "S_IFIFO", "pivot_root(\".\", \".\") = 0", "openat(", "exec.fifo"] {
        assert!(stdout.contains(call), "trace lacks {call}\n{stdout}");
    }
    assert!(stdout.contains("line") && stdout.contains("column"), "{stdout}");
    assert!(stdout.contains("✓ the host gets the page: HTTP 200"), "{stdout}");
    if runc_available() {
        assert!(stdout.contains("✓ every line the two containers print is the same"), "{stdout}");
    }
    t.assert_same_host("after lesson 8");
}
