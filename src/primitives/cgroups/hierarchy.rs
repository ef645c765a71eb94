//! Where the cgroups are: which layout this machine has (v2, hybrid, v1), found with
//! `statfs` as runc finds it, the controllers a new cgroup can use, and the hierarchy's
//! root (injectable, so unit tests use a temporary directory).

use std::path::{Path, PathBuf};

/// Where every cgroup filesystem is mounted.
pub const ROOT: &str = "/sys/fs/cgroup";

/// Which cgroup layout this machine has, found the way runc finds it: `statfs` on
/// `/sys/fs/cgroup` and look at the filesystem type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// cgroup2 mounted at /sys/fs/cgroup: one tree, all controllers (v2).
    Unified,
    /// A tmpfs with one v1 hierarchy per controller, plus an (often empty) cgroup2 at
    /// /sys/fs/cgroup/unified (systemd's "hybrid").
    Hybrid,
    /// A tmpfs with v1 hierarchies only.
    Legacy,
    /// Nothing usable mounted at /sys/fs/cgroup.
    Missing,
}

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const TMPFS_MAGIC: i64 = 0x0102_1994;

fn fs_type(path: &str) -> Option<i64> {
    nix::sys::statfs::statfs(path).ok().map(|s| s.filesystem_type().0)
}

/// This machine's layout: the type of the filesystem at `/sys/fs/cgroup` (and, on a
/// tmpfs, at `/sys/fs/cgroup/unified`).
pub fn detect_mode() -> Mode {
    match fs_type(ROOT) {
        Some(CGROUP2_SUPER_MAGIC) => Mode::Unified,
        Some(TMPFS_MAGIC) => {
            if fs_type(&format!("{ROOT}/unified")) == Some(CGROUP2_SUPER_MAGIC) {
                Mode::Hybrid
            } else {
                Mode::Legacy
            }
        }
        _ => Mode::Missing,
    }
}

/// The controllers a new cgroup can use here: on v2 what the root delegates (`cgroup.subtree_control`);
/// on v1 and hybrid the hierarchies mounted under /sys/fs/cgroup that the kernel has
/// enabled (`/proc/cgroups`).
pub fn usable_controllers(mode: Mode) -> Vec<String> {
    match mode {
        // What the root hands down to its children (learnctr's parent is one of them):
        // its `cgroup.subtree_control`, not `cgroup.controllers` — a controller the
        // root has but does not delegate cannot be enabled below it, and learnctr does
        // not change the host's root to delegate it.
        Mode::Unified => std::fs::read_to_string(format!("{ROOT}/cgroup.subtree_control"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        Mode::Hybrid | Mode::Legacy => std::fs::read_to_string("/proc/cgroups")
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 4 && f[3] == "1" && Path::new(ROOT).join(f[0]).is_dir()).then(|| f[0].to_string())
            })
            .collect(),
        Mode::Missing => Vec::new(),
    }
}

/// One machine's cgroup hierarchy: its layout and its root directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    pub mode: Mode,
    pub root: PathBuf,
}

impl Hierarchy {
    /// This machine's, at /sys/fs/cgroup.
    pub fn system() -> Hierarchy {
        Hierarchy { mode: detect_mode(), root: PathBuf::from(ROOT) }
    }

    /// Another root (unit tests write into a temporary directory).
    #[cfg(test)]
    pub fn at(mode: Mode, root: impl Into<PathBuf>) -> Hierarchy {
        Hierarchy { mode, root: root.into() }
    }

    /// The directory of cgroup `name` for `controller`: v2 has one tree
    /// (`ROOT/name`), v1 one tree per controller (`ROOT/controller/name`).
    pub fn dir(&self, controller: &str, name: &str) -> PathBuf {
        match self.mode {
            Mode::Unified => self.root.join(name),
            _ => self.root.join(controller).join(name),
        }
    }

    /// The controllers a cgroup can use here (see [`usable_controllers`]).
    pub fn usable_controllers(&self) -> Vec<String> {
        if self.root == Path::new(ROOT) {
            return usable_controllers(self.mode);
        }
        match self.mode {
            Mode::Unified => read_words(&self.root.join("cgroup.controllers")),
            _ => std::fs::read_dir(&self.root)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect(),
        }
    }
}

/// The words of a file such as `cgroup.controllers` ("cpu io memory pids").
pub fn read_words(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().split_whitespace().map(str::to_string).collect()
}
