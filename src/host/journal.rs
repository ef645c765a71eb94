//! The journal under `/run/learnctr/journal`: one small JSON file per host object.
//!
//! Before learnctr makes anything that would outlive it on the host (a process, a
//! cgroup, an interface, a named netns, a state directory), it writes an entry naming
//! the object and itself (pid and start time). When the object is removed, the entry
//! goes too. If learnctr dies before that (SIGKILL, power cut), the entry stays, and
//! the next learnctr that starts — or `learnctr cleanup` — sees that its owner is gone
//! and removes the object. `/run` is a tmpfs: a reboot forgets the journal, and with
//! it every object it could name, which a reboot removes anyway.

use crate::primitives::process;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where learnctr keeps its runtime state; the journal is a folder inside it.
pub const RUN_DIR: &str = "/run/learnctr";

/// A host object learnctr may make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Object {
    /// A process (identified by pid *and* start time, so a reused pid is never hit).
    Process { pid: i32, start: u64 },
    /// A cgroup directory (any hierarchy).
    Cgroup { path: PathBuf },
    /// A network interface on the host (veth end, bridge).
    Link { name: String },
    /// A named network namespace under /run/netns.
    Netns { name: String },
    /// A directory learnctr created (state of a container, a temporary bundle).
    Dir { path: PathBuf },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub owner: i32,
    pub owner_start: u64,
    pub object: Object,
}

/// The journal of this learnctr process.
pub struct Journal {
    dir: PathBuf,
    owner: i32,
    owner_start: u64,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl Journal {
    pub fn system() -> Journal {
        Journal::at(Path::new(RUN_DIR).join("journal"))
    }

    pub fn at(dir: PathBuf) -> Journal {
        let owner = std::process::id() as i32;
        Journal { dir, owner, owner_start: process::start_time(owner).unwrap_or(0) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Write an entry for `object` (atomically: a temporary name, then rename) and
    /// return its guard; dropping the guard removes the entry.
    pub fn record(&self, object: Object) -> std::io::Result<Entry> {
        std::fs::create_dir_all(&self.dir)?;
        let seq = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = self.dir.join(format!("{}-{}.json", self.owner, seq));
        let tmp = self.dir.join(format!(".{}-{}.tmp", self.owner, seq));
        let record = Record { owner: self.owner, owner_start: self.owner_start, object };
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&serde_json::to_vec_pretty(&record).map_err(std::io::Error::other)?)?;
        drop(file);
        std::fs::rename(&tmp, &path)?;
        Ok(Entry { path: Some(path) })
    }
}

/// One entry; the object it names is gone once the entry is dropped (drop the object
/// first).
#[derive(Debug)]
pub struct Entry {
    path: Option<PathBuf>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(&path);
            if let Some(dir) = path.parent() {
                remove_if_empty(dir);
            }
        }
    }
}

/// Remove the journal folder, then `/run/learnctr`, when they hold nothing.
pub fn remove_if_empty(journal_dir: &Path) {
    if std::fs::remove_dir(journal_dir).is_ok() {
        if let Some(run) = journal_dir.parent() {
            let _ = std::fs::remove_dir(run);
        }
    }
}

/// Every entry in a journal folder, with its file.
pub fn entries(dir: &Path) -> Vec<(PathBuf, Record)> {
    let mut out = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else { return out };
    for entry in read.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            // A temporary file of a writer that died between write and rename.
            if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
                let _ = std::fs::remove_file(&path);
            }
            continue;
        }
        match std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<Record>(&b).ok()) {
            Some(record) => out.push((path, record)),
            // Unreadable: it cannot name anything we could remove safely.
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

impl Record {
    /// Whether the learnctr that wrote this entry still runs.
    pub fn owner_alive(&self) -> bool {
        process::still_running(self.owner, self.owner_start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_lives_as_long_as_its_guard() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("learnctr");
        let journal = Journal::at(run.join("journal"));
        let guard = journal.record(Object::Netns { name: "learnctr-test".into() }).unwrap();
        let listed = entries(journal.dir());
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].1.object, Object::Netns { name: "learnctr-test".into() });
        assert!(listed[0].1.owner_alive());
        drop(guard);
        assert!(entries(journal.dir()).is_empty());
        assert!(!run.exists(), "empty journal and run folders are removed");
    }

    #[test]
    fn a_dead_owner_is_recognised() {
        let r = Record { owner: i32::MAX - 1, owner_start: 1, object: Object::Process { pid: 1, start: 1 } };
        assert!(!r.owner_alive());
    }
}
