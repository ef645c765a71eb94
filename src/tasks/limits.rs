//! Tasks of lessons 5 and 6: cgroup limits written by hand, capabilities and
//! no_new_privs.

use super::checks::*;
use super::scan::{self, Process};
use super::{Ctx, Verdict};
use crate::primitives::cgroups::{self, hierarchy, Mode};
use std::path::{Path, PathBuf};

// 5.1: a cgroup learnctr-task, 50 MiB of memory, at most 20 processes, a live one in it.

const MEMORY: u64 = 50 * 1024 * 1024;
const PIDS: &str = "20";

/// Where the task's cgroup is, per controller: one directory on v2, one per
/// hierarchy on v1 and hybrid hosts.
pub(super) fn task_cgroups() -> (Mode, PathBuf, PathBuf) {
    let mode = hierarchy::detect_mode();
    let root = Path::new(hierarchy::ROOT);
    match mode {
        Mode::Unified => (mode, root.join(TASK_HOSTNAME), root.join(TASK_HOSTNAME)),
        _ => (mode, root.join("memory").join(TASK_HOSTNAME), root.join("pids").join(TASK_HOSTNAME)),
    }
}

pub(super) fn cgroup_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let (mode, memory, pids) = task_cgroups();
    let v2 = mode == Mode::Unified;
    let missing: Vec<String> =
        [&memory, &pids].iter().filter(|d| !d.is_dir()).map(|d| d.display().to_string()).collect();
    let place = if v2 { memory.display().to_string() } else { format!("{} + {}", memory.display(), pids.display()) };
    if !v.require(missing.is_empty(), ctx.s("check.5.1.exists", &[("path", &place)]), || {
        ctx.s("unmet.5.1.exists", &[("path", &missing.join(", "))])
    }) {
        return v;
    }
    let limit_file = memory.join(if v2 { "memory.max" } else { "memory.limit_in_bytes" });
    let limit = read(&limit_file);
    v.require(limit.parse::<u64>().ok() == Some(MEMORY), ctx.s("check.5.1.memory", &[]), || {
        ctx.s("unmet.5.1.memory", &[("file", &limit_file.display()), ("found", &limit)])
    });
    let pids_file = pids.join("pids.max");
    let max = read(&pids_file);
    v.require(max == PIDS, ctx.s("check.5.1.pids", &[]), || {
        ctx.s("unmet.5.1.pids", &[("file", &pids_file.display()), ("found", &max)])
    });
    let members = |d: &Path| read(&d.join("cgroup.procs")).split_whitespace().map(String::from).collect::<Vec<_>>();
    let (in_memory, in_pids) = (members(&memory), members(&pids));
    let both = in_memory.iter().find(|p| in_pids.contains(p));
    v.require(both.is_some(), ctx.s("check.5.1.process", &[("pid", &both.cloned().unwrap_or_default())]), || {
        ctx.s("unmet.5.1.process", &[])
    });
    v
}

pub(super) fn remove_task_cgroup(_: &Ctx) -> Vec<String> {
    let (_, memory, pids) = task_cgroups();
    let mut removed = Vec::new();
    for dir in [memory, pids] {
        if dir.is_dir() && cgroups::remove_dir(&crate::primitives::Linux, &dir).is_ok() {
            removed.push(format!("cgroup {}", dir.display()));
        }
    }
    removed.dedup();
    removed
}

// 5.2: a cgroup learnctr-cpu with a CPU quota of 20 ms every 100 ms, a live process in it.

const CPU_CGROUP: &str = "learnctr-cpu";

pub(super) fn cpu_cgroup() -> (Mode, PathBuf) {
    let mode = hierarchy::detect_mode();
    let root = Path::new(hierarchy::ROOT);
    match mode {
        Mode::Unified => (mode, root.join(CPU_CGROUP)),
        _ => (mode, root.join("cpu").join(CPU_CGROUP)),
    }
}

pub(super) fn cpu_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let (mode, dir) = cpu_cgroup();
    if !v.require(dir.is_dir(), ctx.s("check.5.2.exists", &[("path", &dir.display())]), || {
        ctx.s("unmet.5.2.exists", &[("path", &dir.display())])
    }) {
        return v;
    }
    let quota = if mode == Mode::Unified {
        read(&dir.join("cpu.max"))
    } else {
        format!("{} {}", read(&dir.join("cpu.cfs_quota_us")), read(&dir.join("cpu.cfs_period_us")))
    };
    v.require(quota == "20000 100000", ctx.s("check.5.2.quota", &[]), || {
        ctx.s("unmet.5.2.quota", &[("found", &quota)])
    });
    let member = read(&dir.join("cgroup.procs"));
    v.require(!member.is_empty(), ctx.s("check.5.2.process", &[]), || ctx.s("unmet.5.2.process", &[]));
    v
}

pub(super) fn remove_cpu_cgroup(_: &Ctx) -> Vec<String> {
    let (_, dir) = cpu_cgroup();
    if dir.is_dir() && cgroups::remove_dir(&crate::primitives::Linux, &dir).is_ok() {
        vec![format!("cgroup {}", dir.display())]
    } else {
        Vec::new()
    }
}

// 6.1: a live process, not learnctr's, whose bounding set is exactly CAP_KILL and
// CAP_NET_BIND_SERVICE, with no_new_privs set.

const KILL_AND_BIND: u64 = (1 << 5) | (1 << 10);

pub(super) fn bounded(p: &Process) -> bool {
    p.field("CapBnd").and_then(|m| u64::from_str_radix(m, 16).ok()) == Some(KILL_AND_BIND)
}

pub(super) fn capability_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let matching: Vec<Process> = scan::learners_processes().into_iter().filter(bounded).collect();
    if !v.require(!matching.is_empty(), ctx.s("check.6.1.bounding", &[]), || ctx.s("unmet.6.1.bounding", &[])) {
        return v;
    }
    let guarded = matching.iter().find(|p| p.field("NoNewPrivs") == Some("1"));
    v.require(guarded.is_some(), ctx.s("check.6.1.nnp", &[("pid", &guarded.map(|p| p.pid).unwrap_or(0))]), || {
        ctx.s("unmet.6.1.nnp", &[])
    });
    v
}

pub(super) fn kill_restricted(_: &Ctx) -> Vec<String> {
    kill_all(scan::learners_processes().into_iter().filter(bounded).collect())
}

// 6.2: a live process running as uid and gid 65534, with no capability in its
// effective or permitted set, and no_new_privs.

pub(super) fn nobody(p: &Process) -> bool {
    let all = |field: &str| p.field(field).is_some_and(|ids| ids.split_whitespace().all(|id| id == "65534"));
    all("Uid") && all("Gid")
}

pub(super) fn nobody_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let found: Vec<Process> = scan::learners_processes().into_iter().filter(nobody).collect();
    if !v.require(!found.is_empty(), ctx.s("check.6.2.nobody", &[]), || ctx.s("unmet.6.2.nobody", &[])) {
        return v;
    }
    let empty = |p: &&Process| {
        ["CapEff", "CapPrm"].iter().all(|f| p.field(f).and_then(|m| u64::from_str_radix(m, 16).ok()) == Some(0))
    };
    let powerless: Vec<&Process> = found.iter().filter(empty).collect();
    if !v.require(!powerless.is_empty(), ctx.s("check.6.2.no_caps", &[]), || ctx.s("unmet.6.2.no_caps", &[])) {
        return v;
    }
    let guarded = powerless.iter().find(|p| p.field("NoNewPrivs") == Some("1"));
    v.require(guarded.is_some(), ctx.s("check.6.2.nnp", &[("pid", &guarded.map(|p| p.pid).unwrap_or(0))]), || {
        ctx.s("unmet.6.2.nnp", &[])
    });
    v
}

pub(super) fn kill_nobody(_: &Ctx) -> Vec<String> {
    kill_all(
        scan::learners_processes().into_iter().filter(|p| nobody(p) && p.field("NoNewPrivs") == Some("1")).collect(),
    )
}
