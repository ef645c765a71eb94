//! learnctr as an OCI runtime, as root: the lifecycle as runc names it, exit codes,
//! limits, a named network namespace, exec, hooks in order with the state on stdin;
//! every container leaves nothing behind. Bundles are made with `learnctr spec` on a
//! BusyBox root filesystem.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// A bundle in `dir` running `args`, with `edit` applied to its config.json.
fn bundle(dir: &Path, args: &[&str], edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let b = dir.join("bundle");
    std::fs::create_dir_all(&b).unwrap();
    let rootfs = busybox_rootfs(dir);
    std::fs::rename(&rootfs, b.join("rootfs")).unwrap();
    let out = learnctr(&["spec", "--bundle", b.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let path = b.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = args.iter().map(|a| serde_json::Value::from(*a)).collect();
    edit(&mut config);
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    b
}

fn rt(root: &Path, args: &[&str]) -> std::process::Output {
    let mut full = vec!["--root", root.to_str().unwrap()];
    full.extend_from_slice(args);
    learnctr(&full).output().unwrap()
}

/// `create` with stdio that does not wait for the container: the container inherits
/// it (as with runc), so a captured pipe would stay open until the container exits.
fn create(root: &Path, bundle: &Path, extra: &[&str], id: &str) -> std::process::ExitStatus {
    let mut args = vec!["--root", root.to_str().unwrap(), "create", "--bundle", bundle.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(id);
    let log = std::fs::File::create(root.with_extension("log")).unwrap();
    learnctr(&args).stdout(std::process::Stdio::null()).stderr(log).status().unwrap()
}

fn status_of(root: &Path, id: &str) -> String {
    let out = rt(root, &["state", id]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["status"].as_str().unwrap_or("").to_string()
}

#[test]
fn the_lifecycle_as_runc_names_it() {
    if !require_root("the_lifecycle_as_runc_names_it") {
        return;
    }
    let _one = serial();
    let before = host_state();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("state");
    let b = bundle(dir.path(), &["sleep", "60"], |_| {});
    let pid_file = dir.path().join("pid");
    std::fs::create_dir_all(&root).unwrap();
    let created = create(&root, &b, &["--pid-file", pid_file.to_str().unwrap()], "c1");
    assert!(created.success(), "{}", std::fs::read_to_string(root.with_extension("log")).unwrap_or_default());
    let state: serde_json::Value = serde_json::from_slice(&rt(&root, &["state", "c1"]).stdout).unwrap();
    assert_eq!(state["status"], "created");
    assert_eq!(state["ociVersion"], "1.0.2");
    assert_eq!(state["id"], "c1");
    assert_eq!(state["pid"].as_i64().unwrap().to_string(), std::fs::read_to_string(&pid_file).unwrap());
    assert!(rt(&root, &["start", "c1"]).status.success());
    assert_eq!(status_of(&root, "c1"), "running");
    let exec = rt(&root, &["exec", "c1", "sh", "-c", "hostname; echo $$"]);
    assert_eq!(text(&exec).0, "runc\n2\n", "exec runs in the container's uts and pid namespaces");
    let refused = rt(&root, &["delete", "c1"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused).1.contains("--force"), "{}", text(&refused).1);
    assert!(rt(&root, &["kill", "c1", "KILL"]).status.success());
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(status_of(&root, "c1"), "stopped");
    assert!(rt(&root, &["delete", "c1"]).status.success());
    assert!(!root.join("c1").exists());
    assert_same_host(&before, &host_state(), "after the lifecycle");
}

#[test]
fn run_passes_exit_codes_through() {
    if !require_root("run_passes_exit_codes_through") {
        return;
    }
    let _one = serial();
    let before = host_state();
    for (args, code) in [(vec!["true"], 0), (vec!["false"], 1), (vec!["sh", "-c", "exit 7"], 7)] {
        let dir = tempfile::tempdir().unwrap();
        let b = bundle(dir.path(), &args, |_| {});
        let out = rt(&dir.path().join("state"), &["run", "--bundle", b.to_str().unwrap(), "r1"]);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {:?}", text(&out));
    }
    assert_same_host(&before, &host_state(), "after run");
}

#[test]
fn memory_and_pids_limits_are_enforced() {
    if !require_root("memory_and_pids_limits_are_enforced") {
        return;
    }
    let _one = serial();
    let before = host_state();
    let dir = tempfile::tempdir().unwrap();
    // 32 MiB of memory; dd's 128 MiB buffer goes over it and the kernel kills dd.
    let b = bundle(
        dir.path(),
        &["sh", "-c", "dd if=/dev/zero of=/dev/null bs=128M count=1 2>/dev/null; echo dd=$?"],
        |c| {
            c["linux"]["resources"]["memory"] = serde_json::json!({"limit": 33554432});
        },
    );
    let out = rt(&dir.path().join("state"), &["run", "--bundle", b.to_str().unwrap(), "m1"]);
    assert_eq!(text(&out).0.trim(), "dd=137", "{:?}", text(&out));
    // pids.max 6: a loop that starts 20 sleeps; the shell's sixth fork is refused
    // (busybox sh then gives up), and the kernel counts the refusal in pids.events.
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(
        dir.path(),
        &["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 30 & done; sleep 30"],
        |c| {
            c["linux"]["resources"]["pids"] = serde_json::json!({"limit": 6});
        },
    );
    let root = dir.path().join("state");
    std::fs::create_dir_all(&root).unwrap();
    assert!(create(&root, &b, &[], "p1").success());
    assert!(rt(&root, &["start", "p1"]).status.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join("p1/state.json")).unwrap()).unwrap();
    let pids_dir = state["cgroup_dirs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| std::path::PathBuf::from(d.as_str().unwrap()))
        .find(|d| d.join("pids.max").exists())
        .unwrap();
    let limit = std::fs::read_to_string(pids_dir.join("pids.max")).unwrap();
    let events = std::fs::read_to_string(pids_dir.join("pids.events")).unwrap();
    assert!(rt(&root, &["delete", "--force", "p1"]).status.success());
    assert_eq!(limit.trim(), "6");
    let refused: u32 = events.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(refused >= 1, "pids.events counts the refused fork: {events}");
    assert!(std::fs::read_to_string(root.with_extension("log")).unwrap().contains("can't fork"));
    assert_same_host(&before, &host_state(), "after the limits");
}

#[test]
fn a_named_network_namespace_is_joined() {
    if !require_root("a_named_network_namespace_is_joined") {
        return;
    }
    let _one = serial();
    let before = host_state();
    let name = format!("learnctr-test-{}", std::process::id());
    let path =
        std::process::Command::new(bin()).arg("__never").output().ok().map(|_| format!("/run/netns/{name}")).unwrap();
    // Made with `ip netns add` semantics by a tiny helper: unshare + bind mount.
    let made = std::process::Command::new("unshare")
        .args([
            "--net",
            "sh",
            "-c",
            &format!("mkdir -p /run/netns; touch {path}; mount --bind /proc/self/ns/net {path}"),
        ])
        .status()
        .unwrap();
    assert!(made.success());
    let inode = std::fs::metadata(&path).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = path.clone();
    let b = bundle(dir.path(), &["sh", "-c", "readlink /proc/self/ns/net"], move |c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        for n in ns.iter_mut() {
            if n["type"] == "network" {
                n["path"] = p.clone().into();
            }
        }
    });
    let out = rt(&dir.path().join("state"), &["run", "--bundle", b.to_str().unwrap(), "n1"]);
    let _ = std::process::Command::new("umount").arg(&path).status();
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir("/run/netns");
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(text(&out).0.trim(), format!("net:[{inode}]"));
    assert_same_host(&before, &host_state(), "after joining a named netns");
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    if !require_root("hooks_run_in_order_with_the_state_on_stdin") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hooks.log");
    let hook = |name: &str| serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", format!("read -r s; echo \"{name} $s\" >> {}", log.display())]});
    let b = bundle(dir.path(), &["true"], |c| {
        c["hooks"] = serde_json::json!({
            "createRuntime": [hook("createRuntime")],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        });
    });
    let out = rt(&dir.path().join("state"), &["run", "--bundle", b.to_str().unwrap(), "h1"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let lines: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(str::to_string).collect();
    let order: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(order, ["createRuntime", "poststart", "poststop"], "{lines:?}");
    for (line, status) in lines.iter().zip(["created", "running", "stopped"]) {
        let json: serde_json::Value = serde_json::from_str(line.split_once(' ').unwrap().1).unwrap();
        assert_eq!(json["status"], status, "{line}");
        assert_eq!(json["id"], "h1");
    }
}

#[test]
fn malformed_bundles_are_one_sentence_and_leave_nothing() {
    if !require_root("malformed_bundles_are_one_sentence_and_leave_nothing") {
        return;
    }
    let _one = serial();
    let before = host_state();
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path(), &["true"], |_| {});
    let config = b.join("config.json");
    let good = std::fs::read_to_string(&config).unwrap();
    let root = dir.path().join("state");
    for (broken, expect) in [
        (good.replacen("{", "{,", 1), "line 1, column 2"),
        (good.replace("\"path\": \"rootfs\"", "\"path\": \"../rootfs\""), "leaves the bundle"),
        (good.replace("\"path\": \"rootfs\"", "\"path\": \"nowhere\""), "does not exist"),
        (good.replace("\"type\": \"uts\"", "\"type\": \"utsx\""), "utsx"),
    ] {
        std::fs::write(&config, broken).unwrap();
        let out = rt(&root, &["create", "--bundle", b.to_str().unwrap(), "bad"]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expect), "expected {expect:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(!root.join("bad").exists(), "state left behind");
    }
    assert_same_host(&before, &host_state(), "after malformed bundles");
}
