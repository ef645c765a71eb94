//! Which lessons the learner has finished, kept for the learner (not for root).
//!
//! Under `sudo`, the file goes to the invoking user's home (`SUDO_USER`) and is owned
//! by that user, so the course remembers the learner, not root:
//! `~/.local/share/learnctr/progress.json` (or `$XDG_DATA_HOME/learnctr/...` when run
//! without sudo). `LEARNCTR_PROGRESS_FILE` overrides the path (the tests use it).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Progress {
    /// The lessons finished, by name.
    #[serde(default)]
    pub finished: BTreeSet<String>,
    /// Files of the nine-lesson course kept numbers: read, turned into names, never
    /// written again.
    #[serde(default, skip_serializing)]
    done: BTreeSet<u32>,
    /// The tasks whose check passed ("done yourself"), by the task's key: its lesson's
    /// name and its number in the lesson, `cgroups.1` for task 5.1 (see
    /// `tasks::Task::key`), so that renumbering the course keeps them too. Older files
    /// kept ids (`5.1`): read, turned into keys, never written again.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub tasks_passed: BTreeSet<String>,
    /// How many hints of each task the learner has seen, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hints_seen: BTreeMap<String, u8>,
    /// How many checks of each task failed (the solution opens after two), by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks_failed: BTreeMap<String, u8>,
}

/// The lessons by number before lesson 9 (images) was inserted, for older files: the
/// nine-lesson course kept lesson numbers (1 to 9, 9 the finale), and the ten-lesson
/// course kept task ids `N.K` (9.1 the finale's, 10.1 the engines').
const NUMBERED_COURSE: [&str; 10] = [
    "namespaces",
    "chroot",
    "pivot_root",
    "proc_dev_sys",
    "cgroups",
    "capabilities",
    "network",
    "bundle",
    "finale",
    "engines",
];

/// The lesson an older file meant by number `n`.
fn numbered(n: u32) -> Option<&'static str> {
    NUMBERED_COURSE.get((n as usize).wrapping_sub(1)).copied()
}

/// The key of an older file's task id (`9.1` → `finale.1`); a key is kept as it is,
/// and an id of no lesson is `None`.
fn task_key(stored: &str) -> Option<String> {
    match stored.split_once('.') {
        Some((n, k)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            numbered(n.parse().ok()?).map(|name| format!("{name}.{k}"))
        }
        _ => Some(stored.to_string()),
    }
}

/// The counts of a map keyed by older ids, by key; two that meet keep the larger.
fn rekeyed(counts: BTreeMap<String, u8>) -> BTreeMap<String, u8> {
    let mut out = BTreeMap::new();
    for (stored, n) in counts {
        if let Some(key) = task_key(&stored) {
            let kept: &mut u8 = out.entry(key).or_default();
            *kept = (*kept).max(n);
        }
    }
    out
}

impl Progress {
    pub fn is_done(&self, name: &str) -> bool {
        self.finished.contains(name)
    }

    /// Numbers of an older file become names: lesson numbers, and the lesson numbers
    /// in task ids.
    fn upgraded(mut self) -> Progress {
        for n in std::mem::take(&mut self.done) {
            if let Some(name) = numbered(n) {
                self.finished.insert(name.to_string());
            }
        }
        self.tasks_passed = std::mem::take(&mut self.tasks_passed).iter().filter_map(|t| task_key(t)).collect();
        self.hints_seen = rekeyed(std::mem::take(&mut self.hints_seen));
        self.checks_failed = rekeyed(std::mem::take(&mut self.checks_failed));
        self
    }
}

/// Where the progress file lives, and who should own it.
pub struct Place {
    pub file: PathBuf,
    pub owner: Option<(u32, u32)>,
}

pub fn place() -> Option<Place> {
    let account = |name: &str| {
        let user = nix::unistd::User::from_name(name).ok().flatten()?;
        Some((user.dir, user.uid.as_raw(), user.gid.as_raw()))
    };
    place_for(|k| std::env::var(k).ok(), nix::unistd::geteuid().is_root(), account)
}

/// The decision of [`place`], with the environment, "am I root" and the user
/// database passed in (so it can be tested without sudo).
pub fn place_for(
    env: impl Fn(&str) -> Option<String>,
    root: bool,
    account: impl Fn(&str) -> Option<(PathBuf, u32, u32)>,
) -> Option<Place> {
    if let Some(path) = env("LEARNCTR_PROGRESS_FILE") {
        return Some(Place { file: PathBuf::from(path), owner: None });
    }
    let sudo_user = env("SUDO_USER").filter(|u| !u.is_empty() && u != "root");
    if let (Some(user), true) = (sudo_user, root) {
        let (home, uid, gid) = account(&user)?;
        return Some(Place { file: home.join(".local/share/learnctr/progress.json"), owner: Some((uid, gid)) });
    }
    let base = env("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(Place { file: base.join("learnctr/progress.json"), owner: None })
}

pub fn load() -> Progress {
    place()
        .and_then(|p| std::fs::read(&p.file).ok())
        .and_then(|b| serde_json::from_slice::<Progress>(&b).ok())
        .map(Progress::upgraded)
        .unwrap_or_default()
}

/// Save atomically (temporary file, then rename), owned by the learner.
pub fn save(progress: &Progress) -> std::io::Result<()> {
    match place() {
        Some(place) => save_at(&place, progress),
        None => Ok(()),
    }
}

fn save_at(place: &Place, progress: &Progress) -> std::io::Result<()> {
    let dir = place.file.parent().unwrap_or(std::path::Path::new("."));
    let mut created = Vec::new();
    let mut d = Some(dir);
    while let Some(p) = d {
        if p.exists() {
            break;
        }
        created.push(p.to_path_buf());
        d = p.parent();
    }
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(".progress.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(progress).map_err(std::io::Error::other)?)?;
    if let Some((uid, gid)) = place.owner {
        for p in created.iter().chain(std::iter::once(&tmp)) {
            std::os::unix::fs::chown(p, Some(uid), Some(gid))?;
        }
    }
    std::fs::rename(&tmp, &place.file)
}

/// Change the progress file with `f`, then save it.
pub fn update(f: impl FnOnce(&mut Progress)) -> std::io::Result<()> {
    let mut p = load();
    f(&mut p);
    save(&p)
}

pub fn mark_done(lesson: &str) -> std::io::Result<()> {
    let mut p = load();
    p.finished.insert(lesson.to_string());
    save(&p)
}

pub fn reset(lesson: Option<&str>) -> std::io::Result<()> {
    let mut p = load();
    match lesson {
        Some(name) => {
            p.finished.remove(name);
        }
        None => p.finished.clear(),
    }
    save(&p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    fn alice(name: &str) -> Option<(PathBuf, u32, u32)> {
        (name == "alice").then(|| (PathBuf::from("/home/alice"), 1000, 1000))
    }

    #[test]
    fn under_sudo_progress_belongs_to_the_invoking_user() {
        let p = place_for(env(&[("SUDO_USER", "alice"), ("HOME", "/root")]), true, alice).unwrap();
        assert_eq!(p.file, PathBuf::from("/home/alice/.local/share/learnctr/progress.json"));
        assert_eq!(p.owner, Some((1000, 1000)));
    }

    #[test]
    fn without_sudo_progress_is_in_our_own_home() {
        let p = place_for(env(&[("HOME", "/home/bob")]), false, alice).unwrap();
        assert_eq!(p.file, PathBuf::from("/home/bob/.local/share/learnctr/progress.json"));
        assert_eq!(p.owner, None);
        let p = place_for(env(&[("SUDO_USER", "root"), ("HOME", "/root")]), true, alice).unwrap();
        assert_eq!(p.file, PathBuf::from("/root/.local/share/learnctr/progress.json"));
        let p = place_for(env(&[("XDG_DATA_HOME", "/d"), ("HOME", "/h")]), false, alice).unwrap();
        assert_eq!(p.file, PathBuf::from("/d/learnctr/progress.json"));
    }

    /// A file of the nine-lesson course (numbers) keeps what it says, by name, and is
    /// written back with names only: a renumbered course keeps a learner's progress.
    #[test]
    fn numbers_of_older_files_become_names() {
        let old: Progress = serde_json::from_str(r#"{"done":[1,9,42]}"#).unwrap();
        let p = old.upgraded();
        assert_eq!(p.finished.iter().map(String::as_str).collect::<Vec<_>>(), ["finale", "namespaces"]);
        let written = serde_json::to_string(&p).unwrap();
        assert_eq!(written, r#"{"finished":["finale","namespaces"]}"#);
        // The nine-lesson course's numbers are the old ones: 8 the bundle, 9 the finale.
        let old: Progress = serde_json::from_str(r#"{"done":[8,9]}"#).unwrap();
        assert_eq!(old.upgraded().finished.into_iter().collect::<Vec<_>>(), ["bundle", "finale"]);
    }

    /// Task ids of the ten-lesson course (9.1 the finale's, 10.1 the engines') keep
    /// meaning the same tasks once lesson 9 is inserted: they become keys by lesson
    /// name, written back as keys only; keys are kept, ids of no lesson dropped.
    #[test]
    fn task_ids_of_older_files_become_keys() {
        let old: Progress = serde_json::from_str(
            r#"{"finished":["engines"],"tasks_passed":["5.1","9.1","10.1","42.1","bundle.1"],
                "hints_seen":{"9.1":2,"finale.1":1,"10.1":3},"checks_failed":{"10.1":2,"3.2":1}}"#,
        )
        .unwrap();
        let p = old.upgraded();
        assert_eq!(
            p.tasks_passed.iter().map(String::as_str).collect::<Vec<_>>(),
            ["bundle.1", "cgroups.1", "engines.1", "finale.1"]
        );
        assert_eq!(p.hints_seen, BTreeMap::from([("engines.1".into(), 3), ("finale.1".into(), 2)]));
        assert_eq!(p.checks_failed, BTreeMap::from([("engines.1".into(), 2), ("pivot_root.2".into(), 1)]));
        let written = serde_json::to_string(&p).unwrap();
        let again = serde_json::from_str::<Progress>(&written).unwrap().upgraded();
        assert_eq!(again.tasks_passed, p.tasks_passed, "keys read back as they are: {written}");
        assert_eq!((again.hints_seen, again.checks_failed), (p.hints_seen, p.checks_failed));
    }

    #[test]
    fn saving_is_atomic_and_loadable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a/b/progress.json");
        let mut p = Progress::default();
        p.finished.insert("pivot_root".into());
        save_at(&Place { file: file.clone(), owner: None }, &p).unwrap();
        let back: Progress = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert!(back.is_done("pivot_root") && !back.is_done("chroot"));
        assert_eq!(std::fs::read_dir(file.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
    }
}
