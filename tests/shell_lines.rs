//! The shell equivalents a lesson prints are typed, as printed, and do what the text
//! says. A line that opens a shell (`unshare --mount sh`) takes the lines after it as
//! its input, as when they are typed into it. Everything runs inside a scratch
//! `unshare` of every namespace, so nothing reaches the host.

mod common;

use common::*;

/// The lines under "Shell equivalent" of one step, as the lesson printed them.
fn printed_lines(lesson: &str, step: &str, rootfs: &str) -> Vec<String> {
    let out = learnctr(&["lesson", lesson, "--step", step, "--yes", "--rootfs", rootfs]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "lesson {lesson} step {step}: {stdout}\n{stderr}");
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("Shell equivalent"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.trim_start().trim_start_matches("# ").to_string())
        .collect()
}

/// One script from the printed lines: after a line that opens a shell, the rest is
/// that shell's input (a here-document), as if typed into it.
fn as_typed(lines: &[String]) -> String {
    let mut script = String::new();
    for (i, line) in lines.iter().enumerate() {
        let opens_shell = line.ends_with(" sh") && (line.starts_with("unshare ") || line.starts_with("nsenter "));
        if opens_shell && i + 1 < lines.len() {
            script.push_str(&format!("{line} <<'LEARNCTR_TYPED'\n{}\nLEARNCTR_TYPED\n", lines[i + 1..].join("\n")));
            return script;
        }
        script.push_str(line);
        script.push('\n');
    }
    script
}

/// Type the lines in a scratch set of namespaces; stdout and stderr together.
fn type_in_scratch(lines: &[String]) -> String {
    let script = as_typed(lines);
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--uts", "--ipc", "--net", "--pid", "--fork", "--mount-proc"])
        .args(["sh", "-c", &script])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    format!("{stdout}{stderr}")
}

#[test]
fn the_printed_shell_equivalents_run_as_printed() {
    if !require_root("the_printed_shell_equivalents_run_as_printed") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(dir.path());
    let rootfs = rootfs.to_str().unwrap();
    let before = host_state();
    // (lesson, step, what the typed lines must print)
    let cases: [(&str, &str, &[&str]); 8] = [
        ("1", "1", &["learnctr-uts"]),
        ("1", "2", &["1\n"]),
        ("1", "3", &["learnctr-lesson1"]),
        ("1", "4", &["Shared memory id"]),
        ("1", "5", &["lo:"]),
        // Written maps, then nsenter: root inside, uid 100000 outside.
        ("1", "6", &["uid=0(root)", "100000"]),
        // Shared: Invalid argument; private: the pivot works and / is the rootfs.
        ("3", "1", &["Invalid argument"]),
        // runc's three capabilities, bounding set and all.
        ("6", "2", &["CapBnd:\t0000000020000420", "CapInh:\t0000000000000000"]),
    ];
    for (lesson, step, expected) in cases {
        let lines = printed_lines(lesson, step, rootfs);
        assert!(!lines.is_empty(), "lesson {lesson} step {step} prints no shell equivalent");
        let typed = type_in_scratch(&lines);
        for want in expected {
            assert!(typed.contains(want), "lesson {lesson} step {step}: {lines:?} printed\n{typed}\nwithout {want:?}");
        }
    }
    // Lesson 3's pivot by hand: afterwards / lists the root filesystem, not the host.
    let mut lines = printed_lines("3", "2", rootfs);
    lines.push("ls /".to_string());
    let typed = type_in_scratch(&lines);
    assert!(typed.contains("linuxrc") && !typed.contains("usr\nvar\nwork"), "{lines:?}\n{typed}");
    // Lesson 5's fork bomb parses in dash, Debian's sh (`:(){ :|:& };:` does not).
    let bomb = printed_lines("5", "5", rootfs).into_iter().find(|l| l.contains("bomb")).expect("the fork bomb line");
    let body = bomb.split('\'').nth(1).expect("a quoted script");
    let parsed = std::process::Command::new("sh").args(["-n", "-c", body]).output().unwrap();
    assert!(parsed.status.success(), "{bomb}: {:?}", text(&parsed));
    assert_same_host(&before, &host_state(), "after typing the shell equivalents");
}
