//! The finale's `learnctr shell`, as root: a whole container on a BusyBox root
//! filesystem, seen from inside by the container's own shell; exit codes passed
//! through; nothing left on the host.

mod common;

use common::*;
use std::path::Path;

/// `learnctr --rootfs ROOTFS shell ARGS -- sh -c SCRIPT`.
fn shell(rootfs: &Path, args: &[&str], script: &str) -> std::process::Output {
    let mut full = vec!["--rootfs", rootfs.to_str().unwrap(), "shell"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--", "sh", "-c", script]);
    learnctr(&full).stdin(std::process::Stdio::null()).output().unwrap()
}

/// `learnctr --rootfs ROOTFS shell ARGS -- COMMAND` in the background, returned once
/// the command runs (the summary's seccomp line is printed after its `execve`); its
/// stderr keeps being drained.
fn shell_running(rootfs: &Path, args: &[&str], command: &[&str]) -> std::process::Child {
    let mut full = vec!["--rootfs", rootfs.to_str().unwrap(), "shell"];
    full.extend_from_slice(args);
    full.push("--");
    full.extend_from_slice(command);
    let mut child = learnctr(&full)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    wait_for_line(&mut err, "mode 2");
    // Keep reading: a closed pipe would fail learnctr's next line on stderr.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    child
}

/// `KEY=value` lines printed by the script inside.
fn value<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key} in {stdout}"))
}

/// What the container shows from inside: PID, hostname, interfaces, limits, the
/// capability set, no_new_privs and seccomp, each as KEY=value.
const LOOK: &str = r#"
echo PID=$$
echo HOST=$(hostname)
echo LINKS=$(ls /sys/class/net | tr '\n' ' ')
echo MEM=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
echo PIDS=$(cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max)
echo CAPEFF=$(awk '/^CapEff/{print $2}' /proc/self/status)
echo CAPBND=$(awk '/^CapBnd/{print $2}' /proc/self/status)
echo NNP=$(awk '/^NoNewPrivs/{print $2}' /proc/self/status)
echo SECCOMP=$(awk '/^Seccomp:/{print $2}' /proc/self/status)
echo UNSHARE=$(unshare -U true 2>/dev/null && echo allowed || echo refused)
exit 7
"#;

/// Docker's 14 default capabilities as /proc prints them.
const DOCKER_CAPS: &str = "00000000a80425fb";

#[test]
fn a_whole_container_seen_from_inside() {
    let Some(t) = root_test("a_whole_container_seen_from_inside") else { return };
    let rootfs = t.busybox();
    let out = shell(&rootfs, &["--hostname", "finale", "--memory", "64M", "--pids", "64"], LOOK);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(7), "the exit code passes through: {stderr}");
    assert_eq!(value(&stdout, "PID"), "1");
    assert_eq!(value(&stdout, "HOST"), "finale");
    assert_eq!(value(&stdout, "LINKS").trim(), "lo", "only lo without --net");
    assert_eq!(value(&stdout, "MEM"), (64u64 << 20).to_string());
    assert_eq!(value(&stdout, "PIDS"), "64");
    assert_eq!(value(&stdout, "CAPEFF"), DOCKER_CAPS);
    assert_eq!(value(&stdout, "CAPBND"), DOCKER_CAPS);
    assert_eq!(value(&stdout, "NNP"), "1");
    assert_eq!(value(&stdout, "SECCOMP"), "2");
    assert_eq!(value(&stdout, "UNSHARE"), "refused", "the seccomp profile denies unshare");
    // The summary on stderr, measured from the host before the program ran.
    for expected in ["container shell-", "namespaces", "pid:[", "cgroup:[", "14 kept", "mode 2", "learnctr exec shell-"]
    {
        assert!(stderr.contains(expected), "{expected:?} missing from the summary:\n{stderr}");
    }
    t.assert_same_host("after learnctr shell");
}

#[test]
fn with_net_the_container_has_eth0_on_the_bridge() {
    let Some(t) = root_test("with_net_the_container_has_eth0_on_the_bridge") else { return };
    let rootfs = t.busybox();
    let script = r#"
echo LINKS=$(ls /sys/class/net | tr '\n' ' ')
gw=$(ip route | awk '/default/{print $3}')
echo GW=$gw
ping -c 1 -W 2 $gw >/dev/null && echo PING=ok || echo PING=lost
"#;
    let out = shell(&rootfs, &["--net"], script);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(value(&stdout, "LINKS").trim(), "eth0 lo");
    assert!(value(&stdout, "GW").ends_with(".1"), "{stdout}");
    assert_eq!(value(&stdout, "PING"), "ok", "the bridge answers: {stderr}");
    assert!(stderr.contains("eth0 ") && stderr.contains("learnctr0"), "{stderr}");
    t.assert_same_host("after learnctr shell --net");
}

#[test]
fn exit_codes_pass_through_and_the_root_is_a_throwaway_layer() {
    let Some(t) = root_test("exit_codes_pass_through_and_the_root_is_a_throwaway_layer") else { return };
    let rootfs = t.busybox();
    for (script, code) in [("true", 0), ("false", 1), ("exit 42", 42)] {
        let out = shell(&rootfs, &[], script);
        assert_eq!(out.status.code(), Some(code), "{script}: {:?}", text(&out));
    }
    // Writable, but only in the container's upper layer: the cached rootfs is untouched.
    let out = shell(&rootfs, &[], "echo hello > /etc/finale && cat /etc/finale");
    assert_eq!(text(&out).0.trim(), "hello", "{:?}", text(&out));
    assert!(!rootfs.join("etc/finale").exists(), "the write reached the cached root filesystem");
    let out = shell(&rootfs, &["--readonly"], "touch /etc/finale");
    assert_eq!(out.status.code(), Some(1), "--readonly: {:?}", text(&out));
    assert!(text(&out).1.contains("Read-only file system"), "{:?}", text(&out));
    t.assert_same_host("after several shells");
}

#[test]
fn ctrl_c_stops_a_command_and_leaves_nothing() {
    let Some(t) = root_test("ctrl_c_stops_a_command_and_leaves_nothing") else { return };
    let rootfs = t.busybox();
    let mut child = shell_running(&rootfs, &[], &["sleep", "30"]);
    let started = std::time::Instant::now();
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "sleep (PID 1) ignores SIGINT: learnctr kills it");
    t.assert_same_host("after Ctrl-C");
}

#[test]
fn bad_options_are_one_sentence() {
    // Serial too: the other tests count learnctr processes on the host.
    let _one = serial();
    for (args, expect) in [
        (vec!["shell", "--memory", "lots"], "is not a memory size"),
        (vec!["shell", "--cpus", "0"], "--cpus"),
        (vec!["shell", "--pids", "0"], "--pids"),
    ] {
        let out = learnctr(&args).output().unwrap();
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn trace_shows_the_calls_that_built_the_container() {
    let Some(t) = root_test("trace_shows_the_calls_that_built_the_container") else { return };
    let rootfs = t.busybox();
    let out = shell(&rootfs, &["--trace"], "true");
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for call in ["unshare(CLONE_NEWNS", "mount(\"overlay\"", "pivot_root(", "sethostname(", "capset("] {
        assert!(stderr.contains(call), "{call} missing from the trace:\n{stderr}");
    }
    // Into its cgroup: moved (v1, hybrid) or born there (v2: clone3 CLONE_INTO_CGROUP).
    assert!(stderr.contains("cgroup.procs") || stderr.contains("clone3({flags=CLONE_INTO_CGROUP"), "{stderr}");
}

#[test]
fn after_kill_9_cleanup_removes_everything() {
    let Some(t) = root_test("after_kill_9_cleanup_removes_everything") else { return };
    let rootfs = t.busybox();
    let mut child = shell_running(&rootfs, &["--net"], &["sleep", "30"]);
    // learnctr dies without a chance to clean up: the container, its cgroups, the
    // bridge and veth, the state and the bundle stay, named in the journal.
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    child.wait().unwrap();
    assert_ne!(host_state(), t.before, "a killed shell leaves its objects until cleanup");
    let out = learnctr(&["cleanup"]).output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    t.assert_same_host("after kill -9 and learnctr cleanup");
}
