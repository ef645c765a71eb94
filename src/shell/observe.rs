//! What the finale shows before the shell opens: every primitive, measured from the
//! host on the created container (its init has done everything up to `execve`), never
//! copied from config.json.

use crate::primitives::capabilities::{self, Mask};
use crate::primitives::namespaces::Namespace;
use crate::primitives::{mountinfo, Kernel};
use crate::runtime::state::Container;
use crate::runtime::Rt;
use std::path::PathBuf;

/// One namespace of the container beside the host's (PID 1's).
pub struct NsPair {
    pub kind: Namespace,
    pub container: String,
    pub host: String,
}

impl NsPair {
    pub fn is_new(&self) -> bool {
        !self.container.is_empty() && self.container != self.host
    }
}

pub struct Observed {
    pub namespaces: Vec<NsPair>,
    pub hostname: String,
    /// The filesystem type of `/` inside (`overlay`) and whether it is read-only.
    pub root_fs: String,
    pub root_readonly: bool,
    /// Cgroup files and their values (`memory.max = 268435456`).
    pub cgroup_dirs: Vec<PathBuf>,
    pub limits: Vec<(String, String)>,
    pub bounding: Mask,
    pub effective: Mask,
    pub no_new_privs: bool,
    pub seccomp_mode: u32,
}

/// The files that hold the limits the finale sets, in v2 and v1 names.
const LIMIT_FILES: [&str; 6] =
    ["memory.max", "memory.limit_in_bytes", "cpu.max", "cpu.cfs_quota_us", "pids.max", "cpu.cfs_period_us"];

/// A field of `/proc/PID/status` (`NoNewPrivs`, `Seccomp`): its first value.
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    Some(status_field_all(pid, field).split_whitespace().next()?.to_string())
}

/// A field of `/proc/PID/status` with all its values (`NSpid: 4242 1`).
pub fn status_field_all(pid: i32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let prefix = format!("{field}:");
    status.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.trim().to_string()).unwrap_or_default()
}

/// The namespaces in the order the summary shows them.
const KINDS: [Namespace; 7] = [
    Namespace::Pid,
    Namespace::Mount,
    Namespace::Net,
    Namespace::Ipc,
    Namespace::Uts,
    Namespace::Cgroup,
    Namespace::User,
];

/// learnctr's own namespaces, the host's side of the comparison: read once, before
/// learnctr gives itself a mount namespace of its own (call it before that).
pub fn host_namespaces() -> Vec<(Namespace, String)> {
    static HOST: std::sync::OnceLock<Vec<(Namespace, String)>> = std::sync::OnceLock::new();
    HOST.get_or_init(|| KINDS.into_iter().map(|kind| (kind, kind.link(None).unwrap_or_default())).collect()).clone()
}

/// Measure the container `c` from the host (its namespaces beside learnctr's own, as
/// `host_namespaces` first read them).
pub fn observe(k: &dyn Kernel, c: &Container) -> Rt<Observed> {
    let pid = c.pid;
    let namespaces = host_namespaces()
        .iter()
        .map(|(kind, link)| NsPair {
            kind: *kind,
            container: kind.link(Some(pid)).unwrap_or_default(),
            host: link.clone(),
        })
        .collect();
    let table = mountinfo::parse(&std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))?);
    let root = mountinfo::at(&table, "/");
    let mut limits = Vec::new();
    for dir in &c.cgroup_dirs {
        for file in LIMIT_FILES {
            if let Ok(value) = std::fs::read_to_string(dir.join(file)) {
                limits.push((file.to_string(), value.trim().to_string()));
            }
        }
    }
    let sets = capabilities::of_process(Some(pid))?;
    let set = |name: &str| sets.iter().find(|(n, _)| *n == name).map(|(_, m)| *m).unwrap_or(Mask(0));
    Ok(Observed {
        namespaces,
        hostname: crate::primitives::namespaces::hostname_of(k, pid)?,
        root_fs: root.map(|m| m.fstype.clone()).unwrap_or_default(),
        root_readonly: root.is_some_and(|m| m.read_only()),
        cgroup_dirs: c.cgroup_dirs.clone(),
        limits,
        bounding: set("bounding"),
        effective: set("effective"),
        no_new_privs: status_field(pid, "NoNewPrivs").as_deref() == Some("1"),
        seccomp_mode: status_field(pid, "Seccomp").and_then(|s| s.parse().ok()).unwrap_or(0),
    })
}
