//! Lesson 5: cgroups, on whatever this kernel has (v2, hybrid or v1).
//!
//! A cgroup is a directory; its limits are files; a process joins by writing its pid.
//! Each step makes its own cgroup under `learnctr/`, puts a process in it, lets a
//! workload hit the limit, and reads the kernel's own counters to prove it.

use super::common::*;
use crate::course::{Ctx, Failure, Lesson, Step};
use crate::i18n::{fill, tf};
use crate::instruments::probe;
use crate::instruments::probe::{Answer, Probe};
use crate::instruments::workload::Outcome;
use crate::primitives::cgroups::{files, Cgroup, Hierarchy, Limit, Mode, Unavailable};
use crate::primitives::isolate::Plan;
use crate::primitives::mountinfo;
use crate::primitives::namespaces::Namespace;

pub fn lesson() -> Lesson {
    Lesson {
        number: 5,
        name: "cgroups",
        needs_rootfs: false,
        steps: vec![
            Step { id: "detect", shell: &["stat -fc %T /sys/fs/cgroup", "mount | grep cgroup"], key: &[], run: detect },
            Step {
                id: "create",
                shell: &["cgcreate -g memory,cpu,pids:learnctr/demo      # {{shell.or_mkdir}}"],
                key: &["mkdir("],
                run: create,
            },
            Step {
                id: "memory",
                shell: &[
                    "cgset -r memory.max=32M learnctr/demo              # v1: memory.limit_in_bytes",
                    "cgexec -g memory:learnctr/demo sh -c 'head -c 64M /dev/zero | tail'",
                ],
                key: &["memory.limit_in_bytes", "memory.max", "memsw", "memory.swap.max"],
                run: memory,
            },
            Step {
                id: "cpu",
                shell: &[
                    "cgset -r cpu.max='20000 100000' learnctr/demo    # v1: cpu.cfs_quota_us=20000",
                    "cgexec -g cpu:learnctr/demo timeout 1 sh -c 'while :; do :; done'",
                ],
                key: &["cfs_quota_us", "cpu.max"],
                run: cpu,
            },
            Step {
                id: "pids",
                shell: &[
                    "cgset -r pids.max=20 learnctr/demo",
                    "cgexec -g pids:learnctr/demo sh -c 'bomb() { bomb | bomb & }; bomb'",
                ],
                key: &["pids.max", "EAGAIN"],
                run: pids,
            },
            Step {
                id: "namespace",
                shell: &["cgexec -g memory:learnctr/demo unshare --cgroup cat /proc/self/cgroup"],
                key: &["CLONE_NEWCGROUP"],
                run: namespace,
            },
            Step {
                id: "remove",
                shell: &["cgdelete -g memory,cpu,pids:learnctr/demo   # {{shell.or_rmdir}}"],
                key: &["rmdir("],
                run: remove,
            },
        ],
    }
}

const CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];
const MEMORY_LIMIT: u64 = 32 << 20;
const CPU_QUOTA_US: i64 = 20_000;
const CPU_PERIOD_US: u64 = 100_000;
const BURN_MS: u64 = 1_000;
const PIDS_LIMIT: i64 = 20;

/// The cgroup of one step: `learnctr/lesson5-STEP-PID`, created and journaled, or
/// one clear sentence saying why it cannot be made here.
fn step_cgroup(ctx: &mut Ctx, controllers: &[&'static str]) -> Result<Cgroup, Failure> {
    let hierarchy = Hierarchy::system();
    let leaf = format!("lesson5-{}-{}", ctx.step, std::process::id());
    let cgroup = Cgroup::new(hierarchy.clone(), &leaf, controllers);
    if let Err(why) = cgroup.check() {
        return Err(unavailable(ctx, &hierarchy, why));
    }
    ctx.cgroup(cgroup).map_err(|f| {
        match f.message.contains("EACCES") || f.message.contains("EPERM") || f.message.contains("EROFS") {
            true => Failure::new(tf(
                "cgroup.no_permission",
                &[
                    ("path", &hierarchy.dir(controllers[0], &format!("learnctr/{leaf}")).display()),
                    ("detail", &f.message),
                ],
            )),
            false => f,
        }
    })
}

fn unavailable(ctx: &Ctx, h: &Hierarchy, why: Unavailable) -> Failure {
    let mode = mode_name(ctx, h.mode);
    Failure::new(match why {
        Unavailable::NoMount => tf("cgroup.no_mount", &[]),
        Unavailable::Controller(c) if h.mode == Mode::Unified => {
            tf("cgroup.controller_missing_v2", &[("controller", &c)])
        }
        Unavailable::Controller(c) => tf("cgroup.controller_missing_v1", &[("controller", &c), ("mode", &mode)]),
        Unavailable::NotDelegated(c) => tf("cgroup.not_delegated", &[("controller", &c)]),
    })
}

/// The cgroup layout's name, in the learner's language.
fn mode_name(ctx: &Ctx, mode: Mode) -> String {
    ctx.s(match mode {
        Mode::Unified => "value.mode.v2",
        Mode::Hybrid => "value.mode.hybrid",
        Mode::Legacy => "value.mode.v1",
        Mode::Missing => "value.mode.none",
    })
}

fn workload(answer: Answer) -> Result<Outcome, Failure> {
    match answer {
        Answer::Workload(o) => Ok(o),
        other => Err(Failure::new(format!("unexpected answer {other:?}"))),
    }
}

fn detect(ctx: &mut Ctx) -> Result<(), Failure> {
    let h = Hierarchy::system();
    let mounts = mountinfo::parse(&std::fs::read_to_string("/proc/self/mountinfo")?);
    let fstype = |p: &str| mountinfo::at(&mounts, p).map(|m| m.fstype.clone()).unwrap_or_default();
    let (top, unified) = (fstype("/sys/fs/cgroup"), fstype("/sys/fs/cgroup/unified"));
    let mode = mode_name(ctx, h.mode);
    ctx.fact("label.mode", format!("statfs → {mode}"));
    let unified_text = if unified.is_empty() { "-".to_string() } else { unified.clone() };
    ctx.fact("label.mounts", format!("/sys/fs/cgroup: {top}; /sys/fs/cgroup/unified: {unified_text}"));
    let consistent = match h.mode {
        Mode::Unified => top == "cgroup2",
        Mode::Hybrid => top == "tmpfs" && unified == "cgroup2",
        Mode::Legacy => top == "tmpfs" && unified != "cgroup2",
        Mode::Missing => false,
    };
    ctx.check("check.detect.consistent", consistent, format!("{mode} / {top} {unified}"));
    ctx.fact("label.controllers", h.usable_controllers().join(" "));
    let needed: Vec<&str> =
        CONTROLLERS.iter().copied().filter(|c| !h.usable_controllers().iter().any(|u| u == c)).collect();
    ctx.check("check.detect.controllers", needed.is_empty(), needed.join(" "));
    // The names of the same settings in both versions, side by side.
    let mut obs = Vec::new();
    for (limit, label) in [
        (Limit::Memory(MEMORY_LIMIT), "label.file.memory"),
        (Limit::CpuQuota { quota: CPU_QUOTA_US, period: CPU_PERIOD_US }, "label.file.cpu"),
        (Limit::CpuShares(512), "label.file.shares"),
        (Limit::Pids(PIDS_LIMIT), "label.file.pids"),
    ] {
        let show = |mode| {
            files::writes(mode, &limit)
                .unwrap_or_default()
                .iter()
                .map(|w| format!("{}={}", w.file, w.value))
                .collect::<Vec<_>>()
                .join(" ")
        };
        obs.push((ctx.s(label), show(Mode::Unified), show(Mode::Legacy)));
    }
    obs.push((
        ctx.s("label.file.join"),
        files::PROCS.to_string(),
        format!("{} ({})", files::PROCS, ctx.s("value.tasks")),
    ));
    for (label, v2, v1) in obs {
        ctx.observe_raw(&label, v2, v1);
    }
    ctx.columns = Some(("cgroup v2".to_string(), "cgroup v1".to_string()));
    Ok(())
}

fn create(ctx: &mut Ctx) -> Result<(), Failure> {
    let cg = step_cgroup(ctx, &CONTROLLERS)?;
    ctx.columns = Some((ctx.s("value.files"), ctx.s("value.names")));
    let mut missing = Vec::new();
    for dir in cg.dirs() {
        let names = probe::list_dir(&dir.to_string_lossy()).unwrap_or_default();
        ctx.observe_raw(
            &dir.display().to_string(),
            names.len(),
            names.iter().take(6).cloned().collect::<Vec<_>>().join(" "),
        );
        if !names.iter().any(|n| n == files::PROCS) {
            missing.push(dir.display().to_string());
        }
    }
    ctx.check("check.create.kernel_files", missing.is_empty(), missing.join(" "));
    if cg.hierarchy.mode == Mode::Unified {
        let parent = cg.dirs()[0].parent().map(|p| p.to_path_buf()).unwrap_or_default();
        let delegated = std::fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
        ctx.observe_raw(&parent.join("cgroup.subtree_control").display().to_string(), "", delegated.trim());
        let all = CONTROLLERS.iter().all(|c| delegated.split_whitespace().any(|d| d == *c));
        ctx.check("check.create.delegated", all, delegated.trim());
        // The "no internal processes" rule: the parent hands controllers down, so the
        // kernel refuses a process in it.
        let probe_child = ctx.start(Plan::new(&[]))?;
        let refused = ctx.k.write_file(&parent.join("cgroup.procs").to_string_lossy(), &probe_child.pid().to_string());
        let errno = refused
            .as_ref()
            .err()
            .and_then(|e| e.errno())
            .map(crate::primitives::error::errno_name)
            .unwrap_or_else(|| "0".into());
        ctx.check("check.create.no_internal_processes", errno == "EBUSY", &errno);
    }
    Ok(())
}

fn memory(ctx: &mut Ctx) -> Result<(), Failure> {
    let cg = step_cgroup(ctx, &["memory"])?;
    cg.set(ctx.k, &Limit::Memory(MEMORY_LIMIT))?;
    let inside = ctx.start(Plan::new(&[Namespace::Pid]).in_cgroup(&cg))?;
    let v2 = cg.hierarchy.mode == Mode::Unified;
    let outcome = workload(inside.ask(Probe::Allocate(2 * MEMORY_LIMIT))?)?;
    let status = fill(&ctx.s("value.exit_status"), &[("status", &outcome.status)]);
    ctx.observe("label.allocation", format!("{} MiB", (2 * MEMORY_LIMIT) >> 20), status);
    ctx.check("check.memory.killed", outcome.status == 128 + libc::SIGKILL, outcome.status);
    let (oom_kills, peak) = if v2 {
        (cg.counter("memory", "memory.events", "oom_kill"), cg.read("memory", "memory.peak").ok())
    } else {
        (cg.counter("memory", "memory.oom_control", "oom_kill"), cg.read("memory", "memory.max_usage_in_bytes").ok())
    };
    let events_file = if v2 { "memory.events oom_kill" } else { "memory.oom_control oom_kill" };
    ctx.observe_raw(events_file, "", oom_kills.map(|n| n.to_string()).unwrap_or_default());
    ctx.check("check.memory.counted", oom_kills.unwrap_or(0) >= 1, format!("{oom_kills:?}"));
    if !v2 {
        let failcnt = cg.counter_value("memory", "memory.failcnt");
        ctx.observe_raw("memory.failcnt", "", failcnt.map(|n| n.to_string()).unwrap_or_default());
    }
    let peak: Option<u64> = peak.and_then(|p| p.trim().parse().ok());
    ctx.observe(
        "label.peak",
        format!("{} MiB", MEMORY_LIMIT >> 20),
        peak.map(|p| format!("{:.1} MiB", p as f64 / 1048576.0)).unwrap_or_default(),
    );
    match peak {
        Some(p) => ctx.check("check.memory.peak_within", p <= MEMORY_LIMIT, p),
        // v2 before Linux 5.19 has no memory.peak: the `max` event proves the limit was hit.
        None => {
            let hits = cg.counter("memory", "memory.events", "max");
            ctx.check("check.memory.limit_hit", hits.unwrap_or(0) >= 1, format!("{hits:?}"))
        }
    }
    let alive = inside.ask(Probe::Pid).map(text).unwrap_or_default();
    ctx.check("check.memory.init_untouched", alive == "1", &alive);
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &["cat /proc/self/cgroup", "head -c 64M /dev/zero | tail   # {{shell.killed}}"],
        cgroup_commands(&cg, pid),
    );
    Ok(())
}

fn cpu(ctx: &mut Ctx) -> Result<(), Failure> {
    let cg = step_cgroup(ctx, &["cpu"])?;
    cg.set(ctx.k, &Limit::CpuQuota { quota: CPU_QUOTA_US, period: CPU_PERIOD_US })?;
    let inside = ctx.start(Plan::new(&[Namespace::Pid]).in_cgroup(&cg))?;
    let v2 = cg.hierarchy.mode == Mode::Unified;
    let throttled = |cg: &Cgroup| cg.counter("cpu", "cpu.stat", "nr_throttled").unwrap_or(0);
    let before = throttled(&cg);
    let o = workload(inside.ask(Probe::BurnCpu(BURN_MS))?)?;
    let after = throttled(&cg);
    let share = CPU_QUOTA_US as f64 / CPU_PERIOD_US as f64;
    let expected_ms = o.wall_us as f64 / 1000.0 * share;
    let used_ms = o.cpu_us as f64 / 1000.0;
    ctx.observe(
        "label.cpu_time",
        format!("{:.0} ms ({:.0}% × {} ms)", expected_ms, share * 100.0, o.wall_us / 1000),
        format!("{used_ms:.0} ms"),
    );
    // Tolerance: the quota is handed out per 100 ms period; a measurement window that
    // is not aligned with the periods can catch up to one extra period's quota at
    // each end (2 × 20 ms), plus a few ms of accounting granularity.
    let tolerance_ms = 2.0 * CPU_QUOTA_US as f64 / 1000.0 + 10.0;
    ctx.check(
        "check.cpu.within_quota",
        used_ms <= expected_ms + tolerance_ms && used_ms >= expected_ms / 2.0,
        format!("{used_ms:.0} ms / {expected_ms:.0} ± {tolerance_ms:.0} ms"),
    );
    let throttled_time = if v2 {
        cg.counter("cpu", "cpu.stat", "throttled_usec").map(|us| format!("{} ms", us / 1000))
    } else {
        cg.counter("cpu", "cpu.stat", "throttled_time").map(|ns| format!("{} ms", ns / 1_000_000))
    };
    ctx.observe_raw("cpu.stat nr_throttled", before, after);
    ctx.observe_raw(
        if v2 { "cpu.stat throttled_usec" } else { "cpu.stat throttled_time" },
        "",
        throttled_time.unwrap_or_default(),
    );
    ctx.check("check.cpu.throttled", after > before, format!("{before} → {after}"));
    let pid = inside.pid();
    ctx.inspect(inside, &["timeout 2 sh -c 'while :; do :; done' & top"], cgroup_commands(&cg, pid));
    Ok(())
}

fn pids(ctx: &mut Ctx) -> Result<(), Failure> {
    let cg = step_cgroup(ctx, &["pids"])?;
    cg.set(ctx.k, &Limit::Pids(PIDS_LIMIT))?;
    let inside = ctx.start(Plan::new(&[Namespace::Pid]).in_cgroup(&cg))?;
    // Already in the cgroup: learnctr's child and PID 1 inside (pids.current says so).
    let members = cg.counter_value("pids", "pids.current").unwrap_or(0) as i64;
    let o = workload(inside.ask(Probe::ForkBomb(200))?)?;
    // When the bomb was stopped: those, the bomb itself, and its children.
    let tasks = members + 1 + o.forks as i64;
    ctx.observe(
        "label.forks",
        format!("pids.max = {PIDS_LIMIT}"),
        format!("{members} + 1 + {} = {tasks}, {}", o.forks, o.refused),
    );
    ctx.check("check.pids.refused", o.refused == "EAGAIN", &o.refused);
    ctx.check("check.pids.at_limit", tasks == PIDS_LIMIT, tasks);
    let max_events = cg.counter("pids", "pids.events", "max");
    ctx.observe_raw("pids.events max", "", max_events.map(|n| n.to_string()).unwrap_or_default());
    ctx.check("check.pids.counted", max_events.unwrap_or(0) >= 1, format!("{max_events:?}"));
    let host_fork = std::process::Command::new("true").status().map(|s| s.success()).unwrap_or(false);
    ctx.check("check.pids.host_fine", host_fork, host_fork);
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &["cat /sys/fs/cgroup/pids.max 2>/dev/null; ps", "for i in $(seq 30); do sleep 60 & done"],
        cgroup_commands(&cg, pid),
    );
    Ok(())
}

fn namespace(ctx: &mut Ctx) -> Result<(), Failure> {
    let cg = step_cgroup(ctx, &CONTROLLERS)?;
    let inside = ctx.start(Plan::new(&[Namespace::Cgroup]).in_cgroup(&cg))?;
    let seen = text(inside.ask(Probe::ReadFile("/proc/self/cgroup".into()))?);
    let host_view = std::fs::read_to_string(format!("/proc/{}/cgroup", inside.pid()))?;
    ctx.observe("label.cgroup_file", host_view.trim_end(), &seen);
    ctx.check("check.namespace.host_sees_learnctr", host_view.contains(&cg.name), &host_view);
    ctx.check("check.namespace.root_inside", !seen.is_empty() && seen.lines().all(|l| l.ends_with(":/")), &seen);
    let pid = inside.pid();
    ctx.inspect(inside, &["cat /proc/self/cgroup"], cgroup_commands(&cg, pid));
    Ok(())
}

fn remove(ctx: &mut Ctx) -> Result<(), Failure> {
    let cg = step_cgroup(ctx, &CONTROLLERS)?;
    let inside = ctx.start(Plan::new(&[]).in_cgroup(&cg))?;
    let dirs = cg.dirs();
    let member = inside.pid();
    // What `cgdelete` needs: no process left inside (killed first), then rmdir.
    cg.remove(ctx.k)?;
    let left: Vec<String> = dirs.iter().filter(|d| d.exists()).map(|d| d.display().to_string()).collect();
    for d in &dirs {
        let shown = if d.exists() { ctx.s("value.present") } else { "-".to_string() };
        ctx.observe_raw(&d.display().to_string(), "", shown);
    }
    ctx.check("check.remove.gone", left.is_empty(), left.join(" "));
    let dead = !std::path::Path::new(&format!("/proc/{member}")).exists()
        || std::fs::read_to_string(format!("/proc/{member}/stat")).unwrap_or_default().contains(") Z ");
    ctx.check("check.remove.process_killed", dead, member);
    drop(inside);
    Ok(())
}

fn cgroup_commands(cg: &Cgroup, pid: i32) -> Vec<String> {
    let mut cmds: Vec<String> = cg.dirs().iter().map(|d| format!("ls {}", d.display())).collect();
    cmds.push(format!("cat /proc/{pid}/cgroup"));
    cmds
}
