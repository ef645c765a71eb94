//! Lesson 11 as root: Podman runs the lesson's rootfs on learnctr; every check is
//! proved, in the three languages, and the host keeps nothing (no mount, cgroup,
//! directory or process of the private Podman).

mod common;

use common::*;

/// calls 4, config 3, tree 3.
const CHECKS: usize = 10;

fn podman_installed() -> bool {
    std::process::Command::new("podman").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Podman is part of the course's machine (`make deps` installs it): in CI its
/// absence is a failure, elsewhere a skip that says so.
fn require_podman(test: &str) -> bool {
    if podman_installed() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: CI=true but podman is not installed (make deps installs it)");
    }
    eprintln!("SKIPPED {test}: podman is not installed");
    false
}

/// What Podman writes in /var/lib whatever its configuration says (an image cache,
/// CNI results): names, sizes and times, which the lesson must leave as they were.
fn var_lib_of_engines() -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![std::path::PathBuf::from("/var/lib/containers"), std::path::PathBuf::from("/var/lib/cni")];
    while let Some(p) = stack.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else { continue };
        found.push(format!("{} {} {:?}", p.display(), m.len(), m.modified().ok()));
        if m.is_dir() {
            stack.extend(std::fs::read_dir(&p).into_iter().flatten().flatten().map(|e| e.path()));
        }
    }
    found.sort();
    found
}

fn podman_dirs() -> Vec<String> {
    std::fs::read_dir("/run")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("learnctr-podman-"))
        .collect()
}

#[test]
fn lesson11_runs_podman_on_learnctr() {
    run_in(&["en"]);
}

/// The same in the other languages (on this host only: the v2 VM runs the English one).
#[test]
fn lesson11_in_italian_and_portuguese() {
    run_in(&["it", "pt"]);
}

fn run_in(langs: &[&str]) {
    let Some(t) = root_test("lesson11") else { return };
    if !require_podman("lesson11") {
        return;
    }
    let rootfs = t.busybox();
    for &lang in langs {
        let before = host_state();
        let var_lib = var_lib_of_engines();
        let out = learnctr(&["lesson", "11", "--yes", "--lang", lang, "--rootfs", rootfs.to_str().unwrap()])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{lang}: {stdout}\n{stderr}");
        assert_eq!(stdout.matches('✓').count(), CHECKS, "{lang}: {stdout}");
        assert!(!stdout.contains('✗'), "{lang}: {stdout}");
        // The calls come from learnctr's own log, as Podman made them.
        assert!(stdout.contains("create --bundle") && stdout.contains("--pid-file"), "{stdout}");
        assert!(stdout.contains("exec --pid-file") && stdout.contains("--process"), "{stdout}");
        if lang != "en" {
            // No English claim reaches an Italian or Portuguese run.
            assert!(!stdout.contains("the container's parent is conmon"), "{lang}: {stdout}");
            assert!(!stdout.contains("Step 1 of"), "{lang}: {stdout}");
        }
        assert_same_host(&before, &host_state(), &format!("after lesson 11 ({lang})"));
        assert_eq!(var_lib, var_lib_of_engines(), "{lang}: Podman wrote in the host's /var/lib");
        assert!(podman_dirs().is_empty(), "{lang}: the private Podman's directory remains: {:?}", podman_dirs());
    }
}

#[test]
fn without_podman_the_lesson_says_what_it_needs() {
    let Some(t) = root_test("without_podman_the_lesson_says_what_it_needs") else { return };
    let rootfs = t.busybox();
    // A PATH with no podman on it: the lesson stops with one sentence, non-zero.
    let out = learnctr(&["lesson", "11", "--yes", "--rootfs", rootfs.to_str().unwrap()])
        .env("PATH", t.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("Podman is not installed"), "{stdout}\n{stderr}");
    assert!(!stdout.contains('✓'), "{stdout}");
}

/// Task 11.1: while the lesson's last step waits, the container's host pid (conmon's
/// child, with learnctr as conmon's runtime) is accepted, and conmon's own pid or a
/// number that is no process is not.
#[test]
fn task_11_1_finds_the_container_under_conmon() {
    let Some(t) = root_test("task_11_1") else { return };
    if !require_podman("task_11_1") {
        return;
    }
    let rootfs = t.busybox();
    let held = start_held(&["lesson", "11", "--yes", "--rootfs", rootfs.to_str().unwrap()], "tree");
    // The solution's way: every process whose parent is a conmon.
    let listing = text(&std::process::Command::new("ps").args(["-e", "-o", "pid=,ppid=,comm="]).output().unwrap()).0;
    let rows: Vec<(String, String, String)> = listing
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect();
    let conmons: Vec<&String> = rows.iter().filter(|(_, _, c)| c == "conmon").map(|(p, _, _)| p).collect();
    let container = rows.iter().find(|(_, ppid, _)| conmons.contains(&ppid)).map(|(p, _, _)| p.clone());
    let check = |answer: &str| learnctr(&["check", "11.1", answer]).output().unwrap();
    let found = container.as_deref().map(check);
    let conmon = conmons.first().map(|c| check(c));
    let nothing = check("999999999");
    signal(&held, nix::sys::signal::Signal::SIGINT);
    let mut held = held;
    let _ = held.wait();
    let found = found.expect("no child of conmon while lesson 11 waits");
    assert!(found.status.success(), "{:?}", text(&found));
    assert_eq!(conmon.expect("a conmon").status.code(), Some(1), "conmon itself is not the container");
    assert_eq!(nothing.status.code(), Some(1));
    let _ = std::fs::remove_file(progress_file());
    t.assert_same_host("after task 11.1");
}
