//! learnctr as an OCI runtime, as root: the lifecycle as runc names it, exit codes,
//! limits, a named network namespace, exec, hooks in order with the state on stdin;
//! every container leaves nothing behind. Bundles are made with `learnctr spec` on a
//! BusyBox root filesystem.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

fn status_of(root: &Path, id: &str) -> String {
    let out = rt(root, &["state", id]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["status"].as_str().unwrap_or("").to_string()
}

#[test]
fn the_lifecycle_as_runc_names_it() {
    let Some(t) = root_test("the_lifecycle_as_runc_names_it") else { return };
    let root = t.path().join("state");
    let b = bundle(t.path(), &["sleep", "60"], |_| {});
    let pid_file = t.path().join("pid");
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
    assert!(wait_until(Duration::from_secs(5), || status_of(&root, "c1") == "stopped"), "c1 runs 5 s after kill KILL");
    assert!(rt(&root, &["delete", "c1"]).status.success());
    assert!(!root.join("c1").exists());
    t.assert_same_host("after the lifecycle");
}

#[test]
fn run_passes_exit_codes_through() {
    let Some(t) = root_test("run_passes_exit_codes_through") else { return };
    for (args, code) in [(vec!["true"], 0), (vec!["false"], 1), (vec!["sh", "-c", "exit 7"], 7)] {
        let dir = tempfile::tempdir().unwrap();
        let b = bundle(dir.path(), &args, |_| {});
        let out = rt(&dir.path().join("state"), &["run", "--bundle", b.to_str().unwrap(), "r1"]);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {:?}", text(&out));
    }
    t.assert_same_host("after run");
}

#[test]
fn memory_and_pids_limits_are_enforced() {
    let Some(t) = root_test("memory_and_pids_limits_are_enforced") else { return };
    // 32 MiB of memory; dd's 128 MiB buffer goes over it and the kernel kills dd.
    let b =
        bundle(t.path(), &["sh", "-c", "dd if=/dev/zero of=/dev/null bs=128M count=1 2>/dev/null; echo dd=$?"], |c| {
            c["linux"]["resources"]["memory"] = serde_json::json!({"limit": 33554432});
        });
    let out = rt(&t.path().join("state"), &["run", "--bundle", b.to_str().unwrap(), "m1"]);
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
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join("p1/state.json")).unwrap()).unwrap();
    let pids_dir = state["cgroup_dirs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| std::path::PathBuf::from(d.as_str().unwrap()))
        .find(|d| d.join("pids.max").exists())
        .unwrap();
    // Until the loop has run into the limit: the kernel counted a refusal and the
    // shell said so.
    let events = || std::fs::read_to_string(pids_dir.join("pids.events")).unwrap();
    let refused = |events: &str| -> u32 { events.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0) };
    let said = || std::fs::read_to_string(root.with_extension("log")).unwrap().contains("can't fork");
    wait_until(Duration::from_secs(10), || refused(&events()) >= 1 && said());
    let limit = std::fs::read_to_string(pids_dir.join("pids.max")).unwrap();
    let events = events();
    assert!(rt(&root, &["delete", "--force", "p1"]).status.success());
    assert_eq!(limit.trim(), "6");
    assert!(refused(&events) >= 1, "pids.events counts the refused fork: {events}");
    assert!(said(), "the shell says it can't fork");
    t.assert_same_host("after the limits");
}

#[test]
fn a_named_network_namespace_is_joined() {
    let Some(t) = root_test("a_named_network_namespace_is_joined") else { return };
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
    let p = path.clone();
    let b = bundle(t.path(), &["sh", "-c", "readlink /proc/self/ns/net"], move |c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        for n in ns.iter_mut() {
            if n["type"] == "network" {
                n["path"] = p.clone().into();
            }
        }
    });
    let out = rt(&t.path().join("state"), &["run", "--bundle", b.to_str().unwrap(), "n1"]);
    let _ = std::process::Command::new("umount").arg(&path).status();
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir("/run/netns");
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(text(&out).0.trim(), format!("net:[{inode}]"));
    t.assert_same_host("after joining a named netns");
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    let Some(t) = root_test("hooks_run_in_order_with_the_state_on_stdin") else { return };
    let log = t.path().join("hooks.log");
    let hook = |name: &str| serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", format!("read -r s; echo \"{name} $s\" >> {}", log.display())]});
    let b = bundle(t.path(), &["true"], |c| {
        c["hooks"] = serde_json::json!({
            "createRuntime": [hook("createRuntime")],
            "prestart": [hook("prestart")],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        });
    });
    let out = rt(&t.path().join("state"), &["run", "--bundle", b.to_str().unwrap(), "h1"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let lines: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(str::to_string).collect();
    let order: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(order, ["createRuntime", "prestart", "poststart", "poststop"], "{lines:?}");
    for (line, status) in lines.iter().zip(["creating", "created", "running", "stopped"]) {
        let json: serde_json::Value = serde_json::from_str(line.split_once(' ').unwrap().1).unwrap();
        assert_eq!(json["status"], status, "{line}");
        assert_eq!(json["id"], "h1");
    }
}

#[test]
fn malformed_bundles_are_one_sentence_and_leave_nothing() {
    let Some(t) = root_test("malformed_bundles_are_one_sentence_and_leave_nothing") else { return };
    let b = bundle(t.path(), &["true"], |_| {});
    let config = b.join("config.json");
    let good = std::fs::read_to_string(&config).unwrap();
    let root = t.path().join("state");
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
    t.assert_same_host("after malformed bundles");
}

/// Receive one fd sent with SCM_RIGHTS on `stream`, waiting at most 10 s.
fn receive_fd(stream: &std::os::unix::net::UnixStream) -> std::os::fd::OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd};
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut byte = [0u8; 16];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::empty())
        .expect("no message on the console socket");
    for cmsg in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            // SAFETY: the kernel just gave us this fd; nobody else owns it.
            return unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("the console socket's message carried no fd");
}

#[test]
fn a_console_socket_receives_the_containers_terminal() {
    let Some(t) = root_test("a_console_socket_receives_the_containers_terminal") else { return };
    let root = t.path().join("state");
    let b = bundle(t.path(), &["sh", "-c", "tty; echo console-ok"], |c| c["process"]["terminal"] = true.into());
    let socket = t.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let args = ["--root", root.to_str().unwrap(), "create", "--bundle", b.to_str().unwrap()];
    let mut create = learnctr(&args)
        .args(["--console-socket", socket.to_str().unwrap(), "t1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // As with runc, the master side arrives during `create`, before `start`.
    listener.set_nonblocking(true).unwrap();
    let mut accepted = None;
    if !wait_until(Duration::from_secs(10), || {
        accepted = listener.accept().ok();
        accepted.is_some()
    }) {
        let _ = create.kill();
        panic!("nobody connected to the console socket in 10 s");
    }
    let (stream, _) = accepted.unwrap();
    stream.set_nonblocking(false).unwrap();
    let master = receive_fd(&stream);
    let created = create.wait_with_output().unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert_eq!(status_of(&root, "t1"), "created");
    assert!(rt(&root, &["start", "t1"]).status.success());
    // Read the terminal until the shell's last line (or the end: EIO once it exits).
    let mut screen = String::new();
    let mut terminal = std::fs::File::from(master);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !screen.contains("console-ok") && std::time::Instant::now() < deadline {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::io::Read;
        use std::os::fd::AsFd;
        let mut fds = [PollFd::new(terminal.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(500u16)).unwrap_or(0) == 0 {
            continue;
        }
        let mut buf = [0u8; 256];
        match terminal.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => screen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(screen.contains("/dev/pts/0"), "tty inside printed: {screen:?}");
    assert!(screen.contains("console-ok"), "{screen:?}");
    drop(terminal);
    let out = rt(&root, &["delete", "--force", "t1"]);
    assert!(out.status.success(), "{:?}", text(&out));
    t.assert_same_host("after a container with a terminal");
}
