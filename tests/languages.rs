//! Lessons 1 to 10 as root in Italian and in Portuguese: no English reaches the
//! learner. Every word a lesson prints comes from its texts, so the output of an it or
//! pt run holds none of the English texts (lessons/en: the `## strings` values and
//! interface.txt) and none of the English that code used to print on its own (the list
//! below). What stays as it is: the syscall trace, commands and their arguments,
//! identifiers (CAP_SYS_ADMIN, EPERM, memory.max, created/running), file contents and
//! what programs print (ping, ip route). Lesson 11 has its own it/pt test
//! (tests/lesson11.rs).

mod common;

use common::*;
use std::collections::HashMap;

/// English that code printed by itself, and English words prose is made of: matched
/// as whole words on every line but the trace's (see `has_word`); `N ` stands for a
/// number, `=` for a whole line. Left out: words that are the same in Italian or
/// Portuguese (`file`, `host`, `bundle`, `container`), the names of fields and files
/// that prose quotes (`mounts`, `memory.max`), the kernel's and the tools' words
/// (`shared:1` in mountinfo, `scope link`, ping's `round-trip min/avg/max`, strerror's
/// "Operation not permitted"), the names of states (`created`, `running`), and terms
/// the Italian and Portuguese texts use as they are (`legacy`, `throttling`).
const ENGLISH: &[&str] = &[
    // Lessons 1, 3 and 8: propagation of /.
    "private",
    // Lesson 3: the host's mount count; lesson 4: what a path is.
    "N mounts",
    "N entries",
    "writable",
    "bytes",
    // Lesson 5: the cgroup layout, the killed child, what is left.
    "hybrid",
    "status 137",
    "present",
    // Lesson 6: operations.
    "hostname inside",
    "still-allowed",
    "x32 syscall number",
    "seccomp profile",
    // Lesson 7: the page, ping's average as learnctr prints it.
    "Served from inside",
    ", avg",
    // Lesson 8: the mistakes refused, as serde and the spec check word them.
    "line",
    "column",
    "key must be a string",
    "invalid type",
    "expected a boolean",
    "unknown variant",
    "expected one of",
    "leaves the bundle",
    "give a path",
    "accepted",
    // Lessons 8 and 10: the comparison with runc.
    "=mounts",
    "interfaces",
    "ids",
    // Prose.
    "the",
    "and",
    "with",
    "from",
    "then",
    "every",
    "before",
    "inside",
    "outside",
    "by default",
    "same",
    "whole",
    "second",
    "the kernel",
    "lesson",
    "or",
    "masked",
    "read-only",
];

/// Words of the list that are also words of the language.
fn also_native(lang: &str, word: &str) -> bool {
    matches!((lang, word), ("pt", "interfaces") | ("pt", "ids") | ("pt", "bytes"))
}

fn strings_of(path: &str) -> HashMap<String, String> {
    let src = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let body = match src.find("\n## strings") {
        Some(i) => &src[i..],
        None => &src[..],
    };
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().replace("\\n", "\n")))
        .collect()
}

fn lesson_file(lang: &str, n: u32) -> String {
    let dir = format!("{}/lessons/{lang}", env!("CARGO_MANIFEST_DIR"));
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .find(|f| f.starts_with(&format!("{n:02}-")))
        .unwrap();
    format!("lessons/{lang}/{name}")
}

/// The English texts a run in `lang` must not show: each English value whose
/// translation differs, cut at its placeholders, pieces of three words or more.
fn english_pieces(lang: &str) -> Vec<String> {
    let mut files: Vec<(String, String)> =
        vec![("lessons/en/interface.txt".into(), format!("lessons/{lang}/interface.txt"))];
    files.extend((1..=10).map(|n| (lesson_file("en", n), lesson_file(lang, n))));
    let mut pieces = Vec::new();
    for (en_file, other_file) in files {
        let (en, other) = (strings_of(&en_file), strings_of(&other_file));
        for (key, value) in &en {
            if other.get(key) == Some(value) {
                continue;
            }
            for piece in value.split(['{', '}']).step_by(2) {
                let piece = piece.trim();
                if piece.split_whitespace().count() >= 3 {
                    pieces.push(piece.to_string());
                }
            }
        }
    }
    pieces.sort();
    pieces.dedup();
    pieces
}

/// Letters, digits, `_` and `-` join a word to what is next to it
/// (`containers-from-scratch`, `MS_PRIVATE`), and so does a `.` or `/` before it
/// (`.mounts`, a path); a `.` after it only when a letter follows (`mounts.x`).
fn joins_before(c: char) -> bool {
    c.is_alphanumeric() || "_-./".contains(c)
}

fn joins_after(rest: &str) -> bool {
    let mut chars = rest.chars();
    match chars.next() {
        Some('.') => chars.next().is_some_and(char::is_alphanumeric),
        Some(c) => c.is_alphanumeric() || c == '_' || c == '-',
        None => false,
    }
}

/// Whether `line` holds `word` as a whole word (`N word`: after a number; `=word`: as
/// the whole line).
fn has_word(line: &str, word: &str) -> bool {
    if let Some(whole) = word.strip_prefix('=') {
        return line.trim() == whole;
    }
    let (number, word) = match word.strip_prefix("N ") {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    let letter = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    let mut from = 0;
    while let Some(i) = line[from..].find(word) {
        let start = from + i;
        let end = start + word.len();
        let head = &line[..start];
        let open_before = !letter(word.chars().next()) || !head.chars().next_back().is_some_and(joins_before);
        let open_after = !letter(word.chars().next_back()) || !joins_after(&line[end..]);
        let counted = !number || {
            let digits = head.strip_suffix(' ').unwrap_or("");
            digits.chars().next_back().is_some_and(|c| c.is_ascii_digit())
        };
        if open_before && open_after && counted {
            return true;
        }
        from = start + word.chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// A line of the syscall trace: `[pid  123] call(...) = result`.
fn is_trace(line: &str) -> bool {
    line.trim_start().trim_start_matches('▶').trim_start().starts_with("[pid ")
}

/// What of a line is prose: all of it, but of a shell equivalent (`# command`) only
/// its remarks, after a second `#` or in parentheses.
fn prose_of(line: &str) -> Option<&str> {
    if is_trace(line) {
        return None;
    }
    let Some(command) = line.trim_start().strip_prefix("# ") else { return Some(line) };
    if command.trim_start().starts_with('(') {
        return Some(command);
    }
    command.split_once(" # ").map(|(_, remark)| remark)
}

/// A line without the commands prose quotes by learnctr's own subcommand names: a
/// `learnctr lesson 9 --step 6` in an Italian sentence is a command, not the English
/// word "lesson".
fn without_commands(line: &str) -> String {
    line.replace("learnctr lesson ", "learnctr ")
}

/// Every English word or text of `output`, one line each, with its lesson.
fn english_in(lang: &str, lesson: u32, output: &str, pieces: &[String]) -> Vec<String> {
    let mut hits = Vec::new();
    for line in output.lines().filter_map(prose_of) {
        let words = without_commands(line);
        for word in ENGLISH.iter().filter(|w| !also_native(lang, w)) {
            if has_word(&words, word) {
                hits.push(format!("lesson {lesson} {lang}: {word:?} in {:?}", line.trim()));
            }
        }
        for piece in pieces {
            if line.contains(piece.as_str()) {
                hits.push(format!("lesson {lesson} {lang}: text {piece:?} in {:?}", line.trim()));
            }
        }
    }
    hits
}

#[test]
fn the_word_matcher_sees_whole_words_only() {
    assert!(has_word("propagazione di /  private  private", "private"));
    assert!(!has_word("MS_PRIVATE make-rprivate", "private"));
    assert!(!has_word("negli appunti di containers-from-scratch", "from"));
    assert!(has_word("unshare (x32 syscall number)", "x32 syscall number"));
    assert!(!has_word("theirs", "the"));
    assert!(has_word("the end.", "end"));
    assert!(has_word("3 / 3, avg 0.012 ms", ", avg"));
    assert!(!has_word("round-trip min/avg/max", ", avg"));
    assert!(has_word("mount     20 mounts  / (ext4)", "N mounts"));
    assert!(!has_word("guarda i mounts del config.json", "N mounts"));
    assert!(has_word("    mounts", "=mounts"));
    assert!(!has_word(&without_commands("(sudo learnctr lesson 9 --step 6), ela usa"), "lesson"));
    assert!(has_word(&without_commands("the lesson starts"), "lesson"));
    assert!(is_trace("    [pid      1] sethostname(\"inside\", 6) = -1 EPERM"));
    assert!(is_trace("  ▶ [pid   4242 → 1] seccomp(SECCOMP_SET_MODE_FILTER, 0, {len=25}) = 0"));
    assert_eq!(prose_of("    # learnctr spec      # or: runc spec"), Some("or: runc spec"));
    assert_eq!(prose_of("    # jq '.a | if .t then 1 else 2 end' c"), None);
    assert_eq!(
        prose_of("    # (docker run: 14 capabilities by default)"),
        Some("(docker run: 14 capabilities by default)")
    );
}

#[test]
fn lessons_1_to_10_show_no_english_in_italian_and_portuguese() {
    let Some(t) = root_test("lessons_1_to_10_show_no_english_in_italian_and_portuguese") else { return };
    let rootfs = t.busybox();
    let started = std::time::Instant::now();
    let mut hits = Vec::new();
    for lang in ["it", "pt"] {
        let pieces = english_pieces(lang);
        assert!(pieces.len() > 100, "{lang}: only {} English texts to look for", pieces.len());
        for lesson in 1..=10 {
            let before = host_state();
            let n = lesson.to_string();
            let out = learnctr(&["lesson", &n, "--yes", "--lang", lang, "--rootfs", rootfs.to_str().unwrap()])
                .output()
                .unwrap();
            let (stdout, stderr) = text(&out);
            assert!(out.status.success(), "lesson {lesson} --lang {lang} failed:\n{stdout}\n{stderr}");
            assert!(!stdout.contains('⟦'), "lesson {lesson} {lang}: a text is missing\n{stdout}");
            hits.extend(english_in(lang, lesson, &stdout, &pieces));
            hits.extend(english_in(lang, lesson, &stderr, &pieces));
            assert_same_host(&before, &host_state(), &format!("after lesson {lesson} --lang {lang}"));
        }
    }
    eprintln!("lessons 1 to 10 in it and pt: {:.1} s", started.elapsed().as_secs_f64());
    let _ = std::fs::remove_file(progress_file());
    assert!(
        hits.is_empty(),
        "{} English words or texts reached an Italian or Portuguese run:\n{}",
        hits.len(),
        hits.join("\n")
    );
}
