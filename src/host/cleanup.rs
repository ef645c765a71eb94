//! Removing what learnctr left on the host.
//!
//! Two passes. First the journal: every entry whose owner is no longer running names
//! an object to remove. Then, for `learnctr cleanup` only, a sweep by name: anything
//! with the `learnctr` prefix that no running learnctr claims (this also catches an
//! object made in the instant between its journal entry and a crash, or by an older
//! version). Both passes are idempotent: running them twice removes nothing the second
//! time and fails on nothing.

use super::journal::{self, Object, Record};
use crate::primitives::cgroups;
use crate::primitives::process;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct Report {
    pub removed: Vec<String>,
    pub failed: Vec<String>,
    /// Objects of a learnctr that is still running: left alone.
    pub in_use: Vec<String>,
}

/// The journal pass: remove the objects of owners that died.
pub fn recover(journal_dir: &Path) -> Report {
    let mut report = Report::default();
    for (path, record) in journal::entries(journal_dir) {
        if record.owner_alive() {
            report.in_use.push(describe(&record.object));
            continue;
        }
        match remove(&record.object) {
            Ok(()) => {
                report.removed.push(describe(&record.object));
                let _ = std::fs::remove_file(&path);
            }
            Err(why) => report.failed.push(format!("{}: {why}", describe(&record.object))),
        }
    }
    journal::remove_if_empty(journal_dir);
    report
}

/// `learnctr cleanup`: the journal pass, the containers a killed `create` left half
/// made, then the sweep by name.
pub fn cleanup(journal_dir: &Path) -> Report {
    let mut report = recover(journal_dir);
    half_made_containers(&mut report);
    let claimed: Vec<Object> =
        journal::entries(journal_dir).into_iter().map(|(_, r): (PathBuf, Record)| r.object).collect();
    for object in named_objects() {
        if claimed.contains(&object) {
            continue;
        }
        match remove(&object) {
            Ok(()) => report.removed.push(describe(&object)),
            Err(why) => report.failed.push(format!("{}: {why}", describe(&object))),
        }
    }
    journal::remove_if_empty(journal_dir);
    report
}

/// Containers in the default state root whose `create` died before it finished (the
/// status is then `stopped`, with the creator still named): `delete --force` each.
fn half_made_containers(report: &mut Report) {
    use crate::runtime::state;
    let root = Path::new(state::DEFAULT_ROOT);
    for c in state::list(root).into_iter().filter(|c| c.creator.is_some() && c.status(root) == "stopped") {
        match crate::runtime::delete(&crate::primitives::Linux, root, &c.id, true) {
            Ok(()) => report.removed.push(format!("half-made container {}", c.id)),
            Err(e) => report.failed.push(format!("container {}: {e}", c.id)),
        }
    }
}

/// Only ever a folder of learnctr's own: inside /run/learnctr or /var/lib/learnctr, or
/// named `learnctr-*` in /run (a runtime's state root) or the temporary directory (a
/// finale's bundle). Compared as text, with no `..` anywhere.
fn is_learnctr_dir(path: &Path) -> bool {
    use std::path::Component;
    if path.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)) {
        return false;
    }
    let inside = ["/run/learnctr/", "/var/lib/learnctr/"].iter().any(|p| path.starts_with(p));
    let tmp = std::env::temp_dir();
    let named = path.parent().is_some_and(|parent| parent == Path::new("/run") || parent == tmp)
        && path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("learnctr-"));
    inside || named
}

fn describe(object: &Object) -> String {
    match object {
        Object::Process { pid, .. } => format!("process {pid}"),
        Object::Cgroup { path } => format!("cgroup {}", path.display()),
        Object::Link { name } => format!("interface {name}"),
        Object::Netns { name } => format!("netns {name}"),
        Object::Dir { path } => format!("directory {}", path.display()),
    }
}

fn remove(object: &Object) -> Result<(), String> {
    match object {
        Object::Process { pid, start } => {
            if process::still_running(*pid, *start) {
                process::kill_stranded(*pid);
            }
            Ok(())
        }
        Object::Cgroup { path } => cgroups::remove_dir(&crate::primitives::Linux, path).map_err(|e| e.to_string()),
        Object::Netns { name } => crate::primitives::netns::remove_named(name).map_err(|e| e.to_string()),
        Object::Link { name } => crate::primitives::netns::delete_link(name).map_err(|e| e.to_string()),
        Object::Dir { path } => {
            if !is_learnctr_dir(path) {
                return Err("not a learnctr folder".into());
            }
            match std::fs::remove_dir_all(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            }
        }
    }
}

/// Objects on this machine whose name starts with `learnctr`, but for the names the
/// tasks ask the learner to use (`learnctr-task`, `learnctr-a`): those are the
/// learner's work, which `learnctr task N.K --reset` removes when asked.
fn named_objects() -> Vec<Object> {
    let learners = |name: &str| crate::tasks::LEARNERS_NAMES.contains(&name);
    let mut found = Vec::new();
    for path in cgroups::remove::learnctr_cgroups() {
        if !path.file_name().and_then(|n| n.to_str()).is_some_and(learners) {
            found.push(Object::Cgroup { path });
        }
    }
    for name in crate::primitives::netns::learnctr_netns().into_iter().filter(|n| !learners(n)) {
        found.push(Object::Netns { name });
    }
    for name in crate::primitives::netns::learnctr_links().into_iter().filter(|n| !learners(n)) {
        found.push(Object::Link { name });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_learnctr_folders_are_removed() {
        let tmp = std::env::temp_dir().join("learnctr-shell-1");
        for ours in [Path::new("/run/learnctr/shell-1"), tmp.as_path(), Path::new("/run/learnctr-lesson8r-1-runc")] {
            assert!(is_learnctr_dir(ours), "{}", ours.display());
        }
        for not_ours in
            ["/tmp", "/tmp/learnctrx/../etc", "/etc/learnctr-x", "/run/learnctr/../shadow", "/home/learnctr-x"]
        {
            assert!(!is_learnctr_dir(Path::new(not_ours)), "{not_ours}");
        }
    }
}
