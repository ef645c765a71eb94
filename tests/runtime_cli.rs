//! The command line engines call, as root, against the kernel: `exec --process FILE
//! --detach --pid-file` (containerd's shim, conmon), `pause`/`resume` seen in the
//! freezer, `update` seen in the cgroup files, `ps --format json`, `kill` by number,
//! `--log-format json` lines, `features`, `--version`, and the error words engines
//! match on. Run here (v1 hybrid) and on the pure v2 VM.

mod common;

use common::*;
use std::path::Path;

fn status_of(root: &Path, id: &str) -> String {
    let v: serde_json::Value = serde_json::from_slice(&rt(root, &["state", id]).stdout).unwrap_or_default();
    v["status"].as_str().unwrap_or("").to_string()
}

/// The state of the container's first process as /proc says it (R, S, D, T...), and
/// whether the kernel reports it frozen in the cgroup.
fn frozen_in_kernel(pid: i32) -> bool {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    for line in cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if controllers.is_empty() {
            let events = std::fs::read_to_string(format!("/sys/fs/cgroup{path}/cgroup.events")).unwrap_or_default();
            if events.lines().any(|l| l == "frozen 1") {
                return true;
            }
        }
        if controllers.split(',').any(|c| c == "freezer") {
            let state =
                std::fs::read_to_string(format!("/sys/fs/cgroup/freezer{path}/freezer.state")).unwrap_or_default();
            return state.trim() == "FROZEN";
        }
    }
    false
}

/// Deletes the container when the test ends, also when it panics half-way: a failed
/// assertion must not leave a running container and its cgroups on the host.
struct Deleting<'a>(&'a Path, &'a str);

impl Drop for Deleting<'_> {
    fn drop(&mut self) {
        if self.0.join(self.1).exists() {
            let _ = rt(self.0, &["delete", "--force", self.1]);
        }
    }
}

fn pid_of(root: &Path, id: &str) -> i32 {
    let v: serde_json::Value = serde_json::from_slice(&rt(root, &["state", id]).stdout).unwrap();
    v["pid"].as_i64().unwrap() as i32
}

fn memory_limit(pid: i32) -> String {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    for line in cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if controllers.split(',').any(|c| c == "memory") {
            return std::fs::read_to_string(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")).unwrap();
        }
        if controllers.is_empty() && Path::new(&format!("/sys/fs/cgroup{path}/memory.max")).exists() {
            return std::fs::read_to_string(format!("/sys/fs/cgroup{path}/memory.max")).unwrap();
        }
    }
    panic!("no memory cgroup for {pid}: {cgroup}")
}

#[test]
fn what_engines_call_works_against_the_kernel() {
    let Some(t) = root_test("what_engines_call_works_against_the_kernel") else { return };
    let root = t.path().join("state");
    std::fs::create_dir_all(&root).unwrap();
    let b = bundle(t.path(), &["sleep", "60"], |c| {
        c["linux"]["resources"] = serde_json::json!({"memory": {"limit": 64 << 20}});
    });
    let _deleting = Deleting(&root, "e1");
    assert!(create(&root, &b, &[], "e1").success(), "{}", std::fs::read_to_string(root.with_extension("log")).unwrap());
    assert!(rt(&root, &["start", "e1"]).status.success());
    let pid = pid_of(&root, "e1");

    // exec as containerd's shim does it: a process.json, detached, a pid file.
    let process = t.path().join("process.json");
    let spec: serde_json::Value = serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    let mut p = spec["process"].clone();
    p["args"] = serde_json::json!(["sleep", "30"]);
    p["env"] = serde_json::json!(["PATH=/bin:/usr/bin", "FROM_FILE=yes"]);
    std::fs::write(&process, p.to_string()).unwrap();
    let pid_file = t.path().join("exec.pid");
    // Detached, the process keeps learnctr's stdio: null here, or `output()` would wait
    // for it to exit.
    let root_arg = root.to_str().unwrap();
    let args = ["--root", root_arg, "exec", "--process", process.to_str().unwrap(), "--detach"];
    let exec = learnctr(&args)
        .args(["--pid-file", pid_file.to_str().unwrap(), "e1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(exec.success());
    let exec_pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let environ = std::fs::read(format!("/proc/{exec_pid}/environ")).unwrap();
    assert!(String::from_utf8_lossy(&environ).contains("FROM_FILE=yes"), "the pid file names the exec'd process");
    let ns = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/pid")).unwrap();
    assert_eq!(ns(exec_pid), ns(pid), "the detached process is in the container's pid namespace");

    // ps --format json: the pids of the container's cgroup, the exec'd one among them.
    let ps: Vec<i32> = serde_json::from_slice(&rt(&root, &["ps", "--format", "json", "e1"]).stdout).unwrap();
    assert!(ps.contains(&pid) && ps.contains(&exec_pid), "{ps:?}");

    // pause and resume, seen by the kernel.
    assert!(rt(&root, &["pause", "e1"]).status.success());
    assert_eq!(status_of(&root, "e1"), "paused");
    assert!(frozen_in_kernel(pid), "pause froze the cgroup");
    let refused = rt(&root, &["exec", "e1", "true"]);
    assert!(!refused.status.success() && text(&refused).1.contains("paused"), "{:?}", text(&refused));
    assert!(rt(&root, &["resume", "e1"]).status.success());
    assert!(!frozen_in_kernel(pid), "resume thawed it");
    assert_eq!(status_of(&root, "e1"), "running");

    // update: from stdin (containerd) and from a flag (a learner), in the cgroup file.
    let mut update = learnctr(&["--root", root.to_str().unwrap(), "update", "--resources", "-", "e1"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    update
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"memory": {"limit": 100663296}, "cpu": {"shares": 0, "quota": 0, "period": 0}}"#)
        .unwrap();
    assert!(update.wait().unwrap().success());
    assert_eq!(memory_limit(pid).trim(), "100663296");
    assert!(rt(&root, &["update", "--memory", "83886080", "e1"]).status.success());
    assert_eq!(memory_limit(pid).trim(), "83886080");

    // A flag that would change a --process file is refused, not ignored.
    let both = rt(&root, &["exec", "--process", process.to_str().unwrap(), "--env", "A=b", "e1"]);
    assert!(!both.status.success() && text(&both).1.contains("--env"), "{:?}", text(&both));

    // The words engines turn into exit codes 127 and 126.
    let missing = rt(&root, &["exec", "e1", "nosuch"]);
    assert!(text(&missing).1.contains("executable file not found in $PATH"), "{:?}", text(&missing));
    let not_exec = rt(&root, &["exec", "e1", "/etc/passwd"]);
    assert!(text(&not_exec).1.contains("permission denied"), "{:?}", text(&not_exec));

    // kill by number, as the shim sends it; then the words engines match on.
    assert!(rt(&root, &["kill", "e1", "9"]).status.success());
    let stopped = wait_until(std::time::Duration::from_secs(5), || status_of(&root, "e1") == "stopped");
    assert!(stopped, "e1 runs 5 s after kill 9");
    let stopped = rt(&root, &["kill", "e1", "KILL"]);
    assert!(text(&stopped).1.contains("container not running"), "{:?}", text(&stopped));
    let exec_stopped = rt(&root, &["exec", "e1", "true"]);
    assert!(text(&exec_stopped).1.contains("container not running"), "{:?}", text(&exec_stopped));
    assert!(rt(&root, &["delete", "--force", "e1"]).status.success());
    let missing = rt(&root, &["state", "e1"]);
    assert!(text(&missing).1.contains("does not exist"), "{:?}", text(&missing));
    let _ = std::process::Command::new("kill").args(["-9", &exec_pid.to_string()]).status();
    t.assert_same_host("after the engine's calls");
}

#[test]
fn errors_go_to_the_log_as_runc_writes_them() {
    // Serial too: the root tests count every learnctr process on the host.
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.json");
    let out = learnctr(&[
        "--root",
        dir.path().to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "nothere",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("does not exist"), "{line}");
    let time = line["time"].as_str().unwrap();
    assert!(time.len() >= 20 && time.ends_with('Z') && &time[4..5] == "-" && &time[10..11] == "T", "RFC 3339: {time}");
    // --debug writes one line per call, with its arguments.
    let debug = dir.path().join("debug.log");
    learnctr(&["--root", dir.path().to_str().unwrap(), "--debug", "--log", debug.to_str().unwrap(), "list"])
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&debug).unwrap();
    assert!(text.contains("level=debug") && text.contains(" list"), "{text}");
    assert!(std::fs::read_to_string(&log).unwrap().lines().count() == 1, "one error, one line");
}

#[test]
fn version_features_and_refusals_are_runcs_shape() {
    let _one = serial();
    let out = learnctr(&["--version"]).output().unwrap();
    let (stdout, _) = text(&out);
    assert!(stdout.starts_with("learnctr version ") && stdout.contains("\nspec: 1.0.2"), "{stdout}");
    let features: serde_json::Value =
        serde_json::from_slice(&learnctr(&["features"]).output().unwrap().stdout).unwrap();
    assert_eq!(features["ociVersionMax"], "1.0.2");
    assert!(features["linux"]["namespaces"].as_array().unwrap().contains(&"user".into()));
    for (args, word) in [
        (vec!["create", "--no-pivot", "x"], "pivot_root"),
        (vec!["events", "x"], "no events"),
        (vec!["exec", "--process-label", "l", "x", "true"], "SELinux"),
        (vec!["--log-format", "xml", "state", "x"], "text or json"),
    ] {
        let out = learnctr(&args).output().unwrap();
        let (_, stderr) = text(&out);
        assert!(!out.status.success() && stderr.contains(word), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: one sentence: {stderr}");
    }
}

/// Without a mount namespace (the validation suite's `linux_ns_itype`), the root is
/// still the bundle's rootfs, by chroot as runc does, and config.json's mounts are said
/// not to be made: no mount lands on the host.
#[test]
fn without_a_mount_namespace_the_root_is_the_rootfs_and_nothing_is_mounted() {
    let Some(t) = root_test("without_a_mount_namespace_the_root_is_the_rootfs_and_nothing_is_mounted") else { return };
    let root = t.path().join("state");
    let b = bundle(t.path(), &["sh", "-c", "ls /; echo pid=$$"], |c| {
        c["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}]);
        c.as_object_mut().unwrap().remove("hostname");
    });
    let out = rt(&root, &["run", "--bundle", b.to_str().unwrap(), "nm1"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let mut listing: Vec<String> = std::fs::read_dir(b.join("rootfs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    listing.sort();
    let mut seen: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("pid=")).collect();
    seen.sort();
    assert_eq!(seen, listing, "/ inside is the rootfs");
    assert!(stdout.contains("pid=1"), "{stdout}");
    assert!(stderr.contains("mounts of config.json are not made"), "{stderr}");
    t.assert_same_host("after a container without a mount namespace");
}
