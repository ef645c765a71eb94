//! Tasks of lessons 1 to 4: namespaces, a chroot, pivot_root, a pid namespace with
//! its own /proc, and the capture-the-flag through /proc/PID/root.

use super::checks::*;
use super::scan::{self, Process};
use super::{Ctx, Verdict};
use crate::primitives::{mountinfo, namespaces, netns, Kernel, Linux};
use std::path::Path;

// 1.1: a live process in a uts namespace of its own whose hostname is learnctr-task.

pub(super) fn hostname_task(ctx: &Ctx) -> Verdict {
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

pub(super) fn kill_own_uts(_: &Ctx) -> Vec<String> {
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

pub(super) fn loopback_up(p: &Process) -> bool {
    netns::in_process(p.pid, crate::instruments::probe::interfaces).ok().and_then(Result::ok).is_some_and(|list| {
        list.iter().any(|i| i.name == "lo" && i.up && i.addresses.iter().any(|a| a == "127.0.0.1/8"))
    })
}

pub(super) fn loopback_task(ctx: &Ctx) -> Verdict {
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

pub(super) fn kill_lo_up(_: &Ctx) -> Vec<String> {
    kill_all(in_own("net").into_iter().filter(loopback_up).collect())
}

// 2.1: a live process chrooted into the course's root filesystem: the host's mount
// namespace, its root directory the rootfs.

pub(super) fn chrooted(ctx: &Ctx) -> Vec<Process> {
    let wanted: Vec<(u64, u64)> = ctx.rootfs.iter().filter_map(|r| scan::file_id(r)).collect();
    let host_mnt = scan::host_namespace("mnt");
    scan::learners_processes()
        .into_iter()
        .filter(|p| p.namespace("mnt") == host_mnt)
        .filter(|p| scan::file_id(Path::new(&format!("/proc/{}/root/", p.pid))).is_some_and(|id| wanted.contains(&id)))
        .collect()
}

pub(super) fn chroot_task(ctx: &Ctx) -> Verdict {
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

pub(super) fn kill_chrooted(ctx: &Ctx) -> Vec<String> {
    kill_all(chrooted(ctx))
}

// 3.1: a live process whose root is the course's rootfs, reached with pivot_root in a
// new mount namespace (not chroot), the old root detached.

/// Of the processes in a mount namespace of their own, those whose root directory is
/// one of the course's root filesystems (same device and inode).
pub(super) fn rooted_in_rootfs(ctx: &Ctx) -> Vec<Process> {
    let wanted: Vec<(u64, u64)> = ctx.rootfs.iter().filter_map(|r| scan::file_id(r)).collect();
    in_own("mnt")
        .into_iter()
        .filter(|p| scan::file_id(Path::new(&format!("/proc/{}/root/", p.pid))).is_some_and(|id| wanted.contains(&id)))
        .collect()
}

pub(super) fn pivot_task(ctx: &Ctx) -> Verdict {
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

pub(super) fn kill_pivoted(ctx: &Ctx) -> Vec<String> {
    kill_all(rooted_in_rootfs(ctx))
}

// 3.2: capture the flag. learnctr writes a secret into a root-only file of the host;
// from inside lesson 3's container (no pid namespace), the learner reads it through
// /proc/PID/root of a host process and gives it to the check.

pub const FLAG: &str = "/run/learnctr-flag-3.2";

pub(super) fn write_flag(_: &Ctx) -> std::io::Result<()> {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    // One secret per round: showing the task again keeps the one already written.
    if Path::new(FLAG).exists() {
        return Ok(());
    }
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(FLAG)?;
    writeln!(f, "{secret}")
}

pub(super) fn flag_task(ctx: &Ctx) -> Verdict {
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

pub(super) fn remove_flag(_: &Ctx) -> Vec<String> {
    match std::fs::remove_file(FLAG) {
        Ok(()) => vec![FLAG.to_string()],
        Err(_) => Vec::new(),
    }
}

// 4.1: a live process that is PID 1 of a pid namespace of its own, with a /proc of
// that namespace: its /proc lists it as 1 and none of the host's processes.

/// The pids the process's own /proc lists, read through its root in its mount
/// namespace.
pub(super) fn pids_in_its_proc(p: &Process) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{}/root/proc", p.pid))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.parse::<u32>().is_ok())
        .collect()
}

pub(super) fn fresh_proc(p: &Process) -> bool {
    let listed = pids_in_its_proc(p);
    listed.iter().any(|n| n == "1") && !listed.iter().any(|n| *n == p.pid.to_string())
}

pub(super) fn fresh_proc_task(ctx: &Ctx) -> Verdict {
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

pub(super) fn kill_fresh_proc(_: &Ctx) -> Vec<String> {
    kill_all(scan::learners_processes().into_iter().filter(|p| pid_one(p) && fresh_proc(p)).collect())
}

// 4.2: the same attempt, with a pid namespace: inside lesson 4's container,
// /proc/1/root is the container's own root; the learner gives what
// /proc/1/root/etc/hostname says there, which is the root filesystem's own file.

pub(super) fn closed_door_task(ctx: &Ctx) -> Verdict {
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

pub(super) fn nothing(_: &Ctx) -> Vec<String> {
    Vec::new()
}
