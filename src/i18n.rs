//! The learner's language, and the interface's own words in en, it and pt.
//!
//! Lesson prose lives in `lessons/<lang>/NN-name.md`; the interface's words (menu,
//! prompts, labels, errors) in `lessons/<lang>/interface.txt`, one `key = text` per
//! line, with `{name}` placeholders. Both are compiled into the binary.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    It,
    Pt,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::It, Lang::Pt];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::It => "it",
            Lang::Pt => "pt",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code.to_ascii_lowercase())
    }

    /// `--lang` first, else the locale variables in the order the C library reads
    /// them, else English. `it_IT.UTF-8` → it, `pt_BR` → pt, anything else → en.
    pub fn detect(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Lang, String> {
        if let Some(code) = flag {
            return Lang::from_code(code).ok_or_else(|| code.to_string());
        }
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Some(value) = env(var).filter(|v| !v.is_empty()) {
                let prefix = value.split(['_', '.', '@']).next().unwrap_or("");
                return Ok(Lang::from_code(prefix).unwrap_or(Lang::En));
            }
        }
        Ok(Lang::En)
    }
}

static CURRENT: OnceLock<Lang> = OnceLock::new();

/// Fix the language for this run (the first call wins).
pub fn set(lang: Lang) {
    let _ = CURRENT.set(lang);
}

pub fn current() -> Lang {
    *CURRENT.get().unwrap_or(&Lang::En)
}

pub fn interface_source(lang: Lang) -> &'static str {
    match lang {
        Lang::En => include_str!("../lessons/en/interface.txt"),
        Lang::It => include_str!("../lessons/it/interface.txt"),
        Lang::Pt => include_str!("../lessons/pt/interface.txt"),
    }
}

/// Parse `key = text` lines; `#` starts a comment line; `\n` in a text is a newline.
pub fn parse_strings(source: &str) -> HashMap<String, String> {
    source
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = ").or_else(|| l.split_once('=')))
        .map(|(k, v)| (k.trim().to_string(), v.trim().replace("\\n", "\n")))
        .collect()
}

fn catalog(lang: Lang) -> &'static HashMap<String, String> {
    static CATALOGS: OnceLock<[HashMap<String, String>; 3]> = OnceLock::new();
    let all = CATALOGS.get_or_init(|| Lang::ALL.map(|l| parse_strings(interface_source(l))));
    &all[Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0)]
}

/// An interface text in the current language. A missing key shows as `⟦key⟧`, which
/// the tests look for.
pub fn t(key: &str) -> String {
    lookup(catalog(current()), catalog(Lang::En), key)
}

/// `t` with `{name}` placeholders filled in.
pub fn tf(key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
    fill(&t(key), args)
}

pub fn lookup(map: &HashMap<String, String>, fallback: &HashMap<String, String>, key: &str) -> String {
    map.get(key).or_else(|| fallback.get(key)).cloned().unwrap_or_else(|| format!("⟦{key}⟧"))
}

pub fn fill(template: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut out = template.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), &value.to_string());
    }
    out
}

/// Why a file operation failed, in the current language: the common reasons by name,
/// any other by its errno (`EIO`), never Rust's "(os error 5)".
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let key = match e.kind() {
        ErrorKind::NotFound => "io.not_found",
        ErrorKind::PermissionDenied => "io.permission",
        ErrorKind::ReadOnlyFilesystem => "io.read_only",
        ErrorKind::StorageFull => "io.no_space",
        ErrorKind::NotADirectory => "io.not_a_directory",
        ErrorKind::IsADirectory => "io.is_a_directory",
        ErrorKind::AlreadyExists => "io.exists",
        _ => {
            return match e.raw_os_error() {
                Some(n) => tf("io.other", &[("errno", &format!("{:?}", nix::errno::Errno::from_raw(n)))]),
                None => e.to_string(),
            };
        }
    };
    t(key)
}

/// `a, b or c` in the current language.
pub fn list_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {} {last}", rest.join(", "), t("usage.or")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn language_detection_order() {
        assert_eq!(Lang::detect(Some("pt"), env_of(&[])), Ok(Lang::Pt));
        assert_eq!(Lang::detect(Some("xx"), env_of(&[])), Err("xx".to_string()));
        assert_eq!(Lang::detect(None, env_of(&[("LANG", "it_IT.UTF-8")])), Ok(Lang::It));
        assert_eq!(Lang::detect(None, env_of(&[("LANG", "it_IT.UTF-8"), ("LC_ALL", "pt_BR.UTF-8")])), Ok(Lang::Pt));
        assert_eq!(Lang::detect(None, env_of(&[("LC_MESSAGES", "de_DE"), ("LANG", "it_IT")])), Ok(Lang::En));
        assert_eq!(Lang::detect(None, env_of(&[("LANG", "C.UTF-8")])), Ok(Lang::En));
        assert_eq!(Lang::detect(None, env_of(&[])), Ok(Lang::En));
    }

    #[test]
    fn every_interface_key_exists_in_every_language() {
        let en = parse_strings(interface_source(Lang::En));
        assert!(en.len() > 20);
        for lang in [Lang::It, Lang::Pt] {
            let other = parse_strings(interface_source(lang));
            let mut missing: Vec<_> = en.keys().filter(|k| !other.contains_key(*k)).collect();
            let mut extra: Vec<_> = other.keys().filter(|k| !en.contains_key(*k)).collect();
            missing.sort();
            extra.sort();
            assert!(missing.is_empty(), "{} lacks {missing:?}", lang.code());
            assert!(extra.is_empty(), "{} has keys English lacks: {extra:?}", lang.code());
            for (k, v) in &en {
                assert!(!other[k].is_empty(), "{}: {k} is empty", lang.code());
                for ph in placeholders(v) {
                    assert!(other[k].contains(&ph), "{}: {k} lacks placeholder {ph}", lang.code());
                }
            }
        }
    }

    pub fn placeholders(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = s;
        while let Some(i) = rest.find('{') {
            match rest[i..].find('}') {
                Some(j) => {
                    out.push(rest[i..i + j + 1].to_string());
                    rest = &rest[i + j + 1..];
                }
                None => break,
            }
        }
        out
    }

    #[test]
    fn fill_replaces_placeholders() {
        assert_eq!(fill("lesson {n} of {m}", &[("n", &1), ("m", &9)]), "lesson 1 of 9");
    }
}
