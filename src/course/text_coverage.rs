//! The texts cover what the code asks of them, in en, it and pt: every step of every
//! lesson has its `## id` section, every key a lesson looks up is in its `## strings`,
//! and every key the code gives to `t` or `tf` is in `interface.txt`.
//!
//! The steps come from the lessons' own data (`lessons::get`). The keys are read from
//! the sources at test time: a missing text shows as `⟦key⟧` only when its step runs,
//! as root, so these tests find it without running anything. A key is a string
//! literal shaped like one (`check.ipc.inside`), found where the code names it:
//!
//! - the first argument of `t(` or `tf(`, anywhere under `src/`: an interface key;
//! - any other literal of a lesson's files (its own, the helpers it uses, and what it
//!   reads through: lesson 8's `SpecError::describe`), in a family of keys the lesson
//!   texts have (`check.`, `label.`, `value.` …): a key of that lesson's strings; in a
//!   family only the interface has (`net.`): an interface key. A literal given to
//!   `join(` is a file name (`cgroup.procs`), not a key.
//!
//! A literal that only starts a key (`"check.op"`, completed by `format!`), or a
//! `format!` string (`"field.{path}"`), must start at least one key in every language.

use super::texts;
use crate::i18n::{self, Lang};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Sources whose keys a lesson looks up in its own strings, beside its files: lesson
/// 8 shows the runtime's config.json errors in its words (`e.describe(&|key| ctx.s(key))`).
const READ_THROUGH: [(u32, &str); 1] = [(8, "src/runtime/spec.rs")];

/// A string literal of a source file, with what its position says of it.
struct Literal {
    text: String,
    /// The first argument of `t(` or `tf(`.
    interface_call: bool,
    /// The argument of `join(`: a file name.
    path_part: bool,
}

/// The identifier right before a `(` that ends `before`, if it does.
fn called(before: &str) -> &str {
    let Some(head) = before.trim_end().strip_suffix('(') else { return "" };
    let start = head.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
    &head[start..]
}

/// Every string literal of `code` outside its tests, skipping comments and char
/// literals. An item after `#[cfg(test)]` is a test's: up to its `;`, or through its
/// `{ … }` block.
fn literals(code: &str) -> Vec<Literal> {
    const TEST_ONLY: &str = "#[cfg(test)]";
    let b = code.as_bytes();
    let mut found = Vec::new();
    let (mut depth, mut test_item, mut test_block) = (0usize, None, None);
    let mut i = 0;
    while i < b.len() {
        let in_test = test_item.is_some() || test_block.is_some();
        let mut push = |start: usize, text: &str| {
            if !in_test {
                found.push(literal(code, start, text));
            }
        };
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => i = code[i..].find('\n').map_or(b.len(), |n| i + n),
            b'/' if b.get(i + 1) == Some(&b'*') => i = code[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2),
            b'#' if code[i..].starts_with(TEST_ONLY) => {
                test_item = test_item.or(Some(depth));
                i += TEST_ONLY.len();
            }
            b'{' => {
                if test_item == Some(depth) {
                    (test_item, test_block) = (None, Some(depth));
                }
                depth += 1;
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                if test_block == Some(depth) {
                    test_block = None;
                }
                i += 1;
            }
            b';' => {
                if test_item == Some(depth) {
                    test_item = None;
                }
                i += 1;
            }
            // A char literal ('"', '\'', '✓'), or a lifetime ('a), which has no closing quote.
            b'\'' => {
                let rest = &code[i + 1..];
                let escaped = rest.starts_with('\\');
                let close = if escaped { rest[2..].find('\'').map(|n| n + 2) } else { rest.find('\'') };
                i += match close {
                    Some(n) if escaped || rest[..n].chars().count() == 1 => n + 2,
                    _ => 1,
                };
            }
            b'r' if (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = code[i + 1..].bytes().take_while(|&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let start = i + 2 + hashes;
                let end = format!("\"{}", "#".repeat(hashes));
                let len = code[start..].find(&end).unwrap_or(code.len() - start);
                push(i, &code[start..start + len]);
                i = start + len + end.len();
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                push(i, &code[i + 1..j.min(b.len())]);
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    found
}

fn literal(code: &str, start: usize, text: &str) -> Literal {
    let call = called(&code[..start]);
    Literal { text: text.to_string(), interface_call: call == "t" || call == "tf", path_part: call == "join" }
}

/// A word of a key: lower-case letters, digits and `_`, starting with a letter.
fn word(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_lowercase())
        && w.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// What a literal names, if it is shaped like a key: `check.ipc.inside` (two words at
/// least), or the start of a family in a `format!` string (`field.{path}` → `field.`).
/// The flag says the text only starts keys.
fn as_key(text: &str) -> Option<(&str, bool)> {
    match text.split_once('{') {
        Some((head, _)) => head.strip_suffix('.').filter(|w| w.split('.').all(word)).map(|_| (head, true)),
        None => (text.contains('.') && text.split('.').all(word)).then_some((text, false)),
    }
}

fn family(key: &str) -> &str {
    key.split('.').next().unwrap_or("")
}

/// The keys of one table in every language.
struct Table {
    name: String,
    keys: Vec<(Lang, BTreeSet<String>)>,
}

impl Table {
    /// Which languages lack `key`: as a key, or (`prefix_only`) as the start of one.
    fn missing(&self, key: &str, prefix_only: bool) -> Vec<&'static str> {
        let has = |keys: &BTreeSet<String>| match prefix_only {
            true => keys.iter().any(|k| k.starts_with(key)),
            false => keys.contains(key) || keys.iter().any(|k| k.starts_with(&format!("{key}."))),
        };
        self.keys.iter().filter(|(_, keys)| !has(keys)).map(|(lang, _)| lang.code()).collect()
    }
}

fn interface() -> Table {
    let keys = Lang::ALL.map(|l| (l, i18n::parse_strings(i18n::interface_source(l)).into_keys().collect()));
    Table { name: "interface.txt".into(), keys: keys.into() }
}

fn lesson_strings(number: u32) -> Table {
    let keys = Lang::ALL.map(|l| {
        let text = texts::lesson(l, number).unwrap_or_else(|| panic!("lesson {number} has no text in {}", l.code()));
        (l, text.strings.into_keys().collect())
    });
    Table { name: format!("lesson {number}'s strings"), keys: keys.into() }
}

/// Say, for each language that lacks it, that `key` (a literal of `file`) is not in
/// `table`.
fn check_key(problems: &mut Vec<String>, file: &str, (key, prefix_only): (&str, bool), table: &Table) {
    let missing = table.missing(key, prefix_only);
    if !missing.is_empty() {
        problems.push(format!("{file}: \"{key}\" is not in {} ({})", table.name, missing.join(", ")));
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, with its path from the crate's root.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())).flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let shown = p.strip_prefix(root()).unwrap_or(&p).display().to_string();
                found.push((shown, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    found.sort();
    found
}

/// The lessons' files by module (`l05_cgroups`, `side_by_side`; a directory module's
/// files under its name).
fn lesson_modules() -> BTreeMap<String, Vec<(String, String)>> {
    let dir = root().join("src/lessons");
    let mut modules: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (path, code) in sources(&dir) {
        let inner = Path::new(&path).strip_prefix("src/lessons").unwrap().to_path_buf();
        let first = inner.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        let module = first.strip_suffix(".rs").unwrap_or(&first).to_string();
        if module != "mod" {
            modules.entry(module).or_default().push((path, code));
        }
    }
    modules
}

/// The lesson a module is, from its name (`l05_cgroups` is lesson 5).
fn lesson_of(module: &str) -> Option<u32> {
    let digits = module.strip_prefix('l')?.split('_').next()?;
    (digits.len() == 2).then(|| digits.parse().ok()).flatten()
}

/// The helper modules `code` uses (`super::podman`, `use super::{common, x}`,
/// `crate::lessons::common`).
fn helpers_used<'a>(code: &str, helpers: &'a [String]) -> Vec<&'a String> {
    let mut named: Vec<&str> = Vec::new();
    for (at, path) in code.match_indices("super::").chain(code.match_indices("lessons::")) {
        let rest = &code[at + path.len()..];
        match rest.strip_prefix('{') {
            Some(group) => named.extend(group.split('}').next().unwrap_or("").split(',').map(str::trim)),
            None => named.push(rest),
        }
    }
    let head = |n: &str| n.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("").to_string();
    let named: BTreeSet<String> = named.into_iter().map(head).collect();
    helpers.iter().filter(|h| named.contains(*h)).collect()
}

/// For each lesson, its files: its module, the helpers it uses (and theirs), and
/// what it reads through.
fn files_of_lessons() -> BTreeMap<u32, Vec<(String, String)>> {
    let modules = lesson_modules();
    let helpers: Vec<String> = modules.keys().filter(|m| lesson_of(m).is_none()).cloned().collect();
    let mut lessons = BTreeMap::new();
    for module in modules.keys() {
        let Some(number) = lesson_of(module) else { continue };
        let mut used: Vec<&String> = vec![module];
        let mut next = 0;
        while let Some(m) = used.get(next) {
            let code: String = modules[*m].iter().map(|(_, c)| c.as_str()).collect();
            for h in helpers_used(&code, &helpers) {
                if !used.contains(&h) {
                    used.push(h);
                }
            }
            next += 1;
        }
        let mut files: Vec<(String, String)> = used.iter().flat_map(|m| modules[*m].clone()).collect();
        for (_, path) in READ_THROUGH.iter().filter(|(n, _)| *n == number) {
            let code = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
            files.push((path.to_string(), code));
        }
        assert!(lessons.insert(number, files).is_none(), "two modules for lesson {number}");
    }
    lessons
}

#[test]
fn every_step_has_a_section_in_every_language() {
    let mut problems = Vec::new();
    for number in 1..=crate::lessons::PLANNED {
        let lesson = crate::lessons::get(number).unwrap();
        for lang in Lang::ALL {
            let Some(text) = texts::lesson(lang, number) else {
                problems.push(format!("lesson {number} has no text in {}", lang.code()));
                continue;
            };
            for step in &lesson.steps {
                match text.section(step.id) {
                    Some(s) if !s.title.is_empty() && !s.body.is_empty() => {}
                    Some(_) => problems.push(format!("lesson {number} in {}: ## {} is empty", lang.code(), step.id)),
                    None => problems.push(format!("lesson {number} in {}: no ## {} section", lang.code(), step.id)),
                }
            }
        }
    }
    assert!(problems.is_empty(), "steps without their text:\n{}", problems.join("\n"));
}

#[test]
fn every_key_a_lesson_looks_up_is_in_every_language() {
    let interface = interface();
    let families =
        |keys: &BTreeSet<String>| -> BTreeSet<String> { keys.iter().map(|k| family(k).to_string()).collect() };
    let lesson_families: BTreeSet<String> =
        (1..=crate::lessons::PLANNED).flat_map(|n| families(&lesson_strings(n).keys[0].1)).collect();
    let interface_families = families(&interface.keys[0].1);
    let lessons = files_of_lessons();
    let numbers: Vec<u32> = lessons.keys().copied().collect();
    assert_eq!(numbers, (1..=crate::lessons::PLANNED).collect::<Vec<_>>(), "one module per lesson");
    let mut problems = Vec::new();
    let mut looked_up = 0;
    for (number, files) in &lessons {
        let strings = lesson_strings(*number);
        for (file, code) in files {
            for lit in literals(code).into_iter().filter(|l| !l.interface_call && !l.path_part) {
                let Some(key) = as_key(&lit.text) else { continue };
                let table = match family(key.0) {
                    f if lesson_families.contains(f) => &strings,
                    f if interface_families.contains(f) => &interface,
                    _ => continue,
                };
                check_key(&mut problems, file, key, table);
                looked_up += 1;
            }
        }
    }
    assert!(problems.is_empty(), "keys the lessons look up and the texts lack:\n{}", problems.join("\n"));
    assert!(looked_up > 300, "only {looked_up} keys found in the lessons' sources: is the scan still right?");
}

#[test]
fn every_key_given_to_t_or_tf_is_in_every_language() {
    let interface = interface();
    let mut problems = Vec::new();
    let mut looked_up = 0;
    for (file, code) in sources(&root().join("src")) {
        for lit in literals(&code).into_iter().filter(|l| l.interface_call) {
            match as_key(&lit.text) {
                Some(key) => check_key(&mut problems, &file, key, &interface),
                None => problems.push(format!("{file}: t or tf is given \"{}\", which is not a key", lit.text)),
            }
            looked_up += 1;
        }
    }
    assert!(problems.is_empty(), "keys given to t or tf that interface.txt lacks:\n{}", problems.join("\n"));
    assert!(looked_up > 150, "only {looked_up} calls of t or tf found: is the scan still right?");
}

/// The scan itself: literals in code, not in comments or char literals; where they
/// are given; which are keys; which helpers a lesson uses.
#[test]
fn the_scan_finds_keys_where_the_code_names_them() {
    let code = r#"
        // ctx.s("comment.not_a_key") /* "block.comment" */
        let c = '"'; let q = '\''; let tick = '✓'; let u = '\u{22}'; fn f<'a>(x: &'a str) {}
        ctx.check("check.a.b", ok, x);
        Failure::new(crate::i18n::tf(
            "error.io", &[]));
        dir.join("cgroup.procs");
        let s = "with \" quote";
        let r = r"raw.key";
        #[cfg(test)]
        mod tests { fn f() { t("test.only"); } }
        #[cfg(test)]
        use x::y;
        fn after() { let a = "after.tests"; }
    "#;
    let found: Vec<(String, bool, bool)> =
        literals(code).into_iter().map(|l| (l.text, l.interface_call, l.path_part)).collect();
    let expected = [
        ("check.a.b", false, false),
        ("error.io", true, false),
        ("cgroup.procs", false, true),
        ("with \\\" quote", false, false),
        ("raw.key", false, false),
        ("after.tests", false, false),
    ];
    assert_eq!(found, expected.map(|(t, i, p)| (t.to_string(), i, p)));
    assert_eq!(as_key("check.ipc.not_host"), Some(("check.ipc.not_host", false)));
    assert_eq!(as_key("field.{path}"), Some(("field.", true)));
    for not_a_key in ["config", "Check.x", "{prefix}.allowed", "a..b", "/proc/self", "1.0"] {
        assert_eq!(as_key(not_a_key), None, "{not_a_key}");
    }
    assert_eq!(lesson_of("l05_cgroups"), Some(5));
    assert_eq!(lesson_of("local_registry"), None);
    let helpers = ["common", "podman", "side_by_side", "image_steps"].map(String::from);
    let used = helpers_used("use super::{common, side_by_side};\nuse crate::lessons::podman::IMAGE;", &helpers);
    assert_eq!(used, [&helpers[0], &helpers[1], &helpers[2]]);
}
