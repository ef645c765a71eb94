//! Wrong commands, each in English, Italian and Portuguese: what a learner (or an
//! experienced container engineer) reads when a command is mistyped or points at the
//! wrong thing.
//!
//! Every answer must be:
//! - a non-zero exit: 2 for a usage mistake, 1 for anything else (as each case says);
//! - no panic, no backtrace, nothing on stdout;
//! - exactly one line on stderr, `learnctr: ` and one sentence: it does not start with a
//!   capital letter, ends with a full stop (a question mark for "did you mean ...?"),
//!   and holds no ". X" (a second sentence);
//! - naming the mistake: every word or value the case lists appears in it;
//! - never content of the input file, nor an internal name (`.tmp-`, `os error`).
//!
//! Italian and Portuguese are checked by the same rules (their sentences start lower
//! case too), and they must differ from the English answer and hold none of a list of
//! English words (`the`, `is`, `does`, `cannot`, ...) outside the values they quote and
//! the <PLACEHOLDERS> of a usage line.
//! The language is given with `--lang` (the runtime's commands speak only English
//! without it, for the engines that read their errors); a bad `--lang` is the one
//! case that sets the locale instead.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

/// Words that show an English sentence in an Italian or Portuguese answer.
const ENGLISH: &[&str] = &[
    "the",
    "is",
    "are",
    "does",
    "not",
    "cannot",
    "needs",
    "found",
    "there",
    "which",
    "with",
    "give",
    "choose",
    "must",
    "unknown",
    "invalid",
    "missing",
    "exist",
    "exists",
    "number",
    "such",
    "argument",
    "value",
    "could",
    "and",
    "or",
    "of",
    "see",
    "run",
    "expected",
    "provided",
    "unexpected",
    "unrecognized",
];

/// Never in an answer: internal temporary names and Rust's raw io errors.
const INTERNAL: &[&str] = &[".tmp-", ".config.json.tmp", "os error", "panicked", "RUST_BACKTRACE", "backtrace"];

struct Case {
    args: Vec<String>,
    /// Each must appear in the answer, in every language.
    names: Vec<String>,
    code: i32,
    /// Must never appear (content of the input file).
    forbidden: Vec<String>,
    /// Run as nobody when the test runs as root.
    as_nobody: bool,
    /// The language comes from the locale, not from `--lang` (the bad-`--lang` case).
    lang_by_locale: bool,
}

fn case(args: &[&str], names: &[&str], code: i32) -> Case {
    Case {
        args: args.iter().map(|s| s.to_string()).collect(),
        names: names.iter().map(|s| s.to_string()).collect(),
        code,
        forbidden: Vec::new(),
        as_nobody: false,
        lang_by_locale: false,
    }
}

impl Case {
    fn forbid(mut self, what: &str) -> Case {
        self.forbidden.push(what.to_string());
        self
    }

    fn nobody(mut self) -> Case {
        self.as_nobody = true;
        self
    }
}

/// Run with a deadline: a wrong command must answer, never hang (an import of
/// /dev/zero would read forever).
fn run(c: &Case, lang: &str, store: &Path) -> Output {
    let mut args: Vec<String> = Vec::new();
    let mut cmd = if c.lang_by_locale {
        let mut cmd = learnctr(&[]);
        cmd.env("LANG", locale(lang));
        cmd
    } else {
        args.extend(["--lang".to_string(), lang.to_string()]);
        learnctr(&[])
    };
    args.extend(c.args.iter().cloned());
    cmd.args(&args).env("LEARNCTR_STORE_DIR", store).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if c.as_nobody && is_root() {
        cmd.uid(65534).gid(65534).env("HOME", "/nonexistent");
    }
    let mut child = cmd.spawn().unwrap();
    if !wait_until(Duration::from_secs(60), || child.try_wait().unwrap().is_some()) {
        let _ = child.kill();
    }
    child.wait_with_output().unwrap()
}

fn locale(lang: &str) -> &'static str {
    match lang {
        "it" => "it_IT.UTF-8",
        "pt" => "pt_BR.UTF-8",
        _ => "C.UTF-8",
    }
}

/// The problems of one answer, empty when it is right.
fn judge(c: &Case, lang: &str, out: &Output, english: Option<&str>) -> Vec<String> {
    let (stdout, stderr) = text(out);
    let mut bad = Vec::new();
    if out.status.code() != Some(c.code) {
        bad.push(format!("exit {:?}, expected {}", out.status.code(), c.code));
    }
    if !stdout.trim().is_empty() {
        bad.push(format!("stdout is not empty: {stdout:?}"));
    }
    for word in INTERNAL {
        if stderr.contains(word) {
            bad.push(format!("says {word:?}"));
        }
    }
    for word in &c.forbidden {
        if stderr.contains(word.as_str()) {
            bad.push(format!("shows content of the input: {word:?}"));
        }
    }
    let lines: Vec<&str> = stderr.trim().lines().collect();
    if lines.len() != 1 {
        bad.push(format!("{} lines on stderr", lines.len()));
    }
    let Some(message) = lines.first().and_then(|l| l.strip_prefix("learnctr: ")) else {
        bad.push("stderr does not start with `learnctr: `".into());
        return bad;
    };
    if message.chars().next().is_some_and(char::is_uppercase) {
        bad.push("starts with a capital".into());
    }
    if !message.ends_with('.') && !message.ends_with('?') {
        bad.push("does not end with a full stop (or a question mark)".into());
    }
    let chars: Vec<char> = message.chars().collect();
    if chars.windows(3).any(|w| w[0] == '.' && w[1] == ' ' && w[2].is_uppercase()) {
        bad.push("holds more than one sentence".into());
    }
    for name in &c.names {
        if !message.contains(name.as_str()) {
            bad.push(format!("does not name {name:?}"));
        }
    }
    if let Some(english) = english {
        if message == english {
            bad.push("is the English answer".into());
        }
        let mut rest = message.to_string();
        for name in &c.names {
            rest = rest.replace(name.as_str(), " ");
        }
        // A usage line's <PLACEHOLDER> is syntax, as `--all` is.
        while let Some((before, after)) = rest.split_once('<') {
            rest = format!("{before} {}", after.split_once('>').map_or("", |(_, a)| a));
        }
        let words: Vec<String> =
            rest.split(|ch: char| !ch.is_alphanumeric() && ch != '\'').map(str::to_lowercase).collect();
        let found: Vec<&str> = ENGLISH.iter().copied().filter(|e| words.iter().any(|w| w == e)).collect();
        if !found.is_empty() {
            bad.push(format!("has English words {found:?}"));
        }
    }
    let _ = lang;
    bad
}

/// Run every case in en, it and pt; returns the failures, one line each.
fn check_all(cases: &[Case], store: &Path) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut total = 0;
    for c in cases {
        let en = run(c, "en", store);
        let en_message = text(&en).1.trim().strip_prefix("learnctr: ").unwrap_or("").to_string();
        for (lang, out) in [("en", Some(en)), ("it", None), ("pt", None)] {
            total += 1;
            let out = out.unwrap_or_else(|| run(c, lang, store));
            let english = (lang != "en").then_some(en_message.as_str());
            let bad = judge(c, lang, &out, english);
            if !bad.is_empty() {
                failures.push(format!(
                    "[{lang}] learnctr {}: {}\n    stderr: {}",
                    c.args.join(" "),
                    bad.join("; "),
                    text(&out).1.trim()
                ));
            }
        }
    }
    (total, failures)
}

fn report(what: &str, total: usize, failures: &[String]) {
    assert!(failures.is_empty(), "{what}: {} of {total} answers are wrong:\n{}", failures.len(), failures.join("\n"));
}

/// A file left half-written (or made at all) by a wrong command.
fn left_behind(failures: &mut Vec<String>, happened: bool, what: &str) {
    if happened {
        failures.push(format!("left behind: {what}"));
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Commands that need no root (the course's usage mistakes, `spec`, `state`).
#[test]
fn wrong_commands_without_root() {
    // Not at the same time as the root test: it counts the learnctr processes.
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = dir.path().join("store");
    let readonly = dir.path().join("readonly");
    std::fs::create_dir(&readonly).unwrap();
    std::fs::set_permissions(&readonly, std::fs::Permissions::from_mode(0o555)).unwrap();
    let a_file = dir.path().join("a-file");
    std::fs::write(&a_file, "not a directory\n").unwrap();
    let has_config = dir.path().join("has-config");
    std::fs::create_dir(&has_config).unwrap();
    std::fs::write(has_config.join("config.json"), "{}\n").unwrap();
    let state_root = dir.path().join("state");
    let (ro, file, hc, sr) = (s(&readonly), s(&a_file), s(&has_config), s(&state_root));

    let mut bad_lang = case(&["--lang", "xx", "lessons"], &["xx"], 2);
    bad_lang.lang_by_locale = true;
    let cases = vec![
        case(&["lesson", "99"], &["99"], 2),
        case(&["lesson", "0"], &["0"], 2),
        case(&["lesson", "abc"], &["abc"], 2),
        case(&["lesson", "3", "--step", "99"], &["99"], 2).nobody(),
        case(&["lesson", "3", "--step", "x"], &["x"], 2).nobody(),
        case(&["lesson", "7", "--subnet", "10.0.0.0/33"], &["10.0.0.0/33"], 2).nobody(),
        case(&["lesson"], &["learnctr lesson"], 2),
        bad_lang,
        case(&["lessons", "--lang"], &["--lang"], 2),
        case(&["frobnicate"], &["frobnicate"], 2),
        case(&["lesons"], &["lesons", "lessons"], 2),
        case(&["lessons", "--bogus"], &["--bogus"], 2),
        case(&["lessons", "extra"], &["extra"], 2),
        case(&["completions", "tcsh"], &["tcsh", "bash"], 2),
        case(&["reset"], &["reset"], 2),
        case(&["reset", "99"], &["99"], 2),
        case(&["rootfs", "frob"], &["frob"], 2),
        case(&["rootfs"], &["fetch", "import"], 2),
        case(&["rootfs", "import"], &["learnctr rootfs import"], 2),
        case(&["shell", "--memory", "banana"], &["banana"], 2),
        case(&["shell", "--cpus", "-1"], &["-1"], 2),
        case(&["shell", "--cpus", "abc"], &["abc"], 2),
        case(&["shell", "--pids", "0"], &["--pids"], 2),
        case(&["shell", "--net", "--subnet", "300.1.1.0/24"], &["300.1.1.0/24"], 2).nobody(),
        case(&["state"], &["learnctr state"], 2),
        case(&["exec"], &["learnctr exec"], 2),
        case(&["kill"], &["learnctr kill"], 2),
        case(&["--root", &sr, "state", "nosuch"], &["nosuch"], 1),
        case(&["--root", &sr, "state", "../x"], &["../x"], 1),
        case(&["--log-format", "xml", "list"], &["xml"], 2),
        case(&["--root", &sr, "list", "--format", "yaml"], &["yaml"], 1),
        case(&["spec", "--bundle", "/nonexistent"], &["/nonexistent"], 1),
        case(&["spec", "--bundle", &file], &[&file], 1),
        case(&["spec", "--bundle", &ro], &[&ro], 1).nobody(),
        case(&["spec", "--bundle", &hc], &["config.json"], 1),
        case(&["--root", &sr, "delete", "nosuch"], &["sudo"], 1).nobody(),
    ];
    let (total, mut failures) = check_all(&cases, &store);
    // Nothing half-written: the read-only bundle is still empty, the config kept.
    let entries = |d: &Path| std::fs::read_dir(d).map(|r| r.count()).unwrap_or(0);
    left_behind(&mut failures, entries(&readonly) != 0, &format!("spec left a file in {ro}"));
    left_behind(&mut failures, entries(&has_config) != 1, &format!("spec left a file in {hc}"));
    let config = std::fs::read_to_string(has_config.join("config.json")).unwrap_or_default();
    left_behind(&mut failures, config != "{}\n", "spec changed an existing config.json");
    left_behind(&mut failures, state_root.exists() || store.exists(), "a wrong command made its state root or store");
    report("without root", total, &failures);
}

/// A tiny root filesystem tarball: bin/sh (a text file is enough to be imported).
fn tiny_tar(dir: &Path) -> std::path::PathBuf {
    let tree = dir.join("tiny-tree");
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::write(tree.join("bin/sh"), "#!/bin/false\n").unwrap();
    let tar = dir.join("tiny.tar");
    let out = std::process::Command::new("tar").arg("-cf").arg(&tar).arg("-C").arg(&tree).arg(".").output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    tar
}

/// Commands refused only after the root check: rootfs, the runtime's lifecycle.
#[test]
fn wrong_commands_as_root() {
    let Some(t) = root_test("wrong_commands_as_root") else { return };
    let store = t.path().join("store");
    let root = t.path().join("state");
    let notes = t.path().join("notes.txt");
    std::fs::write(&notes, "secret-word hunter2\n").unwrap();
    let long_notes = t.path().join("long-notes.txt");
    std::fs::write(&long_notes, "secret-word hunter2 and more text\n".repeat(40)).unwrap();
    let gz = t.path().join("notes.gz");
    let out = std::process::Command::new("gzip").arg("-c").arg(&long_notes).output().unwrap();
    std::fs::write(&gz, &out.stdout).unwrap();
    let empty_dir = t.path().join("empty-dir");
    std::fs::create_dir(&empty_dir).unwrap();
    let empty_file = t.path().join("empty.tar");
    std::fs::write(&empty_file, "").unwrap();
    let no_rootfs = t.path().join("bundle-without-rootfs");
    std::fs::create_dir(&no_rootfs).unwrap();
    let out = learnctr(&["spec", "--bundle", &s(&no_rootfs)]).output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let tiny = tiny_tar(t.path());
    let out = learnctr(&["rootfs", "import", &s(&tiny)]).env("LEARNCTR_STORE_DIR", &store).output().unwrap();
    assert!(out.status.success(), "the tiny rootfs imports: {:?}", text(&out));
    let r = s(&root);
    let rt = |args: &[&str], names: &[&str]| {
        let mut full = vec!["--root", r.as_str()];
        full.extend_from_slice(args);
        case(&full, names, 1)
    };
    let (n, lnotes, gzs, ed, ef, nr) =
        (s(&notes), s(&long_notes), s(&gz), s(&empty_dir), s(&empty_file), s(&no_rootfs));
    let cases = vec![
        case(&["rootfs", "import", "/etc/passwd"], &["/etc/passwd"], 1).forbid("root:x:").forbid("/bin/bash"),
        case(&["rootfs", "import", &n], &[&n], 1).forbid("hunter2"),
        case(&["rootfs", "import", &lnotes], &[&lnotes], 1).forbid("hunter2"),
        case(&["rootfs", "import", &gzs], &[&gzs], 1).forbid("hunter2"),
        case(&["rootfs", "import", &ef], &[&ef], 1),
        case(&["rootfs", "import", "/dev/zero"], &["/dev/zero"], 1),
        case(&["rootfs", "import", "/nonexistent/x.tar"], &["/nonexistent/x.tar"], 1),
        case(&["rootfs", "import", &ed], &[&ed], 1),
        case(&["rootfs", "import", "/"], &["/"], 1),
        case(&["rootfs", "import", &s(&tiny)], &["tiny"], 1),
        case(&["rootfs", "import", &s(&tiny), "--name", "a/b"], &["a/b"], 1),
        case(&["rootfs", "fetch", "debian"], &["debian"], 2),
        case(&["rootfs", "remove", "nope"], &["nope"], 1),
        case(&["rootfs", "export", "/nonexistent/dir/x.tar.gz"], &["/nonexistent/dir/x.tar.gz"], 1),
        case(&["rootfs", "export", "/tmp/never.tar.gz", "--name", "nope"], &["nope"], 1),
        case(&["lesson", "2", "--rootfs", "nope"], &["nope"], 1),
        case(&["lesson", "3", "--step", "99", "--rootfs", "tiny"], &["99"], 2),
        case(&["shell", "--rootfs", "/nonexistent"], &["/nonexistent"], 1),
        case(&["shell", "--net", "--subnet", "300.1.1.0/24"], &["300.1.1.0/24"], 2),
        case(&["shell", "--image", "localhost/nope:1"], &["localhost/nope:1"], 1),
        case(&["image", "pull", "Bad:Name"], &["Bad"], 2),
        case(&["image", "pull", "demo:bad/tag"], &["demo:bad"], 2),
        case(&["image", "pull", "127.0.0.1:1/x:1"], &["127.0.0.1:1"], 1),
        case(&["image", "inspect", "localhost/nope:1"], &["localhost/nope:1"], 1),
        case(&["image", "unpack", "localhost/nope:1", "/tmp/learnctr-never"], &["localhost/nope:1"], 1),
        case(&["image", "export", "localhost/nope:1", "/tmp/learnctr-never"], &["localhost/nope:1"], 1),
        case(&["image", "remove", "localhost/nope:1"], &["localhost/nope:1"], 1),
        case(&["image", "import", "/etc/passwd"], &["/etc/passwd"], 1).forbid("root:x:"),
        case(&["image", "import", "/nonexistent"], &["/nonexistent"], 1),
        case(&["image", "import", &ed], &[&ed], 1),
        case(
            &["image", "commit", "/nonexistent", "--from", "localhost/nope:1", "--tag", "localhost/x:1"],
            &["localhost/nope:1"],
            1,
        ),
        rt(&["create", "--bundle", "/nonexistent", "c1"], &["/nonexistent"]),
        rt(&["create", "--bundle", &ed, "c1"], &["config.json"]),
        rt(&["create", "--bundle", &nr, "c1"], &["rootfs"]),
        rt(&["create", "--bundle", &nr, "../c1"], &["../c1"]),
        rt(&["delete", "nosuch"], &["nosuch"]),
        rt(&["kill", "nosuch", "BANANA"], &["BANANA"]),
        rt(&["kill", "nosuch", "KILL"], &["nosuch"]),
        rt(&["start", "nosuch"], &["nosuch"]),
        rt(&["pause", "nosuch"], &["nosuch"]),
        rt(&["exec", "nosuch", "sh"], &["nosuch"]),
        rt(&["run", "--no-pivot", "--bundle", &nr, "c1"], &["--no-pivot"]),
        rt(&["events", "nosuch"], &["events"]),
    ];
    let (total, mut failures) = check_all(&cases, &store);
    let mut left: Vec<String> = std::fs::read_dir(store.join("rootfs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    left_behind(&mut failures, left != ["tiny", "tiny.json"], &format!("failed imports left in the store: {left:?}"));
    left_behind(&mut failures, Path::new("/tmp/never.tar.gz").exists(), "export wrote /tmp/never.tar.gz");
    left_behind(&mut failures, Path::new("/tmp/learnctr-never").exists(), "an image command wrote /tmp/learnctr-never");
    let containers = std::fs::read_dir(&root).map(|r| r.count()).unwrap_or(0);
    left_behind(&mut failures, containers != 0, "a wrong command left a container");
    report("as root", total, &failures);
    t.assert_same_host("after the wrong commands");
}

/// Without `--lang` the runtime's commands answer in English whatever the locale:
/// containerd and Podman look for "does not exist" in them.
#[test]
fn the_runtime_speaks_english_to_engines() {
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("state");
    for (var, value) in [("LANG", "it_IT.UTF-8"), ("LC_ALL", "pt_BR.UTF-8")] {
        let out = learnctr(&["--root", &s(&root), "state", "nosuch"]).env(var, value).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out).1.contains("container nosuch does not exist"), "{var}={value}: {}", text(&out).1);
    }
}
