//! Control groups: limits on what a group of processes may use.
//!
//! A cgroup is a directory in a cgroup filesystem; its settings are files in it; a
//! process joins by writing its pid into `cgroup.procs`. Everything here is plain
//! `mkdir`, `write` and `rmdir` on those files — what `cgcreate`, `cgset` and
//! `cgexec` do — recorded in the trace like every other call.
//!
//! - `hierarchy.rs`: v2, hybrid or v1, found with `statfs` as runc does, and the
//!   controllers a new cgroup can use;
//! - this file: creating a cgroup under learnctr's own parent, setting limits, adding
//!   a process, reading the counters;
//! - `files.rs`: which file holds which limit in each version;
//! - `devices_bpf.rs`: device rules on v2, where they are an eBPF program, not a file;
//! - `freezer.rs`: pause and resume (v2 `cgroup.freeze`, v1 `freezer.state`);
//! - `remove.rs`: removing a cgroup, the ones below it first, and finding the ones an
//!   earlier run left.

pub mod devices_bpf;
pub mod files;
pub mod freezer;
pub mod hierarchy;
pub mod remove;

pub use files::Limit;
pub use hierarchy::{Hierarchy, Mode};
pub use remove::remove_dir;

use super::error::{Error, Result};
use super::kernel::Kernel;
use std::path::PathBuf;

/// Every cgroup learnctr makes lives under this parent, in every hierarchy.
pub const PARENT: &str = "learnctr";

/// Why a cgroup cannot be made here (the lesson turns this into a sentence).
#[derive(Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// No cgroup filesystem at the root.
    NoMount,
    /// The kernel does not offer this controller here (or, on hybrid, it is bound to
    /// a v1 hierarchy that is not mounted).
    Controller(String),
    /// v2: the controller exists but the root does not hand it down to child cgroups
    /// (`cgroup.subtree_control`).
    NotDelegated(String),
}

/// One cgroup, `learnctr/LEAF`, with the controllers it uses.
#[derive(Clone, Debug)]
pub struct Cgroup {
    pub hierarchy: Hierarchy,
    /// The path below each hierarchy root: `learnctr/lesson5-4242`.
    pub name: String,
    pub controllers: Vec<&'static str>,
}

impl Cgroup {
    /// Describe a cgroup (nothing is created yet).
    pub fn new(hierarchy: Hierarchy, leaf: &str, controllers: &[&'static str]) -> Cgroup {
        Cgroup { hierarchy, name: format!("{PARENT}/{leaf}"), controllers: controllers.to_vec() }
    }

    /// A cgroup at a path of the caller's choice (an OCI bundle's `cgroupsPath`),
    /// relative to each hierarchy's root. `..` never climbs above the root (runc's
    /// `CleanPath`): `/../../x` is `x`.
    pub fn at_path(hierarchy: Hierarchy, path: &str, controllers: &[&'static str]) -> Cgroup {
        let mut parts: Vec<&str> = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        Cgroup { hierarchy, name: parts.join("/"), controllers: controllers.to_vec() }
    }

    /// v2, hybrid or v1.
    pub fn mode(&self) -> Mode {
        self.hierarchy.mode
    }

    /// The cgroup's directories: one on v2, one per hierarchy on v1 (co-mounted
    /// controllers such as `cpu,cpuacct` share one directory, listed once).
    pub fn dirs(&self) -> Vec<PathBuf> {
        match self.hierarchy.mode {
            Mode::Unified => vec![self.hierarchy.dir("", &self.name)],
            _ => {
                let mut seen: Vec<PathBuf> = Vec::new();
                let mut out = Vec::new();
                for c in &self.controllers {
                    let top = self.hierarchy.dir(c, "");
                    let real = std::fs::canonicalize(&top).unwrap_or(top);
                    if !seen.contains(&real) {
                        seen.push(real);
                        out.push(self.hierarchy.dir(c, &self.name));
                    }
                }
                out
            }
        }
    }

    /// The directory that holds `controller`'s files.
    pub fn dir_of(&self, controller: &str) -> PathBuf {
        self.hierarchy.dir(controller, &self.name)
    }

    /// Can this cgroup be made here? Reads only.
    pub fn check(&self) -> std::result::Result<(), Unavailable> {
        if self.hierarchy.mode == Mode::Missing {
            return Err(Unavailable::NoMount);
        }
        let usable = self.hierarchy.usable_controllers();
        for c in &self.controllers {
            if !usable.iter().any(|u| u == c) {
                return Err(Unavailable::Controller(c.to_string()));
            }
        }
        if self.hierarchy.mode == Mode::Unified {
            let delegated = hierarchy::read_words(&self.hierarchy.root.join("cgroup.subtree_control"));
            if let Some(c) = self.controllers.iter().find(|c| !delegated.iter().any(|d| d == *c)) {
                return Err(Unavailable::NotDelegated(c.to_string()));
            }
        }
        Ok(())
    }

    /// Create the cgroup (`cgcreate -g memory,cpu,pids:learnctr/LEAF`).
    ///
    /// v2 has one tree and the "no internal processes" rule: a cgroup that hands
    /// controllers down to its children (`cgroup.subtree_control`) may not hold
    /// processes itself. So learnctr's parent holds none: it only delegates
    /// (`+memory +cpu +pids`), and the processes go into the child.
    /// v1 has one tree per controller: the same two directories in each.
    pub fn create(&self, k: &dyn Kernel) -> Result<()> {
        self.make(k, false).map(drop)
    }

    /// Whether any of the cgroup's directories exists already (then it is someone
    /// else's: a pod's, named by an OCI bundle's `cgroupsPath`).
    pub fn exists(&self) -> bool {
        self.dirs().iter().any(|d| d.is_dir())
    }

    /// Join the cgroup if it exists already (shared with other containers, as runc
    /// allows; a hierarchy it lacks is added), else create it.
    pub fn create_or_join(&self, k: &dyn Kernel) -> Result<()> {
        self.make(k, self.exists()).map(drop)
    }

    fn make(&self, k: &dyn Kernel, tolerate_existing: bool) -> Result<bool> {
        let parent_dirs: Vec<PathBuf> = self.dirs().iter().filter_map(|d| d.parent().map(PathBuf::from)).collect();
        for parent in &parent_dirs {
            // Every missing ancestor, from the top (a cgroupsPath may be nested).
            let mut missing: Vec<&std::path::Path> = parent.ancestors().take_while(|a| !a.is_dir()).collect();
            missing.reverse();
            for dir in missing {
                mkdir_if_missing(k, dir)?;
            }
        }
        if self.hierarchy.mode == Mode::Unified {
            let enable: Vec<String> = self.controllers.iter().map(|c| format!("+{c}")).collect();
            let control = parent_dirs[0].join("cgroup.subtree_control");
            k.write_file(&control.to_string_lossy(), &enable.join(" "))?;
        }
        for dir in self.dirs() {
            if tolerate_existing {
                mkdir_if_missing(k, &dir)?;
            } else {
                k.mkdir(&dir.to_string_lossy(), 0o755)?;
            }
        }
        // v1 cpuset starts empty, and a cgroup without CPUs or memory nodes refuses
        // every process (ENOSPC): copy them from the parent, parent first.
        if self.hierarchy.mode != Mode::Unified && self.controllers.contains(&"cpuset") {
            let leaf = self.dir_of("cpuset");
            let top = self.hierarchy.dir("cpuset", "");
            let mut chain: Vec<PathBuf> =
                leaf.ancestors().take_while(|a| *a != top.as_path()).map(PathBuf::from).collect();
            chain.reverse();
            for dir in chain {
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    let mine = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
                    if mine.trim().is_empty() {
                        let parent = dir.parent().map(|p| p.join(file)).unwrap_or_default();
                        let value = std::fs::read_to_string(&parent).unwrap_or_default();
                        k.write_file(&dir.join(file).to_string_lossy(), value.trim())?;
                    }
                }
            }
        }
        Ok(true)
    }

    /// Set one limit (`cgset -r FILE=VALUE`). A limit this cgroup version has no
    /// file for, or whose file this machine lacks (no swap accounting, no BFQ, no
    /// huge pages), is an error that names it: a limit is never dropped in silence.
    pub fn set(&self, k: &dyn Kernel, limit: &Limit) -> Result<()> {
        let version = if self.hierarchy.mode == Mode::Unified { "cgroup v2" } else { "cgroup v1" };
        let writes = files::writes(self.hierarchy.mode, limit)
            .ok_or_else(|| Error::Child(format!("{version} has no setting for {limit}, so it cannot be applied")))?;
        for write in writes {
            let path = self.dir_of(write.controller).join(&write.file);
            if !path.exists() {
                // The lessons' "no swap": a machine without swap accounting has no
                // swap file, and no swap to forbid.
                if matches!(limit, Limit::Memory(_)) && write.file.contains("swap") {
                    continue;
                }
                return Err(Error::Child(format!(
                    "this machine's {version} has no {}, so {limit} cannot be applied here",
                    write.file
                )));
            }
            k.write_file(&path.to_string_lossy(), &write.value)?;
        }
        Ok(())
    }

    /// Set every limit, in order. Device rules go into `devices.allow`/`deny` on v1;
    /// on v2 they become one eBPF program attached to the cgroup (`devices_bpf.rs`).
    pub fn apply(&self, k: &dyn Kernel, limits: &[Limit]) -> Result<()> {
        let mut rules = Vec::new();
        for limit in limits {
            match limit {
                Limit::Device { allow, rule } if self.hierarchy.mode == Mode::Unified => rules.push(
                    devices_bpf::Rule::parse(*allow, rule)
                        .ok_or_else(|| Error::Child(format!("the device rule \"{rule}\" cannot be read")))?,
                ),
                other => self.set(k, other)?,
            }
        }
        if !rules.is_empty() {
            devices_bpf::attach(k, &self.hierarchy.dir("", &self.name), &rules)?;
        }
        Ok(())
    }

    /// Move a process in (`echo PID > cgroup.procs`, in every tree on v1).
    pub fn add(&self, k: &dyn Kernel, pid: i32) -> Result<()> {
        for dir in self.dirs() {
            k.write_file(&dir.join(files::PROCS).to_string_lossy(), &pid.to_string())?;
        }
        Ok(())
    }

    /// A file of the cgroup, read as text (counters, limits).
    pub fn read(&self, controller: &str, file: &str) -> Result<String> {
        let path = self.dir_of(controller).join(file);
        std::fs::read_to_string(&path).map_err(|e| Error::io(path.display().to_string(), e))
    }

    /// A `key value` counter of a flat-keyed file such as `memory.events`.
    pub fn counter(&self, controller: &str, file: &str, key: &str) -> Option<u64> {
        let text = self.read(controller, file).ok()?;
        text.lines().find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(key)).then(|| words.next()?.parse().ok()).flatten()
        })
    }

    /// A file that holds one number, such as `memory.failcnt`.
    pub fn counter_value(&self, controller: &str, file: &str) -> Option<u64> {
        self.read(controller, file).ok()?.trim().parse().ok()
    }
}

fn mkdir_if_missing(k: &dyn Kernel, dir: &std::path::Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    match k.mkdir(&dir.to_string_lossy(), 0o755) {
        Err(e) if e.errno() == Some(nix::errno::Errno::EEXIST) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::Fake;

    fn v2_root(dir: &std::path::Path, delegated: &str) -> Hierarchy {
        std::fs::write(dir.join("cgroup.controllers"), "cpuset cpu io memory pids\n").unwrap();
        std::fs::write(dir.join("cgroup.subtree_control"), delegated).unwrap();
        Hierarchy::at(Mode::Unified, dir)
    }

    #[test]
    fn v2_delegates_from_the_parent_then_creates_the_child() {
        let tmp = tempfile::tempdir().unwrap();
        let cg = Cgroup::new(v2_root(tmp.path(), "cpu memory pids\n"), "t", &["memory", "cpu", "pids"]);
        assert_eq!(cg.check(), Ok(()));
        let fake = Fake::new();
        cg.create(&fake).unwrap();
        std::fs::create_dir_all(cg.dir_of("pids")).unwrap();
        std::fs::write(cg.dir_of("pids").join("pids.max"), "").unwrap();
        cg.set(&fake, &Limit::Pids(20)).unwrap();
        cg.add(&fake, 42).unwrap();
        let root = tmp.path().display();
        assert_eq!(
            fake.calls(),
            vec![
                format!("mkdir(\"{root}/learnctr\", 0755)"),
                format!("write(\"{root}/learnctr/cgroup.subtree_control\", \"+memory +cpu +pids\")"),
                format!("mkdir(\"{root}/learnctr/t\", 0755)"),
                format!("write(\"{root}/learnctr/t/pids.max\", \"20\")"),
                format!("write(\"{root}/learnctr/t/cgroup.procs\", \"42\")"),
            ]
        );
    }

    #[test]
    fn v2_refuses_a_controller_the_root_does_not_hand_down() {
        let tmp = tempfile::tempdir().unwrap();
        let cg = Cgroup::new(v2_root(tmp.path(), "cpu pids\n"), "t", &["memory", "cpu"]);
        assert_eq!(cg.check(), Err(Unavailable::NotDelegated("memory".into())));
        let cg = Cgroup::new(v2_root(tmp.path(), "cpu pids\n"), "t", &["rdma"]);
        assert_eq!(cg.check(), Err(Unavailable::Controller("rdma".into())));
    }

    #[test]
    fn v1_has_one_directory_per_controller() {
        let tmp = tempfile::tempdir().unwrap();
        for c in ["memory", "cpu", "pids"] {
            std::fs::create_dir(tmp.path().join(c)).unwrap();
        }
        let cg = Cgroup::new(Hierarchy::at(Mode::Hybrid, tmp.path()), "t", &["memory", "pids"]);
        assert_eq!(cg.check(), Ok(()));
        let fake = Fake::new();
        cg.create(&fake).unwrap();
        // The fake makes no directory: the files the limit writes are made here.
        std::fs::create_dir_all(cg.dir_of("memory")).unwrap();
        for f in ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"] {
            std::fs::write(cg.dir_of("memory").join(f), "").unwrap();
        }
        cg.set(&fake, &Limit::Memory(1 << 20)).unwrap();
        cg.add(&fake, 7).unwrap();
        let root = tmp.path().display();
        assert_eq!(
            fake.calls(),
            vec![
                format!("mkdir(\"{root}/memory/learnctr\", 0755)"),
                format!("mkdir(\"{root}/pids/learnctr\", 0755)"),
                format!("mkdir(\"{root}/memory/learnctr/t\", 0755)"),
                format!("mkdir(\"{root}/pids/learnctr/t\", 0755)"),
                format!("write(\"{root}/memory/learnctr/t/memory.limit_in_bytes\", \"1048576\")"),
                format!("write(\"{root}/memory/learnctr/t/memory.memsw.limit_in_bytes\", \"1048576\")"),
                format!("write(\"{root}/memory/learnctr/t/cgroup.procs\", \"7\")"),
                format!("write(\"{root}/pids/learnctr/t/cgroup.procs\", \"7\")"),
            ]
        );
        let missing = Cgroup::new(Hierarchy::at(Mode::Hybrid, tmp.path()), "t", &["blkio"]);
        assert_eq!(missing.check(), Err(Unavailable::Controller("blkio".into())));
    }

    #[test]
    fn a_cgroups_path_never_climbs_above_the_root() {
        let h = Hierarchy::at(Mode::Unified, "/sys/fs/cgroup");
        assert_eq!(Cgroup::at_path(h.clone(), "/../../etc/x", &[]).name, "etc/x");
        assert_eq!(Cgroup::at_path(h.clone(), "a/./b/../c", &[]).name, "a/c");
        assert_eq!(Cgroup::at_path(h, "/system.slice/docker-1.scope", &[]).name, "system.slice/docker-1.scope");
    }

    #[test]
    fn a_limit_without_its_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let cg = Cgroup::new(v2_root(tmp.path(), "memory\n"), "t", &["memory"]);
        std::fs::create_dir_all(cg.dir_of("memory")).unwrap();
        let fake = Fake::new();
        let err = cg.set(&fake, &Limit::Hugetlb { page_size: "2MB".into(), limit: 1 }).unwrap_err().to_string();
        assert!(err.contains("hugetlb.2MB.max") && err.contains("cannot be applied"), "{err}");
        let err = cg.set(&fake, &Limit::Swappiness(1)).unwrap_err().to_string();
        assert!(err.contains("cgroup v2 has no setting"), "{err}");
        assert!(fake.calls().is_empty());
    }

    #[test]
    fn counters_are_read_from_flat_keyed_files() {
        let tmp = tempfile::tempdir().unwrap();
        let h = v2_root(tmp.path(), "memory\n");
        let cg = Cgroup::new(h, "t", &["memory"]);
        std::fs::create_dir_all(cg.dir_of("memory")).unwrap();
        std::fs::write(cg.dir_of("memory").join("memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n").unwrap();
        assert_eq!(cg.counter("memory", "memory.events", "oom_kill"), Some(1));
        assert_eq!(cg.counter("memory", "memory.events", "max"), Some(3));
    }
}
