//! The learner's tasks, graded on the kernel: each check fails on a machine where the
//! task is not done (one sentence, what is missing and what to try), passes once the
//! task's own printed solution has been typed, and is not passed by learnctr's own
//! lesson; `--reset` removes what the solution made.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Type the solution as a learner would, in the background of a shell of the host.
fn type_solution(script: &str) {
    let status = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
}

fn passes_within(id: &str, rootfs: &str, within: Duration) -> std::process::Output {
    let deadline = Instant::now() + within;
    loop {
        let out = check(id, rootfs);
        if out.status.success() || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn reset(id: &str, rootfs: &str) {
    let out = learnctr(&["task", id, "--reset", "--rootfs", rootfs]).output().unwrap();
    assert!(out.status.success(), "reset {id}: {:?}", text(&out));
}

#[test]
fn each_task_fails_then_passes_with_its_solution_and_resets() {
    if !require_root("each_task_fails_then_passes_with_its_solution_and_resets") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(dir.path());
    let rootfs = rootfs.to_str().unwrap();
    let _ = std::fs::remove_file(progress_file());
    let before = host_state();
    for id in ["1.1", "1.2", "2.1", "3.1", "4.1", "5.1", "6.1", "7.1"] {
        reset(id, rootfs);
        // Not done: one sentence, non-zero, twice (which opens the solution).
        for _ in 0..2 {
            let out = check(id, rootfs);
            let (stdout, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(1), "{id} passed before it was done: {stdout}\n{stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "{id}: {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
        type_solution(&solution_lines(id, rootfs));
        let out = passes_within(id, rootfs, Duration::from_secs(5));
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{id} with its solution: {stdout}\n{stderr}");
        assert!(stdout.contains('✓') && !stdout.contains('⟦'), "{id}: {stdout}");
        reset(id, rootfs);
        let out = check(id, rootfs);
        assert_eq!(out.status.code(), Some(1), "{id} still passes after --reset: {:?}", text(&out));
    }
    let tasks = learnctr(&["tasks"]).output().unwrap();
    let listed = text(&tasks).0;
    assert_eq!(listed.matches("done yourself").count(), 8, "{listed}");
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
    assert_eq!(done, ["1.1", "1.2", "2.1", "3.1", "4.1", "5.1", "6.1", "7.1"], "{json:#}");
    let _ = std::fs::remove_file(progress_file());
    assert_same_host(&before, &host_state(), "after the tasks and their resets");
}

/// learnctr's own lesson, held alive at the step that does what the task asks, does
/// not pass the task: the checks look for the learner's processes, not learnctr's.
#[test]
fn a_lesson_of_learnctr_does_not_pass_its_task() {
    if !require_root("a_lesson_of_learnctr_does_not_pass_its_task") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(dir.path());
    let rootfs = rootfs.to_str().unwrap();
    let before = host_state();
    for (lesson, step, id) in [
        ("1", "uts", "1.1"),
        ("1", "net", "1.2"),
        ("2", "chroot", "2.1"),
        ("3", "pivot", "3.1"),
        ("4", "fresh", "4.1"),
        ("6", "drop", "6.1"),
    ] {
        let held = start_held(&["lesson", lesson, "--yes", "--rootfs", rootfs], step);
        let out = check(id, rootfs);
        signal(&held, nix::sys::signal::Signal::SIGINT);
        let mut held = held;
        let _ = held.wait();
        assert_eq!(out.status.code(), Some(1), "lesson {lesson} passed task {id}: {:?}", text(&out));
    }
    let _ = std::fs::remove_file(progress_file());
    assert_same_host(&before, &host_state(), "after the held lessons");
}

#[test]
fn a_wrong_task_is_one_sentence() {
    let out = learnctr(&["check", "9.9"]).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("9.9") && stderr.trim().lines().count() == 1, "{stderr}");
    let out = learnctr(&["--lang", "it", "hint", "9.9"]).output().unwrap();
    assert!(text(&out).1.contains("non esiste il compito 9.9"), "{:?}", text(&out));
}
