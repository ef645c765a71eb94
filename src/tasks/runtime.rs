//! Tasks of lessons 8, 10 and 11: a broken bundle to fix, the finale by one command,
//! and the process tree an engine builds on learnctr.

use super::checks::*;
use super::scan::{self, Process};
use super::{Ctx, Verdict};
use crate::primitives::cgroups::hierarchy::{self, Mode};
use crate::primitives::{namespaces, Kernel, Linux};
use std::path::{Path, PathBuf};

// 8.1: fix a broken bundle. learnctr writes one whose config.json has three mistakes;
// the learner repairs it until learnctr's runtime runs it and it prints
// learnctr-fixed, its hostname.

pub const BROKEN_BUNDLE: &str = "/run/learnctr-task-8.1";

pub(super) fn write_broken_bundle(ctx: &Ctx) -> std::io::Result<()> {
    let dir = Path::new(BROKEN_BUNDLE);
    if dir.join("config.json").exists() {
        return Ok(());
    }
    let rootfs =
        ctx.rootfs.first().ok_or_else(|| std::io::Error::other("no root filesystem: sudo learnctr rootfs fetch"))?;
    let spec = crate::runtime::spec::default_spec(false).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut config = serde_json::to_value(&spec).map_err(std::io::Error::other)?;
    config["root"]["path"] = rootfs.display().to_string().into();
    config["hostname"] = "learnctr-fixed".into();
    config["process"]["args"] = serde_json::json!(["/bin/hostnme"]);
    // Three mistakes: a string where a boolean goes, a namespace type that does not
    // exist, and a program that is not in the root filesystem.
    config["process"]["terminal"] = "no".into();
    for ns in config["linux"]["namespaces"].as_array_mut().into_iter().flatten() {
        if ns["type"] == "network" {
            ns["type"] = "netwrok".into();
        }
    }
    std::fs::create_dir_all(dir)?;
    // Written whole or not at all: a half-written config.json would be a fourth mistake.
    let tmp = dir.join(".config.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&config).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, dir.join("config.json"))
}

pub(super) fn bundle_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let dir = Path::new(BROKEN_BUNDLE);
    if !v.require(dir.join("config.json").exists(), ctx.s("check.8.1.bundle", &[]), || ctx.s("unmet.8.1.bundle", &[])) {
        return v;
    }
    let loaded = crate::runtime::spec::load(dir);
    let why = loaded.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
    if !v.require(loaded.is_ok(), ctx.s("check.8.1.valid", &[]), || ctx.s("unmet.8.1.valid", &[("why", &why)])) {
        return v;
    }
    // Run it with learnctr's own runtime, as `learnctr run` would, and read what the
    // container printed.
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("learnctr"));
    let out = std::process::Command::new(exe)
        .args(["run", "--bundle", BROKEN_BUNDLE, "learnctr-task-8.1"])
        .stdin(std::process::Stdio::null())
        .output();
    let (printed, said) = match out {
        Ok(o) => (
            String::from_utf8_lossy(&o.stdout).trim().to_string(),
            String::from_utf8_lossy(&o.stderr).trim().to_string(),
        ),
        Err(e) => (String::new(), e.to_string()),
    };
    v.require(printed == "learnctr-fixed", ctx.s("check.8.1.runs", &[]), || {
        ctx.s("unmet.8.1.runs", &[("printed", &printed), ("said", &said)])
    });
    v
}

pub(super) fn remove_bundle(_: &Ctx) -> Vec<String> {
    match std::fs::remove_dir_all(BROKEN_BUNDLE) {
        Ok(()) => vec![BROKEN_BUNDLE.to_string()],
        Err(_) => Vec::new(),
    }
}

// 10.1: the finale's container, by one command: hostname learnctr-task, its own pid
// namespace, and a memory limit of 64 MiB on its cgroup.

/// The memory limit of the cgroup process `pid` is in, read from the host.
pub(super) fn memory_limit_of(pid: i32) -> Option<u64> {
    let lines = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let v2 = hierarchy::detect_mode() == Mode::Unified;
    let path = lines.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = if v2 { controllers.is_empty() } else { controllers.split(',').any(|c| c == "memory") };
        wanted.then(|| path.to_string())
    })?;
    let (dir, file) = if v2 {
        (hierarchy::ROOT.to_string(), "memory.max")
    } else {
        (format!("{}/memory", hierarchy::ROOT), "memory.limit_in_bytes")
    };
    read(&Path::new(&format!("{dir}{path}")).join(file)).parse().ok()
}

pub(super) fn finale_container(p: &Process) -> bool {
    let k: &dyn Kernel = &Linux;
    pid_one(p) && namespaces::hostname_of(k, p.pid).is_ok_and(|n| n == TASK_HOSTNAME)
}

pub(super) fn finale_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let found: Vec<Process> = scan::learners_processes().into_iter().filter(finale_container).collect();
    if !v.require(!found.is_empty(), ctx.s("check.10.1.container", &[]), || ctx.s("unmet.10.1.container", &[])) {
        return v;
    }
    let limits: Vec<u64> = found.iter().filter_map(|p| memory_limit_of(p.pid)).collect();
    let shown: Vec<String> = limits.iter().map(|l| format!("{} MiB", l >> 20)).collect();
    v.require(limits.contains(&(64 << 20)), ctx.s("check.10.1.memory", &[]), || {
        ctx.s("unmet.10.1.memory", &[("found", &shown.join(", "))])
    });
    v
}

pub(super) fn kill_finale(_: &Ctx) -> Vec<String> {
    kill_all(scan::learners_processes().into_iter().filter(finale_container).collect())
}

// 11.1: while lesson 11's last step waits, the learner finds the host pid of the
// container Podman started on learnctr: a child of conmon, whose command line names
// learnctr as its runtime.

fn comm(pid: i32) -> String {
    read(Path::new(&format!("/proc/{pid}/comm")))
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces and parentheses: the fields start after the last ")".
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// Whether conmon `pid` was started with learnctr as the runtime: one of its
/// arguments is this very binary (the same file), or a file named learnctr.
fn conmon_runs_learnctr(pid: i32) -> bool {
    let ours = scan::file_id(Path::new("/proc/self/exe"));
    let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&args).split('\0').any(|a| {
        let path = Path::new(a);
        a.starts_with('/') && (scan::file_id(path) == ours || path.file_name().is_some_and(|n| n == "learnctr"))
    })
}

pub(super) fn engine_tree_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let pid = ctx.answer.as_deref().and_then(|a| a.trim().parse::<i32>().ok());
    if !v.require(pid.is_some(), ctx.s("check.11.1.answer", &[]), || ctx.s("unmet.11.1.answer", &[])) {
        return v;
    }
    let pid = pid.unwrap_or(0);
    let parent = parent_of(pid);
    if !v.require(parent.is_some(), ctx.s("check.11.1.alive", &[("pid", &pid)]), || {
        ctx.s("unmet.11.1.alive", &[("pid", &pid)])
    }) {
        return v;
    }
    let parent = parent.unwrap_or(0);
    let under_conmon = comm(parent) == "conmon";
    if !v.require(under_conmon, ctx.s("check.11.1.conmon", &[("parent", &parent)]), || {
        ctx.s("unmet.11.1.conmon", &[("pid", &pid), ("parent", &comm(parent))])
    }) {
        return v;
    }
    v.require(conmon_runs_learnctr(parent), ctx.s("check.11.1.learnctr", &[]), || ctx.s("unmet.11.1.learnctr", &[]));
    v
}
