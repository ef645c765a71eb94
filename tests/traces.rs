//! The syscall trace a learner reads: each step shows what is new in the lesson, and
//! folds the calls an earlier step already showed (lessons 6 and 7 repeated 72 % and
//! 84 % of their earlier lines before). `--trace full` still shows every call.

mod common;

use common::*;
use std::collections::HashSet;

/// The trace lines of each step of a lesson's output: a call with its pid and every
/// number taken out (a new pid or fd is not a new call), or `None` for a folded line.
fn trace_lines_by_step(stdout: &str) -> Vec<Vec<Option<String>>> {
    let mut steps: Vec<Vec<Option<String>>> = Vec::new();
    let mut in_trace = false;
    for line in stdout.lines() {
        if line.starts_with("── ") {
            steps.push(Vec::new());
            in_trace = false;
        } else if line.starts_with("System calls made") {
            in_trace = true;
        } else if in_trace && line.trim().is_empty() {
            in_trace = false;
        } else if in_trace && line.contains("[pid") {
            let call = line.split_once("] ").map(|(_, c)| c).unwrap_or(line);
            let shape: String = call.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect();
            steps.last_mut().expect("a trace before any step").push(Some(shape));
        } else if in_trace && line.trim_start().starts_with('⋯') {
            steps.last_mut().expect("a trace before any step").push(None);
        }
    }
    steps
}

/// Of the trace lines shown, the share that repeats a call an earlier step showed.
fn repeated_share(stdout: &str) -> (usize, usize) {
    let mut seen: HashSet<String> = HashSet::new();
    let (mut shown, mut repeated) = (0, 0);
    for step in trace_lines_by_step(stdout) {
        for line in &step {
            shown += 1;
            if line.as_ref().is_some_and(|l| seen.contains(l)) {
                repeated += 1;
            }
        }
        seen.extend(step.into_iter().flatten());
    }
    (repeated, shown)
}

fn run(lesson: &str, rootfs: &str, extra: &[&str]) -> String {
    let mut args = vec!["lesson", lesson, "--yes", "--rootfs", rootfs];
    args.extend_from_slice(extra);
    let out = learnctr(&args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "lesson {lesson}: {stdout}\n{stderr}");
    stdout
}

#[test]
fn no_lesson_repeats_more_than_a_third_of_its_trace_and_full_shows_all() {
    let Some(t) = root_test("no_lesson_repeats_more_than_a_third_of_its_trace_and_full_shows_all") else { return };
    let rootfs = t.busybox();
    let rootfs = rootfs.to_str().unwrap();
    let mut report = Vec::new();
    for lesson in 1..=10 {
        let stdout = run(&lesson.to_string(), rootfs, &[]);
        let (repeated, shown) = repeated_share(&stdout);
        assert!(shown > 0, "lesson {lesson} shows no trace: {stdout}");
        report.push(format!("lesson {lesson}: {repeated} of {shown} trace lines repeat an earlier step"));
        assert!(repeated * 100 <= shown * 30, "{}\n{stdout}", report.join("\n"));
    }
    eprintln!("{}", report.join("\n"));
    // Lesson 7 starts a container in every step: folded by default, all there in full.
    let folded = run("7", rootfs, &[]);
    let full = run("7", rootfs, &["--trace", "full"]);
    assert!(folded.contains("calls as in step 1"), "nothing folded: {folded}");
    assert!(!full.contains("calls as in step"), "--trace full folded calls: {full}");
    let count = |s: &str| trace_lines_by_step(s).iter().flatten().filter(|l| l.is_some()).count();
    assert!(count(&full) > 2 * count(&folded), "full {} vs folded {}", count(&full), count(&folded));
    // The calls a step's text is about are marked, even when an earlier step made them.
    let pivot = run("3", rootfs, &[]);
    assert!(pivot.lines().any(|l| l.contains('▶') && l.contains("pivot_root(\".\", \".\") = 0")), "{pivot}");
    assert!(pivot.lines().any(|l| l.contains('▶') && l.contains("chdir(\"..\")")), "lesson 3's escape climbs: {pivot}");
    t.assert_same_host("after the trace lessons");
}
