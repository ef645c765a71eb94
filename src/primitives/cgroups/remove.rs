//! Removing a cgroup (`cgdelete -r`), and finding the ones learnctr made.
//!
//! A cgroup is a directory in a cgroup filesystem, and `rmdir` is the only way to
//! remove one: its files go with it, but only once no process is in it and no cgroup
//! is below it (until then `rmdir` fails with EBUSY). So removal goes from the leaves
//! up: in each cgroup, kill the processes listed in `cgroup.procs`, then `rmdir` it,
//! again while the killed processes are still exiting. Every kill and every rmdir goes
//! through the kernel layer, so it is in the trace.
//!
//! This is learnctr's one remover of cgroups: a lesson's or a container's cgroup
//! ([`Cgroup::remove`]), and a directory named by the journal or found by name after a
//! crash, or recorded by the runtime in a container's state ([`remove_dir`]).

use super::{files, Cgroup, PARENT};
use crate::primitives::error::Result;
use crate::primitives::kernel::Kernel;
use crate::primitives::trace;
use nix::errno::Errno;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

impl Cgroup {
    /// Remove the cgroup (`cgdelete -r`) in every hierarchy it is in: the cgroups
    /// below it first, then itself, killing what is left inside; and the learnctr
    /// parent too when no other run uses it.
    pub fn remove(&self, k: &dyn Kernel) -> Result<()> {
        for dir in self.dirs() {
            remove_dir(k, &dir)?;
        }
        Ok(())
    }
}

/// Remove the cgroup directory `dir` as [`Cgroup::remove`] removes each of its own:
/// the cgroups below it first, killing what runs in them. A `learnctr` parent is
/// shared by every run: it goes only when it is empty, never with its children. A
/// directory already gone is no error.
pub fn remove_dir(k: &dyn Kernel, dir: &Path) -> Result<()> {
    if is_parent(dir) {
        return match k.rmdir(&dir.to_string_lossy()) {
            Err(e) if e.errno() == Some(Errno::ENOENT) => Ok(()),
            other => other,
        };
    }
    remove_tree(k, dir)?;
    // learnctr's own parent goes when it is empty. Another learnctr may still have a
    // cgroup in it (EBUSY), or have removed it already (ENOENT): then this attempt
    // is not worth a line of the trace. Any other parent is not ours.
    if let Some(parent) = dir.parent().filter(|p| is_parent(p)) {
        if k.rmdir(&parent.to_string_lossy()).is_err() {
            trace::take_last_if(|ev| ev.call.starts_with("rmdir("));
        }
    }
    Ok(())
}

/// Remove `dir` and every cgroup below it, children before parents.
fn remove_tree(k: &dyn Kernel, dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let io = |e| crate::primitives::error::Error::io(dir.display().to_string(), e);
    for child in std::fs::read_dir(dir).map_err(io)?.flatten() {
        if child.file_type().map_err(io)?.is_dir() {
            remove_tree(k, &child.path())?;
        }
    }
    kill_and_rmdir(k, dir)
}

/// Kill the processes in the cgroup `dir`, then `rmdir` it. Killed processes leave
/// the cgroup only once they are reaped, so `rmdir` fails with EBUSY for a while
/// (seconds on a slow machine, or under a parent slow to reap): retry, killing any
/// process that arrived meanwhile (a fork), and drop the failed attempts from the
/// trace.
fn kill_and_rmdir(k: &dyn Kernel, dir: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut killed: Vec<i32> = Vec::new();
    loop {
        let listed = std::fs::read_to_string(dir.join(files::PROCS)).unwrap_or_default();
        for pid in listed.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            if !killed.contains(&pid) {
                let _ = k.kill(pid, libc::SIGKILL);
                killed.push(pid);
            }
        }
        match k.rmdir(&dir.to_string_lossy()) {
            Ok(()) => return Ok(()),
            Err(e) if e.errno() == Some(Errno::ENOENT) => return Ok(()),
            Err(e) if e.errno() == Some(Errno::EBUSY) && Instant::now() < deadline => {
                trace::take_last_if(|ev| ev.call.starts_with("rmdir(") && ev.result.contains("EBUSY"));
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Every cgroup learnctr made: the cgroups inside each `learnctr` parent (on v2
/// `/sys/fs/cgroup/learnctr/*`, on v1 `/sys/fs/cgroup/<controller>/learnctr/*`), then the
/// parents themselves (last, so that they are empty when their turn comes).
pub fn learnctr_cgroups() -> Vec<PathBuf> {
    let parents = learnctr_parents();
    let mut found: Vec<PathBuf> = parents
        .iter()
        .flat_map(|p| std::fs::read_dir(p).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()))
        .collect();
    found.extend(parents);
    found
}

/// Whether this is a `learnctr` parent cgroup (shared by every run: removed only
/// when empty, never with its children).
pub fn is_parent(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()) == Some(PARENT)
}

fn learnctr_parents() -> Vec<PathBuf> {
    let root = super::hierarchy::ROOT;
    let mut roots = vec![PathBuf::from(root)];
    if let Ok(read) = std::fs::read_dir(root) {
        roots.extend(read.flatten().map(|e| e.path()).filter(|p| p.is_dir() && !is_learnctr(p)));
    }
    let mut found = Vec::new();
    for root in roots {
        if let Ok(read) = std::fs::read_dir(&root) {
            found.extend(read.flatten().map(|e| e.path()).filter(|p| p.is_dir() && is_learnctr(p)));
        }
    }
    found
}

fn is_learnctr(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("learnctr"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::Fake;

    #[test]
    fn the_cgroups_below_go_first_and_every_call_is_traced() {
        let tmp = tempfile::tempdir().unwrap();
        let parent = tmp.path().join(PARENT);
        let leaf = parent.join("t");
        std::fs::create_dir_all(leaf.join("child")).unwrap();
        std::fs::write(leaf.join("cgroup.procs"), "41\n").unwrap();
        std::fs::write(leaf.join("child").join("cgroup.procs"), "42\n").unwrap();
        // The fake removes nothing: each directory is listed once, children first.
        let fake = Fake::new();
        remove_dir(&fake, &leaf).unwrap();
        let (leaf, parent) = (leaf.display(), parent.display());
        assert_eq!(
            fake.calls(),
            vec![
                "kill(42, SIGKILL)".to_string(),
                format!("rmdir(\"{leaf}/child\")"),
                "kill(41, SIGKILL)".to_string(),
                format!("rmdir(\"{leaf}\")"),
                format!("rmdir(\"{parent}\")"),
            ]
        );
    }

    #[test]
    fn a_parent_goes_only_alone_and_a_cgroup_already_gone_is_no_error() {
        let tmp = tempfile::tempdir().unwrap();
        let parent = tmp.path().join(PARENT);
        std::fs::create_dir_all(parent.join("t")).unwrap();
        std::fs::write(parent.join("t").join("cgroup.procs"), "41\n").unwrap();
        let fake = Fake::new();
        remove_dir(&fake, &parent).unwrap();
        assert_eq!(fake.calls(), vec![format!("rmdir(\"{}\")", parent.display())]);
        let fake = Fake::new();
        fake.fail("rmdir(", Errno::ENOENT);
        remove_dir(&fake, &parent.join("t")).unwrap();
        remove_dir(&fake, &tmp.path().join("never-made")).unwrap();
    }
}
