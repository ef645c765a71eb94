//! The shell equivalents a lesson prints are typed, as printed, and do what the text
//! says. A line that opens a shell (`unshare --mount sh`) takes the lines after it as
//! its input, as when they are typed into it. Everything runs inside a scratch
//! `unshare` of every namespace, so nothing reaches the host.
//!
//! Not typed here, and the texts say why: lesson 2's escape (C, not shell), lesson 5's
//! cgroup-tools commands (its text names the package; the cgroup files themselves
//! are what the lesson writes), lesson 7's last two steps (they name learnctr's own
//! container by its PID), lessons 8 and 10 (learnctr and runc on a bundle, edited with
//! jq: the runtime and engine suites run those commands), lesson 9's `learnctr image`
//! and registry commands (tests/images.rs runs them on a store and a registry of its own).

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
        // A line in parentheses is a note beside the commands ("(runc: ... in
        // config.json)"), not something to type.
        .filter(|l| !l.starts_with('('))
        .collect()
}

/// One script from the printed lines: after a line that opens a shell, the rest is
/// that shell's input (a here-document), as if typed into it.
fn as_typed(lines: &[String]) -> String {
    let mut script = String::new();
    for (i, line) in lines.iter().enumerate() {
        let opens_shell = (line.ends_with(" sh") || line.ends_with(" /bin/sh"))
            && ["unshare ", "nsenter ", "chroot "].iter().any(|c| line.starts_with(c));
        if opens_shell && i + 1 < lines.len() {
            script.push_str(&format!("{line} <<'LEARNCTR_TYPED'\n{}\nLEARNCTR_TYPED\n", lines[i + 1..].join("\n")));
            return script;
        }
        script.push_str(line);
        script.push('\n');
    }
    script
}

/// Type the lines in a scratch set of namespaces; stdout and stderr together. The
/// last line typed must succeed.
fn type_in_scratch(lines: &[String]) -> String {
    let script = as_typed(lines);
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--uts", "--ipc", "--net", "--pid", "--fork", "--mount-proc"])
        .args(["sh", "-c", &script])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{lines:?} typed: {:?}\n{stdout}{stderr}", out.status);
    format!("{stdout}{stderr}")
}

/// A step's lines, then lines that look at what they made.
fn typed_with(lesson: &str, step: &str, rootfs: &str, then: &[String]) -> String {
    let mut lines = printed_lines(lesson, step, rootfs);
    lines.extend_from_slice(then);
    type_in_scratch(&lines)
}

#[test]
fn the_printed_shell_equivalents_run_as_printed() {
    let Some(t) = root_test("the_printed_shell_equivalents_run_as_printed") else { return };
    let rootfs = t.busybox();
    let rootfs = rootfs.to_str().unwrap();
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
    let typed = typed_with("3", "2", rootfs, &["ls /".into()]);
    assert!(typed.contains("linuxrc") && !typed.contains("work\n"), "{typed}");
    // Lesson 2's chroot: the shell's / is the root filesystem.
    let typed = typed_with("2", "1", rootfs, &["ls /".into()]);
    assert!(typed.contains("linuxrc") && !typed.contains("work\n"), "{typed}");
    // Lesson 1: a namespace that exists, joined; the cgroup namespace's own root.
    assert!(typed_with("1", "8", rootfs, &["kill $!".into()]).contains("learnctr-target"));
    assert!(typed_with("1", "7", rootfs, &[]).lines().all(|l| l.ends_with(":/")));
    // Lesson 4: PID 1 with the host's /proc, then alone with a fresh one.
    let stale = typed_with("4", "1", rootfs, &[]);
    assert!(stale.starts_with("1\n") && stale.lines().count() > 3, "{stale}");
    let fresh = typed_with("4", "2", rootfs, &[]);
    assert!(fresh.lines().count() <= 4, "a fresh /proc lists sh and ps only: {fresh}");
    // Lesson 4's /dev and /sys by hand.
    let dev = typed_with("4", "3", rootfs, &[format!("ls {rootfs}/dev")]);
    for name in ["null", "pts", "fd"] {
        assert!(dev.lines().any(|l| l == name), "{name} missing from /dev: {dev}");
    }
    let sys =
        typed_with("4", "4", rootfs, &["wc -c < /proc/timer_list; grep ' /proc/sys ' /proc/self/mountinfo".into()]);
    assert!(sys.starts_with("0\n") && sys.contains(" ro,"), "{sys}");
    // Lesson 7: lo up and answering; then the veth pair, then the bridge, each pinged.
    let lo = typed_with("7", "1", rootfs, &[]);
    assert!(lo.contains("1 packets received"), "{lo}");
    let mut lines = printed_lines("7", "2", rootfs);
    lines.extend(printed_lines("7", "3", rootfs));
    let net = type_in_scratch(&lines);
    assert_eq!(net.matches("1 packets received").count(), 2, "{lines:?}\n{net}");
    // Lesson 5's fork bomb parses in dash, Debian's sh (`:(){ :|:& };:` does not).
    let bomb = printed_lines("5", "5", rootfs).into_iter().find(|l| l.contains("bomb")).expect("the fork bomb line");
    let body = bomb.split('\'').nth(1).expect("a quoted script");
    let parsed = std::process::Command::new("sh").args(["-n", "-c", body]).output().unwrap();
    assert!(parsed.status.success(), "{bomb}: {:?}", text(&parsed));
    // Lesson 9's overlay by hand, then its three changes, typed into the same shell: a
    // copy-up, a 0/0 whiteout, an opaque directory; in a scratch directory of its own.
    let work = tempfile::tempdir().unwrap();
    let mut lines = vec![format!("cd {}", work.path().display())];
    lines.extend(printed_lines("9", "1", rootfs));
    lines.extend(printed_lines("9", "2", rootfs));
    let overlay = type_in_scratch(&lines);
    assert!(overlay.contains("issue\nmotd\ntop\n"), "{lines:?}\n{overlay}");
    assert!(overlay.lines().any(|l| l.starts_with('c') && l.contains("0, 0") && l.ends_with("motd")), "{overlay}");
    assert!(overlay.contains("trusted.overlay.opaque=\"y\""), "{overlay}");
    // Its digests by hand: a layer's digest and diff_id differ.
    let mut lines = vec![format!("cd {}", work.path().display())];
    lines.extend(printed_lines("9", "3", rootfs).into_iter().take(2));
    let digests = type_in_scratch(&lines);
    let sums: Vec<&str> =
        digests.lines().filter_map(|l| l.split_whitespace().next()).filter(|h| h.len() == 64).collect();
    assert!(sums.len() == 2 && sums[0] != sums[1], "{digests}");
    t.assert_same_host("after typing the shell equivalents");
}
