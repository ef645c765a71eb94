//! The learner's tasks, graded on the kernel: each check fails on a machine where the
//! task is not done (one sentence, what is missing and what to try), passes once the
//! task's own printed solution has been typed, and is not passed by learnctr's own
//! lesson; `--reset` removes what the solution made.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn check(id: &str, rootfs: &str) -> std::process::Output {
    learnctr(&["check", id, "--rootfs", rootfs]).output().unwrap()
}

/// The shell lines of the solution `learnctr solution ID` prints for this host.
fn solution_lines(id: &str, rootfs: &str) -> String {
    let out = learnctr(&["solution", id, "--rootfs", rootfs]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "solution {id}: {stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty(), "solution {id} printed nothing");
    lines.join("\n")
}

/// Type the solution as a learner would, in the background of a shell of the host,
/// with this build's learnctr on PATH and the test's root filesystems as its store.
fn type_solution(script: &str, store: &std::path::Path) {
    let path = format!("{}:{}", bin().parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let status = Command::new("sh")
        .args(["-c", script])
        .env("PATH", path)
        .env("LEARNCTR_STORE_DIR", store)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
}

/// The check's last answer, once it passes or `within` has passed.
fn passes_within(id: &str, rootfs: &str, within: Duration) -> std::process::Output {
    let mut out = None;
    wait_until(within, || out.insert(check(id, rootfs)).status.success());
    out.unwrap()
}

fn reset(id: &str, rootfs: &str) {
    let out = learnctr(&["task", id, "--reset", "--rootfs", rootfs]).output().unwrap();
    assert!(out.status.success(), "reset {id}: {:?}", text(&out));
}

#[test]
fn each_task_fails_then_passes_with_its_solution_and_resets() {
    let Some(t) = root_test("each_task_fails_then_passes_with_its_solution_and_resets") else { return };
    let rootfs = t.busybox();
    let rootfs = rootfs.to_str().unwrap();
    let _ = std::fs::remove_file(progress_file());
    for id in ["1.1", "1.2", "2.1", "3.1", "4.1", "5.1", "5.2", "6.1", "6.2", "7.1", "7.2", "8.1", "9.1", "10.1"] {
        reset(id, rootfs);
        if id == "7.2" {
            // 7.2 builds on 7.1, whose solution is open since it passed.
            type_solution(&solution_lines("7.1", rootfs), t.path());
        }
        if id == "8.1" {
            // The bundle to fix is written by `learnctr task 8.1`.
            assert!(learnctr(&["task", id, "--yes", "--rootfs", rootfs]).output().unwrap().status.success());
        }
        // Not done: one sentence, non-zero, twice (which opens the solution).
        for _ in 0..2 {
            let out = check(id, rootfs);
            let (stdout, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(1), "{id} passed before it was done: {stdout}\n{stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "{id}: {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
        type_solution(&solution_lines(id, rootfs), t.path());
        let out = passes_within(id, rootfs, Duration::from_secs(10));
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{id} with its solution: {stdout}\n{stderr}");
        assert!(stdout.contains('✓') && !stdout.contains('⟦'), "{id}: {stdout}");
        reset(id, rootfs);
        let out = check(id, rootfs);
        assert_eq!(out.status.code(), Some(1), "{id} still passes after --reset: {:?}", text(&out));
    }
    let tasks = learnctr(&["tasks"]).output().unwrap();
    let listed = text(&tasks).0;
    assert_eq!(listed.matches("done yourself").count(), 14, "{listed}");
    // An instructor collects the same from `progress --json`.
    let json: serde_json::Value =
        serde_json::from_slice(&learnctr(&["progress", "--json"]).output().unwrap().stdout).unwrap();
    let done: Vec<&str> = json["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["tasks"].as_array().unwrap().iter())
        .filter(|t| t["done"] == true)
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        done,
        ["1.1", "1.2", "2.1", "3.1", "4.1", "5.1", "5.2", "6.1", "6.2", "7.1", "7.2", "8.1", "9.1", "10.1"],
        "{json:#}"
    );
    let _ = std::fs::remove_file(progress_file());
    t.assert_same_host("after the tasks and their resets");
}

/// learnctr's own lesson, held alive at the step that does what the task asks, does
/// not pass the task: the checks look for the learner's processes, not learnctr's.
#[test]
fn a_lesson_of_learnctr_does_not_pass_its_task() {
    let Some(t) = root_test("a_lesson_of_learnctr_does_not_pass_its_task") else { return };
    let rootfs = t.busybox();
    let rootfs = rootfs.to_str().unwrap();
    for (lesson, step, id) in [
        ("1", "uts", "1.1"),
        ("1", "net", "1.2"),
        ("2", "chroot", "2.1"),
        ("3", "pivot", "3.1"),
        ("4", "fresh", "4.1"),
        ("6", "drop", "6.1"),
        ("9", "copy_up", "9.1"),
    ] {
        let held = start_held(&["lesson", lesson, "--yes", "--rootfs", rootfs], step);
        let out = check(id, rootfs);
        signal(&held, nix::sys::signal::Signal::SIGINT);
        let mut held = held;
        let _ = held.wait();
        assert_eq!(out.status.code(), Some(1), "lesson {lesson} passed task {id}: {:?}", text(&out));
    }
    let _ = std::fs::remove_file(progress_file());
    t.assert_same_host("after the held lessons");
}

#[test]
fn a_wrong_task_is_one_sentence() {
    // Serial too: the root tests count every learnctr process on the host.
    let _one = serial();
    let out = learnctr(&["check", "9.9"]).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("9.9") && stderr.trim().lines().count() == 1, "{stderr}");
    let out = learnctr(&["--lang", "it", "hint", "9.9"]).output().unwrap();
    assert!(text(&out).1.contains("non esiste il compito 9.9"), "{:?}", text(&out));
}

/// The process of a held lesson that is inside its container: learnctr's binary in
/// another mount namespace, PID 1 of its own pid namespace when there is one.
fn contained_learnctr() -> i32 {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let me = id(&bin());
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").ok();
    let mut found: Vec<(i32, bool)> = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        if id(&e.path().join("exe")) != me || std::fs::read_link(e.path().join("ns/mnt")).ok() == host_mnt {
            continue;
        }
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        let nested = status.lines().any(|l| l.starts_with("NSpid:") && l.split_whitespace().count() > 2);
        found.push((pid, nested));
    }
    found.sort_by_key(|(_, nested)| !nested);
    found.first().map(|(pid, _)| *pid).expect("no learnctr process inside a container")
}

/// Run a command as a shell inside a held lesson's container sees it: its mount
/// namespace, its root.
fn inside(pid: i32, script: &str) -> String {
    let out = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-m", "-r", "-w", "/bin/sh", "-c", script])
        .output()
        .unwrap();
    text(&out).0.trim().to_string()
}

/// The capture-the-flag: the secret of 3.2 is read from inside lesson 3's container
/// through /proc, and accepted; inside lesson 4's, with a pid namespace, the same
/// attempt finds nothing, and /proc/1/root/etc/hostname is the root filesystem's.
#[test]
fn the_flag_is_captured_through_proc_and_the_pid_namespace_closes_the_door() {
    let Some(t) = root_test("the_flag_is_captured_through_proc_and_the_pid_namespace_closes_the_door") else { return };
    let rootfs = t.busybox();
    let rootfs = rootfs.to_str().unwrap();
    reset("3.2", rootfs);
    assert!(learnctr(&["task", "3.2", "--yes"]).output().unwrap().status.success());
    assert_eq!(check("3.2", rootfs).status.code(), Some(1), "no answer given");
    let wrong = learnctr(&["check", "3.2", "0000", "--rootfs", rootfs]).output().unwrap();
    assert_eq!(wrong.status.code(), Some(1), "{:?}", text(&wrong));
    let steal = "for p in /proc/[0-9]*; do cat $p/root/run/learnctr-flag-3.2 2>/dev/null && break; done";

    let held = start_held(&["lesson", "3", "--yes", "--rootfs", rootfs], "escape");
    let secret = inside(contained_learnctr(), steal);
    signal(&held, nix::sys::signal::Signal::SIGINT);
    let mut held = held;
    let _ = held.wait();
    assert_eq!(secret.len(), 16, "read inside lesson 3: {secret:?}");

    let held = start_held(&["lesson", "4", "--yes", "--rootfs", rootfs], "fresh");
    let pid = contained_learnctr();
    let nothing = inside(pid, steal);
    let hostname = inside(pid, "cat /proc/1/root/etc/hostname");
    signal(&held, nix::sys::signal::Signal::SIGINT);
    let mut held = held;
    let _ = held.wait();
    assert!(nothing.is_empty(), "lesson 4's container still reached the flag: {nothing}");

    let out = learnctr(&["check", "3.2", &secret, "--rootfs", rootfs]).output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(!std::path::Path::new("/run/learnctr-flag-3.2").exists(), "a captured flag is removed");
    let host =
        learnctr(&["check", "4.2", std::fs::read_to_string("/etc/hostname").unwrap().trim(), "--rootfs", rootfs])
            .output()
            .unwrap();
    assert_eq!(host.status.code(), Some(1), "the host's hostname is not the answer: {:?}", text(&host));
    let out = learnctr(&["check", "4.2", &hostname, "--rootfs", rootfs]).output().unwrap();
    assert!(out.status.success(), "{hostname}: {:?}", text(&out));
    let _ = std::fs::remove_file(progress_file());
    t.assert_same_host("after the capture-the-flag");
}
