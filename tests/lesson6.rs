//! Lesson 6 as root: every denied operation fails with the errno the kernel gives for
//! a missing capability, the kept ones work, the seccomp filter denies while root,
//! the setuid helper gains nothing under no_new_privs; nothing is left behind.

mod common;

use common::*;

/// sets 1, drop 4, denied 6, docker 6, addback 1, nnp 4, seccomp 6 (+1 on x86_64: the
/// x32 guard), order 3.
const LESSON6_CHECKS: usize = if cfg!(target_arch = "x86_64") { 33 } else { 32 };

#[test]
fn lesson6_proves_what_root_may_still_do() {
    let Some(t) = root_test("lesson6_proves_what_root_may_still_do") else { return };
    let out = learnctr(&["lesson", "6", "--yes"]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.matches('✓').count(), LESSON6_CHECKS, "{stdout}");
    assert!(!stdout.contains('✗') && !stdout.contains('⟦'), "{stdout}");
    // The calls themselves, with the kernel's answers, from the primitives.
    for line in [
        "prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) = 0",
        "capset({_LINUX_CAPABILITY_VERSION_3, 0}, {effective=CAP_KILL|CAP_NET_BIND_SERVICE|CAP_AUDIT_WRITE",
        "sethostname(\"inside\", 6) = -1 EPERM",
        "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) = -1 EPERM",
        "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0",
        "seccomp(SECCOMP_SET_MODE_FILTER, 0, {len=",
        "unshare(CLONE_NEWUTS) = -1 EPERM",
        "keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0) = -1 EPERM",
    ] {
        assert!(stdout.contains(line), "trace lacks {line}\n{stdout}");
    }
    t.assert_same_host("after lesson 6");
}
