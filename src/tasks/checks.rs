//! Every task in course order, and what their checks share. Each check (in
//! `roots.rs`, `limits.rs`, `network.rs`, `layers.rs`, `runtime.rs`) is a list of conditions on
//! kernel state in the order a learner meets them; each reset removes what the
//! learner made.

use super::scan::{self, Process};
use super::{layers, limits, network, roots, runtime, Task};
use crate::primitives::process;
use std::path::Path;

pub fn all() -> Vec<Task> {
    vec![
        Task { id: "1.1", lesson: "namespaces", check: roots::hostname_task, reset: roots::kill_own_uts, setup: None },
        Task { id: "1.2", lesson: "namespaces", check: roots::loopback_task, reset: roots::kill_lo_up, setup: None },
        Task { id: "2.1", lesson: "chroot", check: roots::chroot_task, reset: roots::kill_chrooted, setup: None },
        Task { id: "3.1", lesson: "pivot_root", check: roots::pivot_task, reset: roots::kill_pivoted, setup: None },
        Task {
            id: "3.2",
            lesson: "pivot_root",
            check: roots::flag_task,
            reset: roots::remove_flag,
            setup: Some(roots::write_flag),
        },
        Task {
            id: "4.1",
            lesson: "proc_dev_sys",
            check: roots::fresh_proc_task,
            reset: roots::kill_fresh_proc,
            setup: None,
        },
        Task { id: "4.2", lesson: "proc_dev_sys", check: roots::closed_door_task, reset: roots::nothing, setup: None },
        Task {
            id: "5.1",
            lesson: "cgroups",
            check: limits::cgroup_task,
            reset: limits::remove_task_cgroup,
            setup: None,
        },
        Task { id: "5.2", lesson: "cgroups", check: limits::cpu_task, reset: limits::remove_cpu_cgroup, setup: None },
        Task {
            id: "6.1",
            lesson: "capabilities",
            check: limits::capability_task,
            reset: limits::kill_restricted,
            setup: None,
        },
        Task { id: "6.2", lesson: "capabilities", check: limits::nobody_task, reset: limits::kill_nobody, setup: None },
        Task {
            id: "7.1",
            lesson: "network",
            check: network::network_task,
            reset: network::remove_task_netns,
            setup: None,
        },
        Task {
            id: "7.2",
            lesson: "network",
            check: network::route_task,
            reset: network::remove_task_netns,
            setup: None,
        },
        Task {
            id: "8.1",
            lesson: "bundle",
            check: runtime::bundle_task,
            reset: runtime::remove_bundle,
            setup: Some(runtime::write_broken_bundle),
        },
        Task { id: "9.1", lesson: "images", check: layers::whiteout_task, reset: layers::kill_overlaid, setup: None },
        Task { id: "10.1", lesson: "finale", check: runtime::finale_task, reset: runtime::kill_finale, setup: None },
        Task { id: "11.1", lesson: "engines", check: runtime::engine_tree_task, reset: roots::nothing, setup: None },
    ]
}

/// What the learner names their objects: learnctr's own cleanup leaves these alone.
pub const LEARNERS_NAMES: [&str; 4] = ["learnctr-task", "learnctr-cpu", "learnctr-a", "learnctr-b"];

pub(super) const TASK_HOSTNAME: &str = "learnctr-task";

/// Processes in a namespace of `kind` other than learnctr's (the host's).
pub(super) fn in_own(kind: &str) -> Vec<Process> {
    let host = scan::host_namespace(kind);
    scan::learners_processes().into_iter().filter(|p| p.namespace(kind).is_some_and(|n| Some(n) != host)).collect()
}

pub(super) fn kill_all(processes: Vec<Process>) -> Vec<String> {
    processes
        .into_iter()
        .map(|p| {
            process::kill_stranded(p.pid);
            format!("process {}", p.pid)
        })
        .collect()
}

/// A file's content without its newline, or "" when it cannot be read.
pub(super) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// PID 1 of a pid namespace of its own: `NSpid` names it twice, the last time as 1.
pub(super) fn pid_one(p: &Process) -> bool {
    p.field("NSpid").is_some_and(|ids| ids.split_whitespace().count() > 1 && ids.split_whitespace().last() == Some("1"))
}
