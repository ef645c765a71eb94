//! The checks that grade the tasks, each a list of conditions on kernel state in the
//! order a learner meets them, and the resets that remove what the learner made.

use super::scan::{self, Process};
use super::{Ctx, Task, Verdict};
use crate::primitives::cgroups::layout::{self, Mode};
use crate::primitives::{mountinfo, namespaces, net_client, netns, process, Kernel, Linux};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn all() -> Vec<Task> {
    vec![
        Task { id: "1.1", lesson: "namespaces", check: hostname_task, reset: kill_own_uts, setup: None },
        Task { id: "1.2", lesson: "namespaces", check: loopback_task, reset: kill_lo_up, setup: None },
        Task { id: "2.1", lesson: "chroot", check: chroot_task, reset: kill_chrooted, setup: None },
        Task { id: "3.1", lesson: "pivot_root", check: pivot_task, reset: kill_pivoted, setup: None },
        Task { id: "3.2", lesson: "pivot_root", check: flag_task, reset: remove_flag, setup: Some(write_flag) },
        Task { id: "4.1", lesson: "proc_dev_sys", check: fresh_proc_task, reset: kill_fresh_proc, setup: None },
        Task { id: "4.2", lesson: "proc_dev_sys", check: closed_door_task, reset: nothing, setup: None },
        Task { id: "5.1", lesson: "cgroups", check: cgroup_task, reset: remove_task_cgroup, setup: None },
        Task { id: "5.2", lesson: "cgroups", check: cpu_task, reset: remove_cpu_cgroup, setup: None },
        Task { id: "6.1", lesson: "capabilities", check: capability_task, reset: kill_restricted, setup: None },
        Task { id: "6.2", lesson: "capabilities", check: nobody_task, reset: kill_nobody, setup: None },
        Task { id: "7.1", lesson: "network", check: network_task, reset: remove_task_netns, setup: None },
        Task { id: "7.2", lesson: "network", check: route_task, reset: remove_task_netns, setup: None },
        Task {
            id: "8.1",
            lesson: "bundle",
            check: bundle_task,
            reset: remove_bundle,
            setup: Some(write_broken_bundle),
        },
        Task { id: "9.1", lesson: "finale", check: finale_task, reset: kill_finale, setup: None },
    ]
}

/// What the learner names their objects: learnctr's own cleanup leaves these alone.
pub const LEARNERS_NAMES: [&str; 4] = ["learnctr-task", "learnctr-cpu", "learnctr-a", "learnctr-b"];

const TASK_HOSTNAME: &str = "learnctr-task";

/// Processes in a namespace of `kind` other than learnctr's (the host's).
fn in_own(kind: &str) -> Vec<Process> {
    let host = scan::host_namespace(kind);
    scan::learners_processes().into_iter().filter(|p| p.namespace(kind).is_some_and(|n| Some(n) != host)).collect()
}

fn kill_all(processes: Vec<Process>) -> Vec<String> {
    processes
        .into_iter()
        .map(|p| {
            process::kill_stranded(p.pid);
            format!("process {}", p.pid)
        })
        .collect()
}

// 1.1: a live process in a uts namespace of its own whose hostname is learnctr-task.

fn hostname_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let k: &dyn Kernel = &Linux;
    let own = in_own("uts");
    if !v.require(!own.is_empty(), ctx.s("check.1.1.own_uts", &[]), || ctx.s("unmet.1.1.own_uts", &[])) {
        return v;
    }
    let names: Vec<(i32, String)> =
        own.iter().filter_map(|p| namespaces::hostname_of(k, p.pid).ok().map(|n| (p.pid, n))).collect();
    let found = names.iter().find(|(_, n)| n == TASK_HOSTNAME);
    let seen: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
    v.require(found.is_some(), ctx.s("check.1.1.hostname", &[("pid", &found.map(|(p, _)| *p).unwrap_or(0))]), || {
        ctx.s("unmet.1.1.hostname", &[("names", &seen.join(", "))])
    });
    v
}

fn kill_own_uts(_: &Ctx) -> Vec<String> {
    let k: &dyn Kernel = &Linux;
    kill_all(
        in_own("uts")
            .into_iter()
            .filter(|p| namespaces::hostname_of(k, p.pid).is_ok_and(|n| n == TASK_HOSTNAME))
            .collect(),
    )
}

// 1.2: a live process in a network namespace of its own whose loopback is up and
// has 127.0.0.1.

fn loopback_up(p: &Process) -> bool {
    netns::in_process(p.pid, crate::primitives::probe::interfaces).ok().and_then(Result::ok).is_some_and(|list| {
        list.iter().any(|i| i.name == "lo" && i.up && i.addresses.iter().any(|a| a == "127.0.0.1/8"))
    })
}

fn loopback_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let own = in_own("net");
    if !v.require(!own.is_empty(), ctx.s("check.1.2.own_net", &[]), || ctx.s("unmet.1.2.own_net", &[])) {
        return v;
    }
    let up = own.iter().find(|p| loopback_up(p));
    v.require(up.is_some(), ctx.s("check.1.2.lo_up", &[("pid", &up.map(|p| p.pid).unwrap_or(0))]), || {
        ctx.s("unmet.1.2.lo_up", &[])
    });
    v
}

fn kill_lo_up(_: &Ctx) -> Vec<String> {
    kill_all(in_own("net").into_iter().filter(loopback_up).collect())
}

// 2.1: a live process chrooted into the course's root filesystem: the host's mount
// namespace, its root directory the rootfs.

fn chrooted(ctx: &Ctx) -> Vec<Process> {
    let wanted: Vec<(u64, u64)> = ctx.rootfs.iter().filter_map(|r| scan::file_id(r)).collect();
    let host_mnt = scan::host_namespace("mnt");
    scan::learners_processes()
        .into_iter()
        .filter(|p| p.namespace("mnt") == host_mnt)
        .filter(|p| scan::file_id(Path::new(&format!("/proc/{}/root/", p.pid))).is_some_and(|id| wanted.contains(&id)))
        .collect()
}

fn chroot_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let found = chrooted(ctx);
    let shown: Vec<String> = ctx.rootfs.iter().map(|r| r.display().to_string()).collect();
    v.require(
        !found.is_empty(),
        ctx.s("check.2.1.chrooted", &[("pid", &found.first().map(|p| p.pid).unwrap_or(0))]),
        || ctx.s("unmet.2.1.chrooted", &[("rootfs", &shown.join(", "))]),
    );
    v
}

fn kill_chrooted(ctx: &Ctx) -> Vec<String> {
    kill_all(chrooted(ctx))
}

// 3.2: capture the flag. learnctr writes a secret into a root-only file of the host;
// from inside lesson 3's container (no pid namespace), the learner reads it through
// /proc/PID/root of a host process and gives it to the check.

pub const FLAG: &str = "/run/learnctr-flag-3.2";

fn write_flag(_: &Ctx) -> std::io::Result<()> {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // One secret per round: showing the task again keeps the one already written.
    if Path::new(FLAG).exists() {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(FLAG)?;
    writeln!(f, "{secret}")
}

fn flag_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let secret = read(Path::new(FLAG));
    if !v.require(!secret.is_empty(), ctx.s("check.3.2.flag", &[]), || ctx.s("unmet.3.2.flag", &[])) {
        return v;
    }
    let answer = ctx.answer.as_deref().map(str::trim).unwrap_or("");
    if !v.require(!answer.is_empty(), ctx.s("check.3.2.answer", &[]), || ctx.s("unmet.3.2.answer", &[])) {
        return v;
    }
    if v.require(answer == secret, ctx.s("check.3.2.secret", &[]), || ctx.s("unmet.3.2.secret", &[])) {
        // Captured: the secret has done its work.
        let _ = std::fs::remove_file(FLAG);
    }
    v
}

fn remove_flag(_: &Ctx) -> Vec<String> {
    match std::fs::remove_file(FLAG) {
        Ok(()) => vec![FLAG.to_string()],
        Err(_) => Vec::new(),
    }
}

// 4.2: the same attempt, with a pid namespace: inside lesson 4's container,
// /proc/1/root is the container's own root; the learner gives what
// /proc/1/root/etc/hostname says there, which is the root filesystem's own file.

fn closed_door_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let answer = ctx.answer.as_deref().map(str::trim).unwrap_or("");
    if !v.require(!answer.is_empty(), ctx.s("check.4.2.answer", &[]), || ctx.s("unmet.4.2.answer", &[])) {
        return v;
    }
    let theirs: Vec<String> = ctx.rootfs.iter().map(|r| read(&r.join("etc/hostname"))).collect();
    let host = read(Path::new("/etc/hostname"));
    let unmet = if answer == host { "unmet.4.2.host" } else { "unmet.4.2.other" };
    v.require(theirs.iter().any(|h| !h.is_empty() && h == answer), ctx.s("check.4.2.rootfs", &[]), || {
        ctx.s(unmet, &[])
    });
    v
}

fn nothing(_: &Ctx) -> Vec<String> {
    Vec::new()
}

// 4.1: a live process that is PID 1 of a pid namespace of its own, with a /proc of
// that namespace: its /proc lists it as 1 and none of the host's processes.

/// The pids the process's own /proc lists, read through its root in its mount
/// namespace.
fn pids_in_its_proc(p: &Process) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{}/root/proc", p.pid))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.parse::<u32>().is_ok())
        .collect()
}

fn pid_one(p: &Process) -> bool {
    p.field("NSpid").is_some_and(|ids| ids.split_whitespace().count() > 1 && ids.split_whitespace().last() == Some("1"))
}

fn fresh_proc(p: &Process) -> bool {
    let listed = pids_in_its_proc(p);
    listed.iter().any(|n| n == "1") && !listed.iter().any(|n| *n == p.pid.to_string())
}

fn fresh_proc_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let ones: Vec<Process> = scan::learners_processes().into_iter().filter(pid_one).collect();
    if !v.require(!ones.is_empty(), ctx.s("check.4.1.pid1", &[]), || ctx.s("unmet.4.1.pid1", &[])) {
        return v;
    }
    let fresh = ones.iter().find(|p| fresh_proc(p));
    v.require(fresh.is_some(), ctx.s("check.4.1.fresh", &[("pid", &fresh.map(|p| p.pid).unwrap_or(0))]), || {
        ctx.s("unmet.4.1.fresh", &[])
    });
    v
}

fn kill_fresh_proc(_: &Ctx) -> Vec<String> {
    kill_all(scan::learners_processes().into_iter().filter(|p| pid_one(p) && fresh_proc(p)).collect())
}

// 3.1: a live process whose root is the course's rootfs, reached with pivot_root in a
// new mount namespace (not chroot), the old root detached.

/// Of the processes in a mount namespace of their own, those whose root directory is
/// one of the course's root filesystems (same device and inode).
fn rooted_in_rootfs(ctx: &Ctx) -> Vec<Process> {
    let wanted: Vec<(u64, u64)> = ctx.rootfs.iter().filter_map(|r| scan::file_id(r)).collect();
    in_own("mnt")
        .into_iter()
        .filter(|p| scan::file_id(Path::new(&format!("/proc/{}/root/", p.pid))).is_some_and(|id| wanted.contains(&id)))
        .collect()
}

fn pivot_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    if !v.require(!in_own("mnt").is_empty(), ctx.s("check.3.1.own_mnt", &[]), || ctx.s("unmet.3.1.own_mnt", &[])) {
        return v;
    }
    let rooted = rooted_in_rootfs(ctx);
    let shown: Vec<String> = ctx.rootfs.iter().map(|r| r.display().to_string()).collect();
    if !v.require(!rooted.is_empty(), ctx.s("check.3.1.root", &[]), || {
        ctx.s("unmet.3.1.root", &[("rootfs", &shown.join(", "))])
    }) {
        return v;
    }
    // After pivot_root the process's root is the top of its own mount tree, which
    // /proc/PID/root names "/"; after a chroot it names the directory.
    let root_link = |p: &Process| std::fs::read_link(format!("/proc/{}/root", p.pid)).ok();
    let pivoted: Vec<&Process> = rooted.iter().filter(|p| root_link(p).is_some_and(|l| l == Path::new("/"))).collect();
    if !v.require(!pivoted.is_empty(), ctx.s("check.3.1.pivot", &[]), || ctx.s("unmet.3.1.pivot", &[])) {
        return v;
    }
    // The host's root mount (its device, showing the filesystem's own "/") must not be
    // in the process's mount table any more: umount2(".", MNT_DETACH) removed it.
    let host = mountinfo::parse(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
    let host_root = mountinfo::at(&host, "/").map(|m| (m.device.clone(), m.root.clone()));
    let detached = |p: &&Process| {
        let table =
            mountinfo::parse(&std::fs::read_to_string(format!("/proc/{}/mountinfo", p.pid)).unwrap_or_default());
        !table.iter().any(|m| Some((m.device.clone(), m.root.clone())) == host_root)
    };
    let done = pivoted.iter().find(|p| detached(p));
    v.require(done.is_some(), ctx.s("check.3.1.detached", &[("pid", &done.map(|p| p.pid).unwrap_or(0))]), || {
        ctx.s("unmet.3.1.detached", &[])
    });
    v
}

fn kill_pivoted(ctx: &Ctx) -> Vec<String> {
    kill_all(rooted_in_rootfs(ctx))
}

// 5.1: a cgroup learnctr-task, 50 MiB of memory, at most 20 processes, a live one in it.

const MEMORY: u64 = 50 * 1024 * 1024;
const PIDS: &str = "20";

/// Where the task's cgroup is, per controller: one directory on v2, one per
/// hierarchy on v1 and hybrid hosts.
fn task_cgroups() -> (Mode, PathBuf, PathBuf) {
    let mode = layout::detect_mode();
    let root = Path::new(layout::ROOT);
    match mode {
        Mode::Unified => (mode, root.join(TASK_HOSTNAME), root.join(TASK_HOSTNAME)),
        _ => (mode, root.join("memory").join(TASK_HOSTNAME), root.join("pids").join(TASK_HOSTNAME)),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
}

fn cgroup_task(ctx: &Ctx) -> Verdict {
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

fn remove_task_cgroup(_: &Ctx) -> Vec<String> {
    let (_, memory, pids) = task_cgroups();
    let mut removed = Vec::new();
    for dir in [memory, pids] {
        if dir.is_dir() && layout::remove(&dir).is_ok() {
            removed.push(format!("cgroup {}", dir.display()));
        }
    }
    removed.dedup();
    removed
}

// 6.1: a live process, not learnctr's, whose bounding set is exactly CAP_KILL and
// CAP_NET_BIND_SERVICE, with no_new_privs set.

const KILL_AND_BIND: u64 = (1 << 5) | (1 << 10);

fn bounded(p: &Process) -> bool {
    p.field("CapBnd").and_then(|m| u64::from_str_radix(m, 16).ok()) == Some(KILL_AND_BIND)
}

fn capability_task(ctx: &Ctx) -> Verdict {
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

fn kill_restricted(_: &Ctx) -> Vec<String> {
    kill_all(scan::learners_processes().into_iter().filter(bounded).collect())
}

// 7.1: named namespaces learnctr-a and learnctr-b, a veth pair between them with
// 10.231.77.1/24 in a and 10.231.77.2/24 in b, and learnctr's ping answered.

const A: (&str, &str) = ("learnctr-a", "10.231.77.1/24");
const B: (&str, &str) = ("learnctr-b", "10.231.77.2/24");

fn addresses_in(name: &str) -> Vec<String> {
    netns::in_named(name, crate::primitives::probe::interfaces)
        .ok()
        .and_then(Result::ok)
        .map(|list| list.into_iter().flat_map(|i| i.addresses).collect())
        .unwrap_or_default()
}

fn network_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    for (name, _) in [A, B] {
        let exists = Path::new(netns::NETNS_DIR).join(name).exists();
        if !v.require(exists, ctx.s("check.7.1.netns", &[("name", &name)]), || {
            ctx.s("unmet.7.1.netns", &[("name", &name)])
        }) {
            return v;
        }
    }
    for (name, address) in [A, B] {
        let found = addresses_in(name);
        v.require(
            found.iter().any(|a| a == address),
            ctx.s("check.7.1.address", &[("name", &name), ("address", &address)]),
            || ctx.s("unmet.7.1.address", &[("name", &name), ("address", &address), ("found", &found.join(", "))]),
        );
    }
    if v.unmet.is_some() {
        return v;
    }
    let target = B.1.split('/').next().and_then(|a| a.parse().ok()).unwrap_or(std::net::Ipv4Addr::LOCALHOST);
    let replies = netns::in_named(A.0, move || net_client::ping(target, 3, Duration::from_secs(2)))
        .ok()
        .and_then(Result::ok)
        .map(|times| times.len())
        .unwrap_or(0);
    v.require(replies > 0, ctx.s("check.7.1.ping", &[("n", &replies)]), || ctx.s("unmet.7.1.ping", &[]));
    v
}

fn remove_task_netns(_: &Ctx) -> Vec<String> {
    let mut removed: Vec<String> = [A.0, B.0]
        .into_iter()
        .filter(|name| Path::new(netns::NETNS_DIR).join(name).exists())
        .filter(|name| netns::remove_named(name).is_ok())
        .map(|name| format!("netns {name}"))
        .collect();
    if !removed.is_empty() && netns::unmount_empty_netns_dir().unwrap_or(false) {
        removed.push(format!("the mount of {} on itself", netns::NETNS_DIR));
    }
    removed
}

// 5.2: a cgroup learnctr-cpu with a CPU quota of 20 ms every 100 ms, a live process in it.

const CPU_CGROUP: &str = "learnctr-cpu";

fn cpu_cgroup() -> (Mode, PathBuf) {
    let mode = layout::detect_mode();
    let root = Path::new(layout::ROOT);
    match mode {
        Mode::Unified => (mode, root.join(CPU_CGROUP)),
        _ => (mode, root.join("cpu").join(CPU_CGROUP)),
    }
}

fn cpu_task(ctx: &Ctx) -> Verdict {
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

fn remove_cpu_cgroup(_: &Ctx) -> Vec<String> {
    let (_, dir) = cpu_cgroup();
    if dir.is_dir() && layout::remove(&dir).is_ok() {
        vec![format!("cgroup {}", dir.display())]
    } else {
        Vec::new()
    }
}

// 6.2: a live process running as uid and gid 65534, with no capability in its
// effective or permitted set, and no_new_privs.

fn nobody(p: &Process) -> bool {
    let all = |field: &str| p.field(field).is_some_and(|ids| ids.split_whitespace().all(|id| id == "65534"));
    all("Uid") && all("Gid")
}

fn nobody_task(ctx: &Ctx) -> Verdict {
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

fn kill_nobody(_: &Ctx) -> Vec<String> {
    kill_all(
        scan::learners_processes().into_iter().filter(|p| nobody(p) && p.field("NoNewPrivs") == Some("1")).collect(),
    )
}

// 8.1: fix a broken bundle. learnctr writes one whose config.json has three mistakes;
// the learner repairs it until learnctr's runtime runs it and it prints
// learnctr-fixed, its hostname.

pub const BROKEN_BUNDLE: &str = "/run/learnctr-task-8.1";

fn write_broken_bundle(ctx: &Ctx) -> std::io::Result<()> {
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
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config).map_err(std::io::Error::other)?)
}

fn bundle_task(ctx: &Ctx) -> Verdict {
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

fn remove_bundle(_: &Ctx) -> Vec<String> {
    match std::fs::remove_dir_all(BROKEN_BUNDLE) {
        Ok(()) => vec![BROKEN_BUNDLE.to_string()],
        Err(_) => Vec::new(),
    }
}

// 9.1: the finale's container, by one command: hostname learnctr-task, its own pid
// namespace, and a memory limit of 64 MiB on its cgroup.

/// The memory limit of the cgroup process `pid` is in, read from the host.
fn memory_limit_of(pid: i32) -> Option<u64> {
    let lines = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let v2 = layout::detect_mode() == Mode::Unified;
    let path = lines.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = if v2 { controllers.is_empty() } else { controllers.split(',').any(|c| c == "memory") };
        wanted.then(|| path.to_string())
    })?;
    let (dir, file) = if v2 {
        (layout::ROOT.to_string(), "memory.max")
    } else {
        (format!("{}/memory", layout::ROOT), "memory.limit_in_bytes")
    };
    read(&Path::new(&format!("{dir}{path}")).join(file)).parse().ok()
}

fn finale_container(p: &Process) -> bool {
    let k: &dyn Kernel = &Linux;
    pid_one(p) && namespaces::hostname_of(k, p.pid).is_ok_and(|n| n == TASK_HOSTNAME)
}

fn finale_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let found: Vec<Process> = scan::learners_processes().into_iter().filter(finale_container).collect();
    if !v.require(!found.is_empty(), ctx.s("check.9.1.container", &[]), || ctx.s("unmet.9.1.container", &[])) {
        return v;
    }
    let limits: Vec<u64> = found.iter().filter_map(|p| memory_limit_of(p.pid)).collect();
    let shown: Vec<String> = limits.iter().map(|l| format!("{} MiB", l >> 20)).collect();
    v.require(limits.contains(&(64 << 20)), ctx.s("check.9.1.memory", &[]), || {
        ctx.s("unmet.9.1.memory", &[("found", &shown.join(", "))])
    });
    v
}

fn kill_finale(_: &Ctx) -> Vec<String> {
    kill_all(scan::learners_processes().into_iter().filter(finale_container).collect())
}

// 7.2: on top of 7.1, learnctr-a's loopback up and a default route via 10.231.77.2,
// so an address outside the subnet (10.231.78.1, which b holds on its loopback) is
// reached through b.

/// The default gateway of the named namespace, read as the kernel lists its routes
/// (`/proc/thread-self/net/route`: the thread's own network namespace).
fn default_gateway(name: &str) -> Option<std::net::Ipv4Addr> {
    let table =
        netns::in_named(name, || std::fs::read_to_string("/proc/thread-self/net/route").unwrap_or_default()).ok()?;
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // Destination 00000000 with mask 00000000: the default route; the gateway is a
        // little-endian hex address.
        (f.get(1) == Some(&"00000000") && f.get(7) == Some(&"00000000"))
            .then(|| u32::from_str_radix(f.get(2)?, 16).ok())
            .flatten()
            .map(|g| std::net::Ipv4Addr::from(g.swap_bytes()))
    })
}

fn route_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let first = network_task(ctx);
    if !v.require(first.passed(), ctx.s("check.7.2.base", &[]), || ctx.s("unmet.7.2.base", &[])) {
        return v;
    }
    let gateway = default_gateway(A.0);
    let shown = gateway.map(|g| g.to_string()).unwrap_or_else(|| "—".to_string());
    v.require(gateway == Some(std::net::Ipv4Addr::new(10, 231, 77, 2)), ctx.s("check.7.2.route", &[]), || {
        ctx.s("unmet.7.2.route", &[("found", &shown)])
    });
    if v.unmet.is_some() {
        return v;
    }
    let far = std::net::Ipv4Addr::new(10, 231, 78, 1);
    let replies = netns::in_named(A.0, move || net_client::ping(far, 3, Duration::from_secs(2)))
        .ok()
        .and_then(Result::ok)
        .map(|t| t.len())
        .unwrap_or(0);
    v.require(replies > 0, ctx.s("check.7.2.far", &[("n", &replies)]), || ctx.s("unmet.7.2.far", &[]));
    v
}
