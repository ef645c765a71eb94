//! The learner's tasks: "your turn" at the end of a lesson. The learner builds
//! something by hand with the seeds' tools (`unshare`, `mount`, cgroup files,
//! `setpriv`, `ip netns`), and `learnctr check N.K` looks at the kernel to say whether
//! it is there: processes, namespaces, mounts, cgroups and interfaces found by what
//! they are, never by the shell history and never by learnctr's journal, so a lesson's
//! own run passes no task.
//!
//! Each task has a text (`lessons/<lang>/tasks.md`: the task, three hints, the
//! solution), a check (`checks.rs`: conditions in order, the first unmet one said in
//! one sentence with what to try) and a reset that removes what the learner made.

mod checks;
mod layers;
mod limits;
mod network;
mod roots;
mod runtime;
mod scan;

pub use checks::LEARNERS_NAMES;

use crate::course::texts::{self, LessonText};
use crate::i18n::{self, fill};

/// One task: its id (`5.1`: lesson 5, task 1), the lesson it belongs to (by name, as
/// progress is kept), and the kernel checks that grade it.
pub struct Task {
    pub id: &'static str,
    pub lesson: &'static str,
    pub check: fn(&Ctx) -> Verdict,
    pub reset: fn(&Ctx) -> Vec<String>,
    /// What `learnctr task N.K` prepares first (a capture-the-flag's secret), if any.
    pub setup: Option<fn(&Ctx) -> std::io::Result<()>>,
}

/// What a check is given: the root filesystems the learner may have used, and the
/// texts for its sentences.
pub struct Ctx {
    pub rootfs: Vec<std::path::PathBuf>,
    /// What the learner found, for the tasks that ask for an answer
    /// (`learnctr check 3.2 SECRET`).
    pub answer: Option<String>,
    text: LessonText,
}

impl Ctx {
    pub fn new(rootfs: Vec<std::path::PathBuf>, answer: Option<String>) -> Ctx {
        Ctx { rootfs, answer, text: tasks_text() }
    }

    /// A sentence of the tasks' texts, with `{name}`s filled.
    pub fn s(&self, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        let template = self.text.strings.get(key).cloned().unwrap_or_else(|| format!("⟦{key}⟧"));
        fill(&template, args)
    }
}

/// The outcome of a check: the conditions met, in order, and the first one that is
/// not, said as what is missing and what to try.
#[derive(Debug, Default)]
pub struct Verdict {
    pub met: Vec<String>,
    pub unmet: Option<String>,
}

impl Verdict {
    /// Record one condition; once one is unmet, the later ones are not looked at.
    pub fn require(&mut self, holds: bool, met: String, unmet: impl FnOnce() -> String) -> bool {
        if self.unmet.is_some() {
            return false;
        }
        if holds {
            self.met.push(met);
        } else {
            self.unmet = Some(unmet());
        }
        holds
    }

    pub fn passed(&self) -> bool {
        self.unmet.is_none() && !self.met.is_empty()
    }
}

/// Every task, in course order.
pub fn all() -> Vec<Task> {
    checks::all()
}

pub fn find(id: &str) -> Option<Task> {
    all().into_iter().find(|t| t.id == id)
}

impl Task {
    /// What progress keeps the task by: its lesson's name and its number in the
    /// lesson (`cgroups.1` for 5.1), which renumbering the course leaves alone.
    pub fn key(&self) -> String {
        let k = self.id.split_once('.').map_or(self.id, |(_, k)| k);
        format!("{}.{k}", self.lesson)
    }
}

/// The id of the task progress keeps by `key` (`finale.1` → its `N.1`), or `None`.
pub fn id_of(key: &str) -> Option<&'static str> {
    all().into_iter().find(|t| t.key() == key).map(|t| t.id)
}

/// The tasks' texts in the learner's language.
pub fn tasks_text() -> LessonText {
    let source = match i18n::current() {
        i18n::Lang::En => include_str!("../../lessons/en/tasks.md"),
        i18n::Lang::It => include_str!("../../lessons/it/tasks.md"),
        i18n::Lang::Pt => include_str!("../../lessons/pt/tasks.md"),
    };
    texts::parse(source)
}

/// A task's text, split: the task itself, its hints, its solution.
pub struct Parts {
    pub title: String,
    pub task: String,
    pub hints: Vec<String>,
    pub solution: String,
}

pub fn parts(text: &LessonText, id: &str) -> Option<Parts> {
    let section = text.section(id)?;
    let mut chunks = section.body.split("\n### ");
    let task = chunks.next().unwrap_or_default().trim().to_string();
    let (mut hints, mut solution) = (Vec::new(), String::new());
    for chunk in chunks {
        let (head, body) = chunk.split_once('\n').unwrap_or((chunk, ""));
        match head.trim() {
            "hint" => hints.push(body.trim().to_string()),
            "solution" => solution = body.trim().to_string(),
            _ => {}
        }
    }
    Some(Parts { title: section.title.clone(), task, hints, solution })
}

/// Keep, of a text's fenced blocks marked for a cgroup layout (```` ```sh v2 ```` or
/// ```` ```sh v1 ````), only the ones for this host: v1 and hybrid hosts both use v1.
pub fn for_this_host(text: &str, v2: bool) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match fence {
            Some(info) if !skipping && !info.trim().is_empty() => {
                let words: Vec<&str> = info.split_whitespace().collect();
                let other = (v2 && words.contains(&"v1")) || (!v2 && words.contains(&"v2"));
                if other {
                    skipping = true;
                    continue;
                }
                out.push(line);
            }
            Some(_) if skipping => skipping = false,
            _ if skipping => {}
            _ => out.push(line),
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_a_text_three_hints_and_a_solution_in_every_language() {
        for lang in [i18n::Lang::En, i18n::Lang::It, i18n::Lang::Pt] {
            let source = match lang {
                i18n::Lang::En => include_str!("../../lessons/en/tasks.md"),
                i18n::Lang::It => include_str!("../../lessons/it/tasks.md"),
                i18n::Lang::Pt => include_str!("../../lessons/pt/tasks.md"),
            };
            let text = texts::parse(source);
            for task in all() {
                let p = parts(&text, task.id).unwrap_or_else(|| panic!("{lang:?}: no text for task {}", task.id));
                assert!(!p.task.is_empty() && !p.title.is_empty(), "{lang:?} {}", task.id);
                assert_eq!(p.hints.len(), 3, "{lang:?} {}: three hints", task.id);
                assert!(p.solution.contains("```"), "{lang:?} {}: a solution to type", task.id);
            }
            let en = texts::parse(include_str!("../../lessons/en/tasks.md"));
            for key in en.strings.keys() {
                assert!(text.strings.contains_key(key), "{lang:?}: tasks.md lacks {key}");
            }
        }
    }

    /// Each task has its own key, made of its lesson's name, and the ids that
    /// `learnctr check N.K` takes have the number of that lesson.
    #[test]
    fn every_task_has_a_key_by_its_lesson_and_an_id_by_its_number() {
        let mut keys = std::collections::BTreeSet::new();
        for task in all() {
            assert!(keys.insert(task.key()), "{}: a second task with key {}", task.id, task.key());
            let (n, k) = task.id.split_once('.').unwrap();
            let number = n.parse::<u32>().unwrap();
            assert_eq!(crate::lessons::name(number), Some(task.lesson), "task {}", task.id);
            assert_eq!(task.key(), format!("{}.{k}", task.lesson));
            assert_eq!(id_of(&task.key()), Some(task.id));
        }
        assert_eq!(find("10.1").map(|t| t.key()).as_deref(), Some("finale.1"));
        assert_eq!(find("11.1").map(|t| t.key()).as_deref(), Some("engines.1"));
    }

    #[test]
    fn a_solution_keeps_the_blocks_for_this_layout() {
        let text = "a\n```sh v2\nmkdir v2\n```\n```sh v1\nmkdir v1\n```\nb";
        assert_eq!(for_this_host(text, true), "a\n```sh v2\nmkdir v2\n```\nb");
        assert_eq!(for_this_host(text, false), "a\n```sh v1\nmkdir v1\n```\nb");
    }

    #[test]
    fn a_verdict_stops_at_the_first_unmet_condition() {
        let mut v = Verdict::default();
        assert!(v.require(true, "one".into(), || "not one".into()));
        assert!(!v.require(false, "two".into(), || "not two".into()));
        assert!(!v.require(true, "three".into(), || "not three".into()));
        assert_eq!(v.met, ["one"]);
        assert_eq!(v.unmet.as_deref(), Some("not two"));
        assert!(!v.passed());
    }
}
