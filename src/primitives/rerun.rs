//! For unit tests that must see a kernel state the host may not have (a full bounding
//! set, a route table of their own): the test runs itself again under a wrapper such
//! as `unshare --user`, with a marker in its environment so it knows it is the rerun.

use std::process::Command;

/// Is this the rerun of a test (its marker is set)?
pub fn is_rerun(marker: &str) -> bool {
    std::env::var_os(marker).is_some()
}

/// Run unit test `test` (its path below the crate, e.g. `primitives::subnet::tests::x`)
/// of this test binary again under `wrapper`, with `marker` set; it must pass.
pub fn rerun_under(mut wrapper: Command, test: &str, marker: &str, under: &str) {
    let out = wrapper
        .arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--test-threads=1"])
        .env(marker, "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("1 passed"), "{under}: {stdout}\n{stderr}");
}
