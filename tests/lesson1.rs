//! Lesson 1 as root: every check passes in every language, the trace comes from the
//! primitives, and the host is left exactly as it was — also after Ctrl-C and SIGKILL.

mod common;

use common::*;
use nix::sys::signal::Signal;
use std::time::Duration;

/// Lesson 1's checks, step by step: uts 3, pid 3, mount 4, ipc 3, net 3, user 4,
/// cgroup 2, setns 3, together 7.
const LESSON1_CHECKS: usize = 32;

fn section_titles(lang: &str) -> Vec<String> {
    let src =
        std::fs::read_to_string(format!("{}/lessons/{lang}/01-namespaces.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    src.lines()
        .filter_map(|l| l.strip_prefix("## "))
        .filter_map(|h| h.split_once(" — ").map(|(_, t)| t.to_string()))
        .collect()
}

#[test]
fn lesson1_passes_every_check_in_every_language() {
    let Some(t) = root_test("lesson1_passes_every_check_in_every_language") else { return };
    for lang in ["en", "it", "pt"] {
        let out = learnctr(&["lesson", "1", "--yes", "--lang", lang]).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "lesson 1 --lang {lang} failed:\n{stdout}\n{stderr}");
        assert_eq!(stdout.matches('✓').count(), LESSON1_CHECKS, "{lang}: checks passed\n{stdout}");
        assert!(!stdout.contains('✗'), "{lang}: a check failed\n{stdout}");
        assert!(!stdout.contains('⟦'), "{lang}: a text is missing\n{stdout}");
        // The trace is the primitives' own record: the calls, their arguments, results.
        for call in [
            "unshare(CLONE_NEWUTS) = 0",
            "sethostname(\"learnctr-uts\", 12) = 0",
            "unshare(CLONE_NEWPID) = 0",
            "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0",
            "shmget(0x1ea4, 4096, IPC_CREAT|0600) = ",
            "uid_map\", \"0 100000 1\\n\") = 11",
            "setns(",
            "→ 1] mount(\"proc\", \"/proc\", \"proc\"",
        ] {
            assert!(stdout.contains(call), "{lang}: trace lacks {call}\n{stdout}");
        }
        for title in section_titles(lang) {
            assert!(stdout.contains(&title), "{lang}: step title {title:?} not shown");
        }
        if lang != "en" {
            for title in section_titles("en") {
                assert!(!stdout.contains(&title), "{lang}: English title {title:?} shown");
            }
        }
        t.assert_same_host(&format!("after lesson 1 --lang {lang}"));
    }
    let _ = std::fs::remove_file(progress_file());
}

#[test]
fn a_single_step_runs_alone() {
    let Some(_t) = root_test("a_single_step_runs_alone") else { return };
    let out = learnctr(&["lesson", "1", "--step", "2", "--yes"]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Step 2 of 9"), "{stdout}");
    assert!(!stdout.contains("Step 1 of 9"), "{stdout}");
    assert_eq!(stdout.matches('✓').count(), 3, "{stdout}");
    let out = learnctr(&["lesson", "1", "--step", "12", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("no step 12"), "{}", text(&out).1);
}

fn journal_processes() -> Vec<i32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/run/learnctr/journal").into_iter().flatten().flatten() {
        let record: serde_json::Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
        if record["object"]["kind"] == "process" {
            pids.push(record["object"]["pid"].as_i64().unwrap() as i32);
        }
    }
    pids
}

fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

fn wait_gone(pid: i32) -> bool {
    wait_until(Duration::from_secs(5), || !alive(pid))
}

#[test]
fn ctrl_c_mid_step_leaves_nothing() {
    let Some(t) = root_test("ctrl_c_mid_step_leaves_nothing") else { return };
    let mut child = start_held(&["lesson", "1", "--yes"], "mount");
    // While the mount step's process lives: its tmpfs is not in the host's table.
    let during = host_state();
    assert_eq!(t.before.mountinfo, during.mountinfo, "the host's mount table changed during the mount step");
    let held = journal_processes();
    assert_eq!(held.len(), 1, "the journal names the isolated process");
    assert!(alive(held[0]));
    signal(&child, Signal::SIGINT);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "Ctrl-C exits with 130");
    assert!(wait_gone(held[0]), "the isolated process {} survived Ctrl-C", held[0]);
    t.assert_same_host("after Ctrl-C");
}

#[test]
fn sigkill_then_cleanup_leaves_nothing() {
    let Some(t) = root_test("sigkill_then_cleanup_leaves_nothing") else { return };
    let mut child = start_held(&["lesson", "1", "--yes"], "together");
    // With a new pid namespace there are two: learnctr's child and PID 1 inside.
    let held = journal_processes();
    assert_eq!(held.len(), 2, "{held:?}");
    signal(&child, Signal::SIGKILL);
    child.wait().unwrap();
    // The kernel kills the children (PR_SET_PDEATHSIG); the journal entry stays.
    for pid in &held {
        assert!(wait_gone(*pid), "process {pid} survived its parent's SIGKILL");
    }
    assert!(!journal_processes().is_empty(), "the journal entry of the killed run is gone too early");
    let out = learnctr(&["cleanup"]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("process {}", held[0])), "{stdout}");
    t.assert_same_host("after SIGKILL and cleanup");
    // Idempotent: the second time there is nothing to do.
    let out = learnctr(&["cleanup"]).output().unwrap();
    assert!(out.status.success());
    assert!(text(&out).0.contains("Nothing to clean"), "{}", text(&out).0);
}

#[test]
fn the_next_start_recovers_after_sigkill() {
    let Some(t) = root_test("the_next_start_recovers_after_sigkill") else { return };
    let mut child = start_held(&["lesson", "1", "--yes"], "uts");
    signal(&child, Signal::SIGKILL);
    child.wait().unwrap();
    assert!(!journal_processes().is_empty());
    let out = learnctr(&["lesson", "1", "--step", "1", "--yes"]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("removed what an earlier, interrupted learnctr left behind"), "{stderr}");
    t.assert_same_host("after the next start");
}
