//! A lesson, its steps, and what a step gets while it runs ([`Ctx`]).

use super::failure::Failure;
use super::texts::LessonText;
use crate::host::journal::{Entry, Journal, Object};
use crate::instruments::inside::Inside;
use crate::primitives::cgroups::Cgroup;
use crate::primitives::isolate::Plan;
use crate::primitives::{process, Kernel};
use std::fmt::Display;

pub struct Lesson {
    pub number: u32,
    /// The lesson's name, which progress is kept by: renumbering the course (a lesson
    /// inserted before it) keeps what a learner finished.
    pub name: &'static str,
    /// Whether the lesson runs on a root filesystem (all but lesson 1).
    pub needs_rootfs: bool,
    pub steps: Vec<Step>,
}

pub struct Step {
    /// The `## id` of the step's section in the lesson text.
    pub id: &'static str,
    /// What a learner would type to do the same by hand.
    pub shell: &'static [&'static str],
    /// The calls the step's text is about, by a piece of their text (`"pivot_root("`, `"IFF_UP"`): marked in the
    /// trace and never folded away with the calls an earlier step already showed.
    pub key: &'static [&'static str],
    pub run: fn(&mut Ctx) -> Result<(), Failure>,
}

/// A labelled fact: how the host sees it and how the inside sees it.
pub struct Observation {
    pub label: String,
    pub host: String,
    pub inside: String,
}

/// A claim about kernel state, and whether the measurement proved it.
pub struct Check {
    pub claim: String,
    pub passed: bool,
    /// The values that were compared, shown when the claim fails.
    pub measured: String,
}

/// Where the learner can open a shell, and what to try there.
pub struct Inspect {
    pub process: Contained,
    pub program: String,
    pub inside: Vec<String>,
    pub outside: Vec<String>,
}

/// A cgroup learnctr made, with its journal entries: dropping it kills what is left
/// inside, removes the cgroup, then the entries.
struct OwnedCgroup {
    cgroup: Cgroup,
    k: &'static dyn Kernel,
    _entries: Vec<Entry>,
}

impl Drop for OwnedCgroup {
    fn drop(&mut self) {
        let _ = self.cgroup.remove(self.k);
    }
}

/// A host interface learnctr made (bridge, veth end), with its journal entry:
/// dropping it deletes the interface, then the entry.
struct OwnedLink {
    name: String,
    _entry: Entry,
}

impl Drop for OwnedLink {
    fn drop(&mut self) {
        let _ = crate::primitives::netns::delete_link(&self.name);
    }
}

/// An isolated process with its journal entries: dropping it kills the process, then
/// removes the entries (fields drop in order).
pub struct Contained {
    process: Inside,
    _entries: Vec<Entry>,
}

impl std::ops::Deref for Contained {
    type Target = Inside;
    fn deref(&self) -> &Inside {
        &self.process
    }
}

pub struct Ctx<'a> {
    pub k: &'a dyn Kernel,
    pub lesson: u32,
    pub step: &'static str,
    text: &'a LessonText,
    journal: &'a Journal,
    rootfs: Option<&'a str>,
    /// Facts of the host alone (no inside to compare with): label and value.
    pub facts: Vec<(String, String)>,
    pub observations: Vec<Observation>,
    /// The two columns of the observations: "host" and "inside" unless a step says
    /// otherwise (lesson 5 compares cgroup v2 and v1 file names).
    pub columns: Option<(String, String)>,
    pub checks: Vec<Check>,
    pub inspect: Option<Inspect>,
    /// Whatever else must live until the step ends, after its pause (a runtime's
    /// container that the inspect shell has joined): dropped right after it.
    held: Vec<Box<dyn std::any::Any>>,
    /// Cgroups of this step: removed when the step ends, after the inspect process
    /// (fields drop in order).
    cgroups: Vec<OwnedCgroup>,
    /// Host interfaces of this step: deleted last (after the processes whose network
    /// namespaces held their peers).
    links: Vec<OwnedLink>,
    /// `--subnet`, for the network lessons.
    pub subnet: Option<&'a str>,
    /// `--registry`, for lesson 9's pull.
    pub registry: Option<&'a str>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        k: &'a dyn Kernel,
        lesson: u32,
        step: &'static str,
        text: &'a LessonText,
        journal: &'a Journal,
        rootfs: Option<&'a str>,
    ) -> Ctx<'a> {
        Ctx {
            k,
            lesson,
            step,
            text,
            journal,
            rootfs,
            facts: Vec::new(),
            observations: Vec::new(),
            columns: None,
            checks: Vec::new(),
            inspect: None,
            held: Vec::new(),
            cgroups: Vec::new(),
            links: Vec::new(),
            subnet: None,
            registry: None,
        }
    }

    /// The journal, for what a lesson makes beyond processes, cgroups and links.
    pub fn journal(&self) -> &Journal {
        self.journal
    }

    /// The root filesystem's path on the host (lessons 2 and later).
    pub fn rootfs(&self) -> Result<String, Failure> {
        self.rootfs.map(str::to_string).ok_or_else(|| Failure::new(crate::i18n::t("error.no_rootfs")))
    }

    /// A text of this lesson's `## strings` section (labels and claims).
    pub fn s(&self, key: &str) -> String {
        self.text.strings.get(key).cloned().unwrap_or_else(|| format!("⟦{key}⟧"))
    }

    /// A command line with its `{{key}}` remarks in the learner's language.
    pub fn remarks(&self, line: &str) -> String {
        self.text.remarks(line)
    }

    /// Start an isolated process and write it in the journal.
    ///
    /// A process is the one object that cannot be journaled before it exists (its pid
    /// is known only after `fork`). The gap is covered by `PR_SET_PDEATHSIG`: if
    /// learnctr dies in it, the kernel kills the children anyway.
    pub fn start(&self, plan: Plan) -> Result<Contained, Failure> {
        let process = Inside::start(self.k, plan)?;
        let mut entries = Vec::new();
        for pid in process.pids() {
            if let Some(start) = process::start_time(pid) {
                entries.push(self.journal.record(Object::Process { pid, start })?);
            }
        }
        Ok(Contained { process, _entries: entries })
    }

    /// Create a cgroup `learnctr/LEAF`, journaling each directory before it exists.
    /// It lives until the step ends (after the pause and its shell).
    pub fn cgroup(&mut self, cgroup: Cgroup) -> Result<Cgroup, Failure> {
        let mut entries = Vec::new();
        for dir in cgroup.dirs() {
            entries.push(self.journal.record(Object::Cgroup { path: dir })?);
        }
        let owned = OwnedCgroup { cgroup: cgroup.clone(), k: &crate::primitives::Linux, _entries: entries };
        owned.cgroup.create(self.k)?;
        self.cgroups.push(owned);
        Ok(cgroup)
    }

    /// A fact about the machine itself, with no inside view.
    pub fn fact(&mut self, label_key: &str, value: impl Display) {
        self.facts.push((self.s(label_key), value.to_string()));
    }

    /// A fact whose label is not a text (a command line, a number).
    pub fn fact_raw(&mut self, label: &str, value: impl Display) {
        self.facts.push((label.to_string(), value.to_string()));
    }

    /// Make a host interface `name` with `create`, journaling it first; it is deleted
    /// when the step ends.
    pub fn host_link(
        &mut self,
        name: &str,
        create: impl FnOnce() -> crate::primitives::Result<()>,
    ) -> Result<(), Failure> {
        let entry = self.journal.record(Object::Link { name: name.to_string() })?;
        let owned = OwnedLink { name: name.to_string(), _entry: entry };
        create()?;
        self.links.push(owned);
        Ok(())
    }

    pub fn observe(&mut self, label_key: &str, host: impl Display, inside: impl Display) {
        self.observations.push(Observation {
            label: self.s(label_key),
            host: host.to_string(),
            inside: inside.to_string(),
        });
    }

    /// An observation whose label is not a text (a path, a file name).
    pub fn observe_raw(&mut self, label: &str, host: impl Display, inside: impl Display) {
        self.observations.push(Observation {
            label: label.to_string(),
            host: host.to_string(),
            inside: inside.to_string(),
        });
    }

    /// Record a check. `measured` says what was compared, in plain values.
    pub fn check(&mut self, claim_key: &str, passed: bool, measured: impl Display) {
        self.checks.push(Check { claim: self.s(claim_key), passed, measured: measured.to_string() });
    }

    /// Keep `thing` alive until the step ends (after its pause and shell).
    pub fn hold(&mut self, thing: Box<dyn std::any::Any>) {
        self.held.push(thing);
    }

    /// Offer a shell in `process` at the pause after this step.
    pub fn inspect(&mut self, process: Contained, inside: &[&str], outside: Vec<String>) {
        self.inspect = Some(Inspect {
            process,
            program: "/bin/sh".to_string(),
            inside: inside.iter().map(|s| s.to_string()).collect(),
            outside,
        });
    }
}
