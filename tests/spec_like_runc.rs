//! `learnctr spec` writes what the installed `runc spec` writes, field by field: the
//! lessons teach runc's default config.json through it, so any difference is a lie
//! in lesson 8 (oci-spec's `Spec::default()` is not `runc spec`: it has a terminal
//! off, an inheritable set and a cgroup namespace on every host).

mod common;

use common::*;

#[test]
fn learnctr_spec_is_runc_spec() {
    if !runc_available() {
        assert!(std::env::var("CI").ok().as_deref() != Some("true"), "CI=true but runc is not installed");
        eprintln!("SKIPPED learnctr_spec_is_runc_spec: runc is not installed (`make deps` installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = (dir.path().join("learnctr"), dir.path().join("runc"));
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::create_dir_all(&theirs).unwrap();
    let out = learnctr(&["spec", "--bundle", ours.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let status = std::process::Command::new("runc").arg("spec").current_dir(&theirs).status().unwrap();
    assert!(status.success());
    let read = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p.join("config.json")).unwrap()).unwrap()
    };
    let (ours, theirs) = (read(&ours), read(&theirs));
    // runc spec's version string is its own ("1.0.2-dev" for runc 1.1); a capability
    // set is a set (oci-spec keeps it in a HashSet); runc spec's ambient names, which
    // the kernel never raises, are the one difference learnctr makes on purpose (see
    // runtime/spec.rs); the rest is equal, order and all.
    let ambient = theirs.pointer("/process/capabilities/ambient").cloned();
    assert_eq!(ambient, theirs.pointer("/process/capabilities/bounding").cloned(), "runc spec's ambient set changed");
    assert!(ours.pointer("/process/capabilities/ambient").is_none(), "{ours:#}");
    let mut theirs = theirs;
    theirs.pointer_mut("/process/capabilities").unwrap().as_object_mut().unwrap().remove("ambient");
    let without_version = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("ociVersion");
        if let Some(sets) = v.pointer_mut("/process/capabilities").and_then(|c| c.as_object_mut()) {
            for set in sets.values_mut() {
                set.as_array_mut().unwrap().sort_by_key(|c| c.to_string());
            }
        }
        v
    };
    assert_eq!(
        without_version(ours.clone()),
        without_version(theirs.clone()),
        "learnctr spec:\n{ours:#}\nrunc spec:\n{theirs:#}"
    );
}
