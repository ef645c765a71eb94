//! Hostile bundles, as root: what an image's author who knows runc's CVEs would put in
//! config.json or the rootfs. Each attack is one test; runc holds all of them, and so
//! must learnctr. Also run on a pure cgroup v2 kernel by `.ci/run`.

mod common;

use common::*;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const SECRET: &str = "HOST-SECRET-7b1f";

/// A directory on the host holding a secret file, next to the runtime's state root.
fn host_secret(dir: &Path) -> PathBuf {
    let file = dir.join("host-secret");
    std::fs::write(&file, SECRET).unwrap();
    file
}

/// `learnctr ARGS` with an extra fd 7 open on `leak` (an engine that leaks a host
/// directory into the runtime, as Docker did in CVE-2024-21626's scenario).
fn with_leaked_dir(args: &[&str], leak: &Path) -> std::process::Output {
    let fd = std::fs::File::open(leak).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let mut cmd = learnctr(args);
    // SAFETY: dup2 is async-signal-safe; it runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    drop(fd);
    out
}

#[test]
fn a_working_directory_through_a_leaked_fd_never_reaches_the_host() {
    let Some(t) = root_test("a_working_directory_through_a_leaked_fd_never_reaches_the_host") else { return };
    host_secret(t.path());
    let root = t.path().join("state");
    // The init's own fds (the state directory, the channel, ...) and a leaked one.
    for fd in 3..=9 {
        let b = bundle(
            t.path(),
            &["sh", "-c", "cat host-secret ../host-secret ../../host-secret ../../../host-secret 2>/dev/null; pwd"],
            |c| {
                c["process"]["cwd"] = format!("/proc/self/fd/{fd}").into();
            },
        );
        let out = with_leaked_dir(
            &["--root", root.to_str().unwrap(), "run", "--bundle", b.to_str().unwrap(), "cwd"],
            t.path(),
        );
        let (stdout, stderr) = text(&out);
        assert!(!stdout.contains(SECRET), "cwd /proc/self/fd/{fd} reached the host: {stdout}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        if !out.status.success() {
            assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
        }
        std::fs::remove_dir_all(t.path().join("bundle")).unwrap();
        std::fs::remove_dir_all(t.path().join("rootfs")).ok();
        std::fs::remove_dir_all(t.path().join("cache")).ok();
    }
    // exec reads config.json again: an attacker who rewrites it after create gets the
    // same answer, also with a host directory leaked into `learnctr exec`.
    let b = bundle(t.path(), &["sleep", "30"], |_| {});
    std::fs::create_dir_all(&root).unwrap();
    assert!(create(&root, &b, &[], "ex").success());
    assert!(rt(&root, &["start", "ex"]).status.success());
    let config = b.join("config.json");
    let good: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    for fd in 3..=9 {
        let mut bad = good.clone();
        bad["process"]["cwd"] = format!("/proc/self/fd/{fd}").into();
        std::fs::write(&config, serde_json::to_vec(&bad).unwrap()).unwrap();
        let out = with_leaked_dir(
            &[
                "--root",
                root.to_str().unwrap(),
                "exec",
                "ex",
                "sh",
                "-c",
                "cat host-secret ../host-secret ../../host-secret 2>/dev/null; pwd",
            ],
            t.path(),
        );
        assert!(!text(&out).0.contains(SECRET), "exec with cwd /proc/self/fd/{fd} reached the host: {:?}", text(&out));
    }
    assert!(rt(&root, &["delete", "--force", "ex"]).status.success());
    t.assert_same_host("after the cwd attacks");
}

fn host_sysctl(key: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/"))).unwrap_or_default()
}

#[test]
fn sysctls_are_written_inside_and_the_hosts_are_refused() {
    let Some(t) = root_test("sysctls_are_written_inside_and_the_hosts_are_refused") else { return };
    let watched = [
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ping_group_range",
        "kernel.shmmax",
        "kernel.core_pattern",
        "kernel.hostname",
    ];
    let host_before: Vec<String> = watched.iter().map(|k| host_sysctl(k)).collect();
    let root = t.path().join("state");
    // What Docker and Podman send on every run, and an ipc one: applied inside.
    let b = bundle(
        t.path(),
        &["sh", "-c", "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range /proc/sys/kernel/shmmax"],
        |c| {
            c["linux"]["sysctl"] = serde_json::json!({
                "net.ipv4.ip_unprivileged_port_start": "0",
                "net.ipv4.ping_group_range": "0 2147483647",
                "kernel.shmmax": "123456789",
            });
        },
    );
    let out = rt(&root, &["run", "--bundle", b.to_str().unwrap(), "s1"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let words: Vec<String> = text(&out).0.split_whitespace().map(str::to_string).collect();
    assert_eq!(words, ["0", "0", "2147483647", "123456789"], "{:?}", text(&out));
    let config = b.join("config.json");
    let good: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    let without = |kind: &str, c: &mut serde_json::Value| {
        c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != kind);
    };
    // Each of these aims at the host, or at nothing a namespace isolates: refused in
    // one sentence, before anything runs.
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("kernel.core_pattern", Box::new(|_: &mut serde_json::Value| {}), "|/tmp/x"),
        ("kernel.hostname", Box::new(|_: &mut serde_json::Value| {}), "evil"),
        ("net.ipv4.ip_unprivileged_port_start", Box::new(move |c: &mut serde_json::Value| without("network", c)), "0"),
        ("kernel.shmmax", Box::new(move |c: &mut serde_json::Value| without("ipc", c)), "1"),
        ("fs.mqueue.msg_max", Box::new(move |c: &mut serde_json::Value| without("ipc", c)), "11"),
        (
            "net.ipv4.ip_unprivileged_port_start",
            Box::new(|c: &mut serde_json::Value| {
                for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
                    if n["type"] == "network" {
                        n["path"] = format!("/proc/{}/ns/net", std::process::id()).into();
                    }
                }
            }),
            "0",
        ),
        ("net.ipv4/../../kernel/core_pattern", Box::new(|_: &mut serde_json::Value| {}), "|/tmp/x"),
        ("net..ipv4.ip_forward", Box::new(|_: &mut serde_json::Value| {}), "1"),
    ];
    for (key, edit, value) in cases {
        let mut c = good.clone();
        c["linux"]["sysctl"] = serde_json::json!({ key: value });
        edit(&mut c);
        std::fs::write(&config, serde_json::to_vec(&c).unwrap()).unwrap();
        let out = rt(&root, &["run", "--bundle", b.to_str().unwrap(), "s2"]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{key} must be refused: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("sysctl"), "{stderr}");
        assert!(!root.join("s2").exists());
    }
    let host_after: Vec<String> = watched.iter().map(|k| host_sysctl(k)).collect();
    assert_eq!(host_before, host_after, "the host's sysctls changed");
    t.assert_same_host("after the sysctl cases");
}

#[test]
fn runc_specs_own_bundle_runs_as_with_runc() {
    let Some(t) = root_test("runc_specs_own_bundle_runs_as_with_runc") else { return };
    if !runc_available() {
        return;
    }
    let b = t.path().join("bundle");
    std::fs::create_dir_all(&b).unwrap();
    std::fs::rename(busybox_rootfs(t.path()), b.join("rootfs")).unwrap();
    let made = std::process::Command::new("runc").arg("spec").current_dir(&b).status().unwrap();
    assert!(made.success());
    let config = b.join("config.json");
    let mut c: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    c["process"]["terminal"] = false.into();
    c["process"]["args"] =
        serde_json::json!(["sh", "-c", "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; hostname; id"]);
    std::fs::write(&config, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    let ours = rt(&t.path().join("state"), &["run", "--bundle", b.to_str().unwrap(), "rs"]);
    assert!(ours.status.success(), "learnctr: {:?}", text(&ours));
    let runc_root = t.path().join("runc-state");
    let theirs = std::process::Command::new("runc")
        .args(["--root", runc_root.to_str().unwrap(), "run", "--bundle", b.to_str().unwrap(), "learnctr-test-rs"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(theirs.status.success(), "runc: {:?}", text(&theirs));
    assert_eq!(text(&ours).0, text(&theirs).0, "learnctr and runc differ on runc spec's bundle");
    remove_runc_leftovers();
    t.assert_same_host("after runc spec's bundle");
}

/// runc leaves empty parent cgroups named after the container's cgroup path.
fn remove_runc_leftovers() {
    for e in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        let _ = std::fs::remove_dir(e.path().join("learnctr-test-rs"));
    }
    let _ = std::fs::remove_dir("/sys/fs/cgroup/learnctr-test-rs");
}

#[test]
fn hook_timeouts_and_odd_binds_never_panic() {
    let Some(t) = root_test("hook_timeouts_and_odd_binds_never_panic") else { return };
    let root = t.path().join("state");
    for timeout in
        [serde_json::json!(-1), serde_json::json!(0), serde_json::json!(i64::MAX), serde_json::json!(9_223_372_036u64)]
    {
        let b = bundle(t.path(), &["true"], |c| {
            c["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/true", "timeout": timeout}]});
        });
        let out = rt(&root, &["run", "--bundle", b.to_str().unwrap(), "t1"]);
        let (_, stderr) = text(&out);
        assert!(!stderr.contains("panicked"), "timeout {timeout}: {stderr}");
        if !out.status.success() {
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(stderr.contains("timeout"), "{stderr}");
        }
        std::fs::remove_dir_all(t.path().join("bundle")).unwrap();
    }
    // Bind mounts of things that are not directories: a character device, a socket.
    let sock_dir = t.path().join("sock");
    std::fs::create_dir(&sock_dir).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(sock_dir.join("s.sock")).unwrap();
    let sock = sock_dir.join("s.sock").display().to_string();
    let b = bundle(
        t.path(),
        &["sh", "-c", "test -c /x/null && test -S /x/s.sock && echo ok > /x/null && echo binds"],
        |c| {
            let mounts = c["mounts"].as_array_mut().unwrap();
            mounts.push(serde_json::json!({"destination": "/x/null", "type": "bind", "source": "/dev/null", "options": ["bind"]}));
            mounts.push(
                serde_json::json!({"destination": "/x/s.sock", "type": "bind", "source": sock, "options": ["bind"]}),
            );
        },
    );
    let out = rt(&root, &["run", "--bundle", b.to_str().unwrap(), "t2"]);
    drop(listener);
    assert_eq!(text(&out).0.trim(), "binds", "{:?}", text(&out));
    t.assert_same_host("after hooks and binds");
}

#[test]
fn container_ids_never_leave_the_state_directory() {
    let Some(t) = root_test("container_ids_never_leave_the_state_directory") else { return };
    let root = t.path().join("state");
    std::fs::create_dir_all(&root).unwrap();
    // A state.json planted outside the state root, which `..` would reach.
    let planted = t.path().join("victim");
    std::fs::create_dir_all(&planted).unwrap();
    let fake = serde_json::json!({"id": "..", "bundle": "/", "rootfs": "/", "pid": 1, "pid_start": 0, "created": "0",
        "cgroup_dirs": [planted.display().to_string()], "annotations": {}, "poststart": [], "poststop": []});
    std::fs::write(t.path().join("state.json"), fake.to_string()).unwrap();
    for args in [
        vec!["state", ".."],
        vec!["delete", "--force", ".."],
        vec!["kill", "..", "KILL"],
        vec!["start", ".."],
        vec!["exec", "..", "true"],
        vec!["delete", "--force", "../victim"],
        vec!["state", "a/b"],
    ] {
        let out = rt(&root, &args);
        let (_, stderr) = text(&out);
        assert_ne!(out.status.code(), Some(0), "{args:?} was accepted");
        assert!(stderr.contains("not a valid container id"), "{args:?}: {stderr}");
        assert!(planted.exists() && t.path().join("state.json").exists(), "{args:?} removed a file outside the root");
    }
}

/// The cgroup files the container sees for its own memory limit: its own cgroup,
/// never the host's tree.
#[test]
fn the_container_sees_its_own_cgroup_not_the_hosts() {
    let Some(t) = root_test("the_container_sees_its_own_cgroup_not_the_hosts") else { return };
    let unified = nix::sys::statfs::statfs("/sys/fs/cgroup").unwrap().filesystem_type().0 == 0x6367_7270;
    let probe = if unified {
        "cat /sys/fs/cgroup/memory.max; ls /sys/fs/cgroup"
    } else {
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ls /sys/fs/cgroup/memory /sys/fs/cgroup/pids"
    };
    // No cgroup namespace (runc spec on a v1 host has none).
    let b = bundle(t.path(), &["sh", "-c", probe], |c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "cgroup");
        c["linux"]["resources"]["memory"] = serde_json::json!({"limit": 67108864});
    });
    let out = rt(&t.path().join("state"), &["run", "--bundle", b.to_str().unwrap(), "cg"]);
    let (stdout, _) = text(&out);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(stdout.lines().next(), Some("67108864"), "the container reads its own limit: {stdout}");
    for host_only in ["learnctr", "system.slice", "user.slice", "init.scope"] {
        assert!(!stdout.lines().any(|l| l.trim() == host_only), "the host's cgroup {host_only} is visible: {stdout}");
    }
    t.assert_same_host("after the cgroup view");
}

/// CAP_MKNOD (Docker's set) with runc's device rules: a container may make device
/// nodes, but never open one it was not allowed (v1: the devices controller; v2: an
/// eBPF program on the cgroup).
#[test]
fn a_container_cannot_open_devices_it_was_denied() {
    let Some(t) = root_test("a_container_cannot_open_devices_it_was_denied") else { return };
    // Each node: made if the kernel lets it (CAP_MKNOD; v1's devices controller also
    // refuses the mknod), then opened (and not read: a terminal would wait for input). Neither the block device nor the terminals may
    // be opened; /dev/null and /dev/zero still work.
    let script = "mknod /dev/loop0x b 7 0 2>/dev/null; mknod /dev/tty1x c 4 1 2>/dev/null; mknod /dev/kmsgx c 1 11 2>/dev/null; \
                  (: < /dev/loop0x) 2>/dev/null && echo opened-block; \
                  (: < /dev/tty1x) 2>/dev/null && echo opened-tty1; \
                  (: < /dev/kmsgx) 2>/dev/null && echo opened-kmsg; \
                  echo x > /dev/null && head -c 1 /dev/zero | wc -c";
    let with_mknod = |c: &mut serde_json::Value| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set].as_array_mut().unwrap().push("CAP_MKNOD".into());
        }
    };
    let b = bundle(t.path(), &["sh", "-c", script], |c| {
        with_mknod(c);
        c["linux"]["resources"]["devices"] = serde_json::json!([{"allow": false, "access": "rwm"}]);
    });
    let out = rt(&t.path().join("state"), &["run", "--bundle", b.to_str().unwrap(), "dv"]);
    let (stdout, stderr) = text(&out);
    for opened in ["opened-block", "opened-tty1", "opened-kmsg"] {
        assert!(!stdout.contains(opened), "{opened}: a denied device was opened: {stdout}");
    }
    assert_eq!(stdout.lines().last().map(str::trim), Some("1"), "the allowed devices still work: {stdout} {stderr}");
    // The same nodes without any device rule: no device control (as runc), so the
    // test above can fail — they open here.
    let b2 = bundle(&t.path().join("open"), &["sh", "-c", script], |c| {
        with_mknod(c);
        c["linux"]["resources"].as_object_mut().unwrap().remove("devices");
    });
    let out = rt(&t.path().join("state"), &["run", "--bundle", b2.to_str().unwrap(), "dv2"]);
    assert!(text(&out).0.contains("opened-block"), "without rules the loop device opens: {:?}", text(&out));
    t.assert_same_host("after the device attack");
}

/// `statvfs` of a process's executable: is the file it runs on a read-only mount?
fn exe_is_read_only(pid: i32) -> bool {
    nix::sys::statvfs::statvfs(format!("/proc/{pid}/exe").as_str())
        .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        .unwrap_or(false)
}

/// CVE-2019-5736: a container that gets hold of the runtime's binary (through
/// `/proc/PID/exe` of the init, or `#!/proc/self/exe`) must not be able to write it.
#[test]
fn the_runtime_binary_cannot_be_overwritten_from_a_container() {
    let Some(t) = root_test("the_runtime_binary_cannot_be_overwritten_from_a_container") else { return };
    let root = t.path().join("state");
    let b = bundle(t.path(), &["sleep", "30"], |_| {});
    std::fs::create_dir_all(&root).unwrap();
    let pid_file = t.path().join("pid");
    assert!(create(&root, &b, &["--pid-file", pid_file.to_str().unwrap()], "x1").success());
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert!(exe_is_read_only(pid), "the waiting init runs learnctr from a writable file");
    // What the attacker does: hold the init's exe (O_PATH), wait until it is gone,
    // reopen it for writing through /proc/self/fd.
    let held = std::fs::File::open(format!("/proc/{pid}/exe")).unwrap();
    assert!(rt(&root, &["start", "x1"]).status.success());
    let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&held));
    let reopened = std::fs::OpenOptions::new().append(true).open(&path);
    assert!(reopened.is_err(), "the runtime's binary was opened for writing");
    // `learnctr exec`'s own process, which joins the container's pid namespace: it
    // seals itself before it enters (read-only from then on, while it waits).
    let mut exec = learnctr(&["--root", root.to_str().unwrap(), "exec", "x1", "sleep", "3"]).spawn().unwrap();
    let mut sealed = false;
    wait_until(Duration::from_secs(20), || {
        sealed = exe_is_read_only(exec.id() as i32);
        sealed || exec.try_wait().unwrap().is_some()
    });
    let _ = exec.wait();
    assert!(sealed, "learnctr exec ran from a writable file");
    assert!(rt(&root, &["delete", "--force", "x1"]).status.success());
    t.assert_same_host("after the binary attack");
}

/// `learnctr run` killed with SIGKILL at random moments: afterwards `delete --force`
/// of the id leaves nothing and the id can be used again.
#[test]
fn a_runtime_killed_at_any_moment_leaves_a_removable_container() {
    let Some(t) = root_test("a_runtime_killed_at_any_moment_leaves_a_removable_container") else { return };
    let root = t.path().join("state");
    let b = bundle(t.path(), &["sleep", "5"], |_| {});
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    for round in 0..30 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = 1 + (seed >> 33) % 120;
        let command = if round % 2 == 0 { "run" } else { "create" };
        let mut child = learnctr(&["--root", root.to_str().unwrap(), command, "--bundle", b.to_str().unwrap(), "k1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Not a wait: a kill at a moment chosen at random is the test.
        std::thread::sleep(std::time::Duration::from_millis(delay));
        signal(&child, nix::sys::signal::Signal::SIGKILL);
        let _ = child.wait();
        let out = rt(&root, &["delete", "--force", "k1"]);
        let (_, stderr) = text(&out);
        assert!(
            out.status.success() || stderr.contains("does not exist"),
            "round {round} ({command}, {delay} ms): {stderr}"
        );
        assert!(!root.join("k1").exists(), "round {round}: the state directory is left");
        let leftovers: Vec<String> = std::fs::read_dir(&root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(leftovers.is_empty(), "round {round} ({command}, {delay} ms): {leftovers:?} left in the state root");
    }
    // Every id is usable again.
    let out = rt(&root, &["run", "--bundle", b.to_str().unwrap(), "k1"]);
    let _ = out;
    let quick = bundle(&t.path().join("q"), &["true"], |_| {});
    let out = rt(&root, &["run", "--bundle", quick.to_str().unwrap(), "k1"]);
    assert!(out.status.success(), "{:?}", text(&out));
    t.assert_same_host("after the kills");
}

/// `learnctr shell` shares the learner's terminal: the container may not push
/// keystrokes into it (TIOCSTI), nor into a virtual console (TIOCLINUX), also when the
/// request number carries high bits the kernel ignores.
#[test]
fn the_finale_cannot_type_into_the_learners_terminal() {
    let Some(t) = root_test("the_finale_cannot_type_into_the_learners_terminal") else { return };
    let rootfs = t.busybox();
    let source = t.path().join("tiocsti.c");
    std::fs::write(
        &source,
        r#"#include <errno.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
static int try(unsigned long request) { char c = 'x'; errno = 0; syscall(SYS_ioctl, 0, request, &c); return errno; }
int main(void) {
    printf("%d %d %d %d\n", try(TIOCSTI), try(TIOCSTI | (1UL << 32)), try(TIOCLINUX), try(TIOCGWINSZ));
    return 0;
}
"#,
    )
    .unwrap();
    let made = std::process::Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(rootfs.join("tiocsti"))
        .arg(&source)
        .status()
        .unwrap();
    assert!(made.success(), "gcc -static could not build the probe");
    let out = learnctr(&["shell", "--rootfs", rootfs.to_str().unwrap(), "--", "/tiocsti"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let eperm = libc::EPERM.to_string();
    let words: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(&words[..3], [eperm.as_str(); 3], "TIOCSTI and TIOCLINUX must be refused by seccomp: {stdout}");
    assert_ne!(words[3], eperm, "other terminal ioctls still reach the kernel: {stdout}");
    t.assert_same_host("after the terminal attack");
}

/// A `create` killed while its init waits (here in a createRuntime hook, so the moment
/// is certain): `learnctr cleanup` removes the half-made container of the default
/// state root — its init, cgroup and state directory.
#[test]
fn cleanup_removes_a_container_whose_create_was_killed() {
    let Some(t) = root_test("cleanup_removes_a_container_whose_create_was_killed") else { return };
    let b = bundle(t.path(), &["true"], |c| {
        c["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"]}]});
    });
    let id = format!("learnctr-test-half-{}", std::process::id());
    // Processes whose command line is exactly `sleep 30` (the hook), read from /proc.
    let sleeping_hooks = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == b"sleep\x0030\x00"))
            .count()
    };
    let hooks_before = sleeping_hooks();
    let mut creating = learnctr(&["create", "--bundle", b.to_str().unwrap(), &id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let state_file = Path::new("/run/learnctr").join(&id).join("state.json");
    let in_hook = wait_until(Duration::from_secs(10), || state_file.exists() && sleeping_hooks() > hooks_before);
    assert!(in_hook, "create did not reach its createRuntime hook in 10 s");
    let state: serde_json::Value =
        serde_json::from_slice(&rt(Path::new("/run/learnctr"), &["state", &id]).stdout).unwrap();
    assert_eq!(state["status"], "creating", "{state}");
    signal(&creating, nix::sys::signal::Signal::SIGKILL);
    let _ = creating.wait();
    let out = learnctr(&["cleanup"]).output().unwrap();
    assert!(text(&out).0.contains(&id), "cleanup names the half-made container: {:?}", text(&out));
    assert!(!state_file.exists());
    // The hook was the creator's child: it died with it.
    wait_until(Duration::from_secs(5), || sleeping_hooks() == hooks_before);
    assert_eq!(sleeping_hooks(), hooks_before, "the createRuntime hook outlived the killed create");
    t.assert_same_host("after cleanup of a half-made container");
}

/// A setuid-root copy of learnctr, under any name, never runs the course or the
/// runtime for the user who starts it: it says who it runs as and stops.
#[test]
fn a_setuid_copy_of_learnctr_does_nothing_for_its_user() {
    let Some(_t) = root_test("a_setuid_copy_of_learnctr_does_nothing_for_its_user") else { return };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("setuid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let copy = dir.join("any-name");
    std::fs::copy(bin(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&copy)
        .args(["cleanup"])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(stdout.trim(), "uid=65534 euid=0", "{stdout} {stderr}");
    assert!(!stdout.contains("clean") && !stderr.contains("clean"), "it ran the command: {stdout} {stderr}");
}

/// A root filesystem whose /proc or /dev is a symlink out of it, mount destinations
/// and device paths that climb with `..`: refused in one sentence, nothing mounted on
/// the host, nothing made outside the root.
#[test]
fn symlinks_and_climbing_paths_never_lead_out_of_the_root() {
    let Some(t) = root_test("symlinks_and_climbing_paths_never_lead_out_of_the_root") else { return };
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let root = t.path().join("state");
    type Edit = Box<dyn Fn(&Path, &mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "/proc a symlink out",
            Box::new(|rootfs: &Path, _: &mut serde_json::Value| {
                std::fs::remove_dir_all(rootfs.join("proc")).unwrap();
                std::os::unix::fs::symlink("../../outside", rootfs.join("proc")).unwrap();
            }),
        ),
        (
            "/dev a symlink to /",
            Box::new(|rootfs: &Path, _: &mut serde_json::Value| {
                std::fs::remove_dir_all(rootfs.join("dev")).unwrap();
                std::os::unix::fs::symlink("/", rootfs.join("dev")).unwrap();
            }),
        ),
        (
            "a mount under a symlinked directory",
            Box::new(|rootfs: &Path, c: &mut serde_json::Value| {
                std::os::unix::fs::symlink("/", rootfs.join("escape")).unwrap();
                c["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({"destination": "/escape/tmp/x", "type": "tmpfs", "source": "tmpfs"}));
            }),
        ),
        (
            "a mount destination with ..",
            Box::new(|_: &Path, c: &mut serde_json::Value| {
                c["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({"destination": "/tmp/../../x", "type": "tmpfs", "source": "tmpfs"}));
            }),
        ),
        (
            "a device that climbs out of /dev",
            Box::new(|_: &Path, c: &mut serde_json::Value| {
                c["linux"]["devices"] =
                    serde_json::json!([{"path": "/dev/../../../outside/null", "type": "c", "major": 1, "minor": 3}]);
            }),
        ),
    ];
    for (what, edit) in cases {
        let b = bundle(t.path(), &["true"], |_| {});
        let mut c: serde_json::Value = serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
        edit(&b.join("rootfs"), &mut c);
        std::fs::write(b.join("config.json"), serde_json::to_vec(&c).unwrap()).unwrap();
        let out = rt(&root, &["run", "--bundle", b.to_str().unwrap(), "sym"]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{what} was accepted: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{what} wrote outside the root");
        std::fs::remove_dir_all(&b).unwrap();
    }
    t.assert_same_host("after the symlink attacks");
}

/// An fd the caller leaks into `learnctr run` never reaches the container's program.
#[test]
fn leaked_fds_never_reach_the_containers_program() {
    let Some(t) = root_test("leaked_fds_never_reach_the_containers_program") else { return };
    let b = bundle(t.path(), &["sh", "-c", "ls /proc/self/fd"], |_| {});
    let root = t.path().join("state");
    let out =
        with_leaked_dir(&["--root", root.to_str().unwrap(), "run", "--bundle", b.to_str().unwrap(), "fd"], t.path());
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    // ls itself opens one fd (3) to read the directory.
    let fds: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{stdout}");
    t.assert_same_host("after the leaked fd");
}
