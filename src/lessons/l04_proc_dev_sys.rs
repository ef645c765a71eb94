//! Lesson 4: /proc, /dev and /sys, as runc prepares them.
//!
//! A new pid namespace is not enough for `ps`: it reads /proc, and the /proc that is
//! there belongs to the host. Then the minimal /dev, the read-only /sys and the
//! masked and read-only paths of `runc spec`.

use super::common::*;
use super::recipes;
use crate::course::{Ctx, Failure, Lesson, Step};
use crate::i18n::fill;
use crate::instruments::probe::{self, Answer, Probe};
use crate::primitives::isolate::Plan;
use crate::primitives::namespaces::Namespace;
use crate::primitives::{devices, masked_paths, mountinfo, mounts};

pub fn lesson() -> Lesson {
    Lesson {
        number: 4,
        name: "proc_dev_sys",
        needs_rootfs: true,
        steps: vec![
            Step { id: "stale", shell: &["unshare --pid --fork --mount sh -c 'echo $$; ps'"], key: &["CLONE_NEWPID"], run: stale },
            Step {
                id: "fresh",
                shell: &["unshare --pid --fork --mount sh -c 'mount --make-rprivate /; mount -t proc proc /proc; ps'"],
                key: &["\"proc\", MS_"], run: fresh,
            },
            Step {
                id: "dev",
                shell: &[
                    "unshare --mount sh",
                    "mount --make-rprivate /",
                    "mount -t tmpfs -o nosuid,strictatime,mode=755,size=65536k tmpfs ROOTFS/dev",
                    "touch ROOTFS/dev/null && mount --bind /dev/null ROOTFS/dev/null    # {{shell.and_devices}}",
                    "mkdir ROOTFS/dev/pts && mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts ROOTFS/dev/pts",
                    "ln -s /proc/self/fd ROOTFS/dev/fd    # {{shell.and_links}}",
                ],
                key: &["\"devpts\"", "\"/dev/null\""], run: dev,
            },
            Step {
                id: "sys",
                shell: &[
                    "unshare --mount sh",
                    "mount --make-rprivate /",
                    "mount -t sysfs -o ro,nosuid,nodev,noexec sysfs ROOTFS/sys",
                    "mount --bind /dev/null /proc/timer_list     # {{shell.masked_file}}",
                    "mount -t tmpfs -o ro tmpfs /sys/firmware    # {{shell.masked_dir}}",
                    "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys   # {{shell.read_only}}",
                ],
                key: &["\"sysfs\"", "MS_REMOUNT"], run: sys,
            },
        ],
    }
}

/// The namespaces of this lesson's container.
const KINDS: [Namespace; 3] = [Namespace::Pid, Namespace::Mount, Namespace::Ipc];

fn stale(ctx: &mut Ctx) -> Result<(), Failure> {
    let inside = ctx.start(Plan::new(&[Namespace::Pid, Namespace::Mount]).with_setup(mounts::make_private))?;
    let own = text(inside.ask(Probe::Pid)?);
    ctx.observe("label.pid", inside.pid(), &own);
    let listed = text(inside.ask(Probe::ProcPids)?);
    let count = listed.split_whitespace().count();
    ctx.observe(
        "label.proc_lists",
        format!("{} {}", on_host(&Probe::ProcPids)?.split_whitespace().count(), ctx.s("value.processes")),
        format!("{count} {}", ctx.s("value.processes")),
    );
    let lists_host_pid = listed.split_whitespace().any(|p| p == inside.pid().to_string());
    ctx.check("check.stale.pid1", own == "1", &own);
    ctx.check(
        "check.stale.host_view",
        count > 1 && lists_host_pid,
        format!("{count} / {}: {lists_host_pid}", inside.pid()),
    );
    let pid = inside.pid();
    ctx.inspect(inside, &["echo $$", "ps | head", "ls /proc | head"], outside_commands(pid, "--pid --mount"));
    Ok(())
}

fn fresh(ctx: &mut Ctx) -> Result<(), Failure> {
    let root = ctx.rootfs()?;
    let inside = ctx.start(Plan::new(&KINDS).with_setup(move |k| recipes::pivot_with_proc(k, &root)))?;
    let listed = text(inside.ask(Probe::ProcPids)?);
    ctx.observe("label.proc_lists", on_host(&Probe::ProcPids)?.split_whitespace().count(), &listed);
    ctx.check("check.fresh.alone", listed == "1", &listed);
    // Lesson 3's open door, closed: PID 1 is the container's own process now, so
    // /proc/1/root is the container's root, not the host's.
    let through_proc = stat_inside(&inside, "/proc/1/root/")?;
    let own_root = stat_inside(&inside, "/")?;
    let host_root = stat_on_host("/")?;
    ctx.observe("label.proc1_root", format!("/: {}", identity(&host_root)), identity(&through_proc));
    ctx.check(
        "check.fresh.proc1_root_closed",
        same_file(&through_proc, &own_root) && !same_file(&through_proc, &host_root),
        identity(&through_proc),
    );
    let pid = inside.pid();
    ctx.inspect(inside, &["ps", "echo $$", "ls /proc", "ls /proc/1/root/"], outside_commands(pid, "-a"));
    Ok(())
}

fn dev(ctx: &mut Ctx) -> Result<(), Failure> {
    let root = ctx.rootfs()?;
    let inside = ctx.start(Plan::new(&KINDS).with_setup(move |k| recipes::minimal_container(k, &root)))?;
    let seen = text(inside.ask(Probe::ListDir("/dev".into()))?);
    let host_count = probe_count("/dev");
    ctx.observe("label.dev", format!("{host_count} {}", ctx.s("value.entries")), &seen);
    ctx.check("check.dev.only_these", seen == devices::expected_names().join(" "), &seen);
    let null = inside.ask(Probe::Stat("/dev/null".into()))?;
    ctx.observe("label.dev_null", on_host(&Probe::Stat("/dev/null".into()))?, text(null.clone()));
    ctx.check("check.dev.null_is_null", is_char(&null, 1, 3), text(null));
    // Every devpts instance is a filesystem of its own (its own device number), so a
    // new instance inside has another st_dev than the host's /dev/pts.
    let pts_inside = stat_inside(&inside, "/dev/pts")?;
    let pts_host = stat_on_host("/dev/pts")?;
    ctx.observe("label.devpts", format!("dev {}", pts_host.dev), format!("dev {}", pts_inside.dev));
    ctx.check("check.dev.own_ptmx", pts_inside.dev != pts_host.dev, format!("{} / {}", pts_host.dev, pts_inside.dev));
    let table = mountinfo::parse(&text(inside.ask(Probe::ReadFile("/proc/self/mountinfo".into()))?));
    let pts = mountinfo::at(&table, "/dev/pts").map(|m| m.fstype.clone()).unwrap_or_default();
    ctx.check("check.dev.devpts", pts == "devpts", &pts);
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &["ls -l /dev", "echo hi > /dev/null", "ls /dev/pts", "cat /proc/partitions"],
        outside_commands(pid, "-a"),
    );
    Ok(())
}

fn sys(ctx: &mut Ctx) -> Result<(), Failure> {
    let root = ctx.rootfs()?;
    let inside = ctx.start(Plan::new(&KINDS).with_setup(move |k| recipes::minimal_container_with_sys(k, &root)))?;
    let table = mountinfo::parse(&text(inside.ask(Probe::ReadFile("/proc/self/mountinfo".into()))?));
    let sys_ro = mountinfo::at(&table, "/sys").is_some_and(|m| m.read_only() && m.fstype == "sysfs");
    let host_table = mountinfo::parse(&std::fs::read_to_string("/proc/self/mountinfo")?);
    let ro_or_rw = |ro: bool| if ro { "ro" } else { "rw" };
    let host_sys_ro = mountinfo::at(&host_table, "/sys").is_some_and(|m| m.read_only());
    ctx.observe("label.sys_mount", ro_or_rw(host_sys_ro), ro_or_rw(sys_ro));
    ctx.check("check.sys.read_only", sys_ro, format!("{:?}", mountinfo::at(&table, "/sys")));
    // Masked: every path of the list that this kernel has.
    let mut unmasked = Vec::new();
    for path in masked_paths::MASKED.iter().filter(|p| std::path::Path::new(p).exists()) {
        let seen = inside.ask(Probe::Stat(path.to_string()))?;
        let (hidden, shown) = match &seen {
            Answer::Stat(st) if st.kind == "dir" => {
                let names = inside.ask(Probe::ListDir(path.to_string()))?.text();
                (names.is_empty(), entries(ctx, &names))
            }
            other => (is_char(other, 1, 3), shown_stat(ctx, other)),
        };
        let host_view = match probe::stat(path) {
            Ok(st) if st.kind == "dir" => entries(ctx, &listing_on_host(path)?),
            Ok(st) => shown_stat(ctx, &Answer::Stat(st)),
            Err(e) => return Err(Failure::new(e)),
        };
        ctx.observe_raw(path, host_view, shown);
        if !hidden {
            unmasked.push(path.to_string());
        }
    }
    ctx.check("check.sys.masked", unmasked.is_empty(), unmasked.join(" "));
    // Read-only: each one that exists is a read-only mount inside.
    let writable: Vec<&str> = masked_paths::READ_ONLY
        .iter()
        .copied()
        .filter(|p| std::path::Path::new(p).exists())
        .filter(|p| !mountinfo::at(&table, p).is_some_and(|m| m.read_only()))
        .collect();
    ctx.check("check.sys.read_only_paths", writable.is_empty(), writable.join(" "));
    let write = text(inside.ask(Probe::WriteTest("/proc/sys/kernel/hostname".into()))?);
    let host_write = on_host(&Probe::WriteTest("/proc/sys/kernel/hostname".into()))?;
    let shown = |w: &str| if w == "writable" { ctx.s("value.writable") } else { w.to_string() };
    ctx.observe("label.write_proc_sys", shown(&host_write), shown(&write));
    ctx.check("check.sys.proc_sys_read_only", write == "EROFS", &write);
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &[
            "ls /sys/firmware",
            "cat /proc/keys | wc -c",
            "echo x > /proc/sys/kernel/hostname",
            "mount | grep -E 'sysfs|proc'",
        ],
        outside_commands(pid, "-a"),
    );
    Ok(())
}

fn is_char(answer: &Answer, major: u64, minor: u64) -> bool {
    matches!(answer, Answer::Stat(s) if s.kind == "char" && s.rdev == (major, minor))
}

/// "dir, 3 entries" for a listing, in the learner's language.
fn entries(ctx: &Ctx, listing: &str) -> String {
    fill(&ctx.s("value.dir_entries"), &[("n", &listing.split_whitespace().count())])
}

/// A `stat` answer as the table shows it: a device by its numbers (`char 1:3`), a file
/// by its size in the learner's language.
fn shown_stat(ctx: &Ctx, answer: &Answer) -> String {
    match answer {
        Answer::Stat(st) if st.kind == "file" => fill(&ctx.s("value.file_size"), &[("size", &st.size)]),
        other => text(other.clone()),
    }
}

fn probe_count(path: &str) -> usize {
    probe::list_dir(path).map(|n| n.len()).unwrap_or(0)
}
