//! Lesson texts: `lessons/<lang>/NN-name.md`, compiled into the binary.
//!
//! A lesson file is Markdown: `# Title`, an introduction, then one `## id — Title`
//! section per step (the id is what `--step` and the code use), and a last
//! `## strings` section of `key = text` lines: the labels of observations and the
//! claims of checks, so that they are translated beside the prose they belong to.

use crate::i18n::{self, Lang};
use std::collections::HashMap;

pub struct LessonText {
    pub title: String,
    pub intro: String,
    pub sections: Vec<Section>,
    pub strings: HashMap<String, String>,
}

pub struct Section {
    pub id: String,
    pub title: String,
    pub body: String,
}

/// Every lesson file, per language: (lesson number, file text).
pub fn sources(lang: Lang) -> &'static [(u32, &'static str)] {
    macro_rules! lessons {
        ($lang:literal) => {
            &[
                (1, include_str!(concat!("../../lessons/", $lang, "/01-namespaces.md"))),
                (2, include_str!(concat!("../../lessons/", $lang, "/02-chroot.md"))),
                (3, include_str!(concat!("../../lessons/", $lang, "/03-pivot_root.md"))),
                (4, include_str!(concat!("../../lessons/", $lang, "/04-proc_dev_sys.md"))),
                (5, include_str!(concat!("../../lessons/", $lang, "/05-cgroups.md"))),
                (6, include_str!(concat!("../../lessons/", $lang, "/06-capabilities.md"))),
                (7, include_str!(concat!("../../lessons/", $lang, "/07-network.md"))),
                (8, include_str!(concat!("../../lessons/", $lang, "/08-bundle.md"))),
                (9, include_str!(concat!("../../lessons/", $lang, "/09-images.md"))),
                (10, include_str!(concat!("../../lessons/", $lang, "/10-finale.md"))),
                (11, include_str!(concat!("../../lessons/", $lang, "/11-engines.md"))),
            ]
        };
    }
    match lang {
        Lang::En => lessons!("en"),
        Lang::It => lessons!("it"),
        Lang::Pt => lessons!("pt"),
    }
}

pub fn lesson(lang: Lang, number: u32) -> Option<LessonText> {
    sources(lang).iter().find(|(n, _)| *n == number).map(|(_, src)| parse(src))
}

pub fn parse(source: &str) -> LessonText {
    let mut title = String::new();
    let mut intro = String::new();
    let mut sections: Vec<Section> = Vec::new();
    let mut strings = String::new();
    let mut in_strings = false;
    for line in source.lines() {
        if let Some(t) = line.strip_prefix("# ") {
            title = t.trim().to_string();
        } else if let Some(h) = line.strip_prefix("## ") {
            let (id, t) = h.split_once(" — ").unwrap_or((h, ""));
            in_strings = id.trim() == "strings";
            if !in_strings {
                sections.push(Section { id: id.trim().to_string(), title: t.trim().to_string(), body: String::new() });
            }
        } else if in_strings {
            strings.push_str(line);
            strings.push('\n');
        } else if let Some(s) = sections.last_mut() {
            s.body.push_str(line);
            s.body.push('\n');
        } else {
            intro.push_str(line);
            intro.push('\n');
        }
    }
    for s in &mut sections {
        s.body = s.body.trim().to_string();
    }
    LessonText { title, intro: intro.trim().to_string(), sections, strings: i18n::parse_strings(&strings) }
}

impl LessonText {
    pub fn section(&self, id: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.id == id)
    }

    /// A command line of the lesson (a shell equivalent, a command to try inside) with
    /// each `{{shell.NAME}}` replaced by that text of `## strings`: the remarks beside
    /// a command are prose, in the learner's language. Other braces are the command's
    /// own (`podman inspect --format '{{.Id}}'`). A missing key shows as `⟦key⟧`.
    pub fn remarks(&self, line: &str) -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some(start) = rest.find("{{shell.") {
            let Some(len) = rest[start + 2..].find("}}") else { break };
            let key = &rest[start + 2..start + 2 + len];
            out.push_str(&rest[..start]);
            out.push_str(&self.strings.get(key).cloned().unwrap_or_else(|| format!("⟦{key}⟧")));
            rest = &rest[start + 2 + len + 2..];
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lesson_file_is_split_into_sections_and_strings() {
        let t = parse("# T\n\nIntro.\n\n## uts — Hostname\n\nBody `x`.\n\n## strings\n\na.b = label\n");
        assert_eq!(t.title, "T");
        assert_eq!(t.intro, "Intro.");
        assert_eq!(t.sections.len(), 1);
        assert_eq!(t.sections[0].id, "uts");
        assert_eq!(t.sections[0].title, "Hostname");
        assert_eq!(t.strings["a.b"], "label");
    }

    #[test]
    fn remarks_come_from_the_strings() {
        let t = parse("# T\n\n## a — A\n\nx\n\n## strings\n\nshell.or = or: runc spec\n");
        assert_eq!(t.remarks("learnctr spec    # {{shell.or}}"), "learnctr spec    # or: runc spec");
        assert_eq!(t.remarks("sh -c ':(){ :|:& };:'"), "sh -c ':(){ :|:& };:'");
        assert_eq!(t.remarks("podman inspect --format '{{.Id}}' c1"), "podman inspect --format '{{.Id}}' c1");
        assert_eq!(t.remarks("# {{shell.nope}}"), "# ⟦shell.nope⟧");
    }

    #[test]
    fn every_lesson_has_the_same_sections_and_strings_in_every_language() {
        for (number, en_src) in sources(Lang::En) {
            let en = parse(en_src);
            assert!(!en.sections.is_empty());
            for lang in [Lang::It, Lang::Pt] {
                let other =
                    lesson(lang, *number).unwrap_or_else(|| panic!("lesson {number} missing in {}", lang.code()));
                let ids = |t: &LessonText| t.sections.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
                assert_eq!(ids(&en), ids(&other), "lesson {number} sections in {}", lang.code());
                for s in &other.sections {
                    assert!(
                        !s.body.is_empty() && !s.title.is_empty(),
                        "lesson {number} {}: empty {}",
                        lang.code(),
                        s.id
                    );
                }
                let mut missing: Vec<_> = en.strings.keys().filter(|k| !other.strings.contains_key(*k)).collect();
                missing.sort();
                assert!(missing.is_empty(), "lesson {number} in {} lacks strings {missing:?}", lang.code());
                assert_eq!(en.strings.len(), other.strings.len(), "lesson {number} strings in {}", lang.code());
                assert_ne!(en.intro, other.intro, "lesson {number} intro not translated in {}", lang.code());
            }
        }
    }
}
