//! The command line: bad input gets one sentence and a non-zero exit, never a panic;
//! without root, lessons say to use sudo while lessons, doctor and --help still work.

mod common;

use common::*;
use std::os::unix::process::CommandExt;

/// One line on stderr, no panic, no backtrace.
fn assert_one_clear_line(stderr: &str) {
    assert_eq!(stderr.trim().lines().count(), 1, "expected one line, got:\n{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{stderr}");
}

#[test]
fn a_wrong_lesson_number_is_one_sentence() {
    for (args, expect) in [
        (vec!["lesson", "99"], "there is no lesson 99"),
        (vec!["lesson", "abc"], "'abc' is not a lesson number"),
        (vec!["lesson", "0"], "there is no lesson 0"),
        (vec!["--lang", "xx", "lessons"], "unknown language 'xx'"),
        (vec!["lesson", "1", "--step", "x"], "'x' is not a step number"),
        (vec!["frobnicate"], "see `learnctr --help`"),
    ] {
        let out = learnctr(&args).output().unwrap();
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert_one_clear_line(&stderr);
    }
}

#[test]
fn errors_speak_the_learners_language() {
    let out = learnctr(&["--lang", "it", "lesson", "99"]).output().unwrap();
    assert!(text(&out).1.contains("99"));
    assert!(!text(&out).1.contains("there is no lesson"), "{}", text(&out).1);
    let out = learnctr(&["lesson", "99"]).env("LANG", "pt_BR.UTF-8").output().unwrap();
    assert!(!text(&out).1.contains("there is no lesson"), "{}", text(&out).1);
}

/// Run as an unprivileged user (nobody) when we are root; as ourselves otherwise.
fn unprivileged(args: &[&str]) -> std::process::Output {
    let mut cmd = learnctr(args);
    cmd.env("HOME", "/nonexistent");
    if is_root() {
        cmd.uid(65534).gid(65534);
    }
    cmd.output().unwrap()
}

#[test]
fn without_root_a_lesson_says_sudo_and_the_rest_works() {
    let out = unprivileged(&["lesson", "1"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("run it with sudo"), "{stderr}");
    assert_one_clear_line(&stderr);

    let out = unprivileged(&["lessons"]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains("namespaces"));

    let out = unprivileged(&["doctor"]);
    let (stdout, stderr) = text(&out);
    assert!(stdout.contains("kernel") && stdout.contains("cgroups"), "{stdout}{stderr}");
    assert!(stdout.contains("not root"), "doctor says what it could not check: {stdout}");
    assert!(!stderr.contains("panicked"));

    let out = unprivileged(&["--help"]);
    assert!(out.status.success());
    assert!(text(&out).0.contains("lesson"));

    let out = unprivileged(&["cleanup"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("sudo"));
}

#[test]
fn version_and_completions() {
    let out = learnctr(&["--version"]).output().unwrap();
    assert!(out.status.success());
    assert!(text(&out).0.starts_with("learnctr "));
    for shell in ["bash", "zsh", "fish"] {
        let out = learnctr(&["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        assert!(text(&out).0.contains("lesson"), "{shell} completion names the commands");
    }
}

/// A progress file of the ten-lesson course kept task ids: its 9.1 (the finale's) and
/// 10.1 (the engines') are today's 10.1 and 11.1, lesson 9 having been inserted.
#[test]
fn task_ids_of_an_older_progress_file_keep_their_tasks() {
    let file = std::env::temp_dir().join(format!("learnctr-progress-ids-{}.json", std::process::id()));
    std::fs::write(&file, r#"{"done":[9],"tasks_passed":["9.1","10.1"],"hints_seen":{"9.1":2}}"#).unwrap();
    let out = learnctr(&["progress", "--json"]).env("LEARNCTR_PROGRESS_FILE", &file).output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lessons = json["lessons"].as_array().unwrap();
    let watched: Vec<&str> =
        lessons.iter().filter(|l| l["watched"] == true).map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(watched, ["finale"], "{json:#}");
    let done: Vec<&str> = lessons
        .iter()
        .flat_map(|l| l["tasks"].as_array().unwrap().iter())
        .filter(|t| t["done"] == true)
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(done, ["10.1", "11.1"], "{json:#}");
    assert_eq!(json["hints_seen"], serde_json::json!({ "10.1": 2 }), "{json:#}");
    let _ = std::fs::remove_file(file);
}

#[test]
fn progress_is_kept_and_reset() {
    let file = std::env::temp_dir().join(format!("learnctr-progress-reset-{}.json", std::process::id()));
    std::fs::write(&file, r#"{"done":[1]}"#).unwrap();
    let map = learnctr(&["lessons"]).env("LEARNCTR_PROGRESS_FILE", &file).output().unwrap();
    assert!(text(&map).0.contains("✓ 1"), "{}", text(&map).0);
    let out = learnctr(&["reset", "1"]).env("LEARNCTR_PROGRESS_FILE", &file).output().unwrap();
    assert!(out.status.success());
    let map = learnctr(&["lessons"]).env("LEARNCTR_PROGRESS_FILE", &file).output().unwrap();
    assert!(!text(&map).0.contains("✓ 1"), "{}", text(&map).0);
    let _ = std::fs::remove_file(file);
}
