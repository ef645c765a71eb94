//! Lesson 3: pivot_root, in a mount namespace of its own.
//!
//! Why `/` must be private first (a shared root makes pivot_root fail and would leak
//! mounts to the host), then the pivot the way runc does it, and lesson 2's escape
//! tried again: now there is nothing to escape to.

use super::common::*;
use super::recipes;
use crate::course::{Ctx, Failure, Lesson, Step};
use crate::i18n::{fill, t};
use crate::instruments::probe::Probe;
use crate::primitives::isolate::Plan;
use crate::primitives::mountinfo;
use crate::primitives::namespaces::Namespace;
use crate::primitives::{chroot_and_pivot, mounts, trace};

pub fn lesson() -> Lesson {
    Lesson {
        number: 3,
        name: "pivot_root",
        needs_rootfs: true,
        steps: vec![
            Step {
                id: "propagation",
                shell: &[
                    "unshare --mount sh",
                    "findmnt -o TARGET,PROPAGATION /",
                    "mount --make-rshared /; mount --bind ROOTFS ROOTFS; cd ROOTFS; pivot_root . .   # Invalid argument",
                    "mount --make-rprivate /; pivot_root . .",
                ],
                key: &["MS_REC|MS_SHARED", "pivot_root("], run: propagation,
            },
            Step {
                id: "pivot",
                shell: &[
                    "unshare --mount sh",
                    "mount --make-rprivate /",
                    "mount --bind ROOTFS ROOTFS",
                    "mount -t proc proc ROOTFS/proc",
                    "cd ROOTFS && pivot_root . . && umount -l . && cd /",
                ],
                key: &["MS_BIND|MS_REC", "pivot_root(", "umount2("], run: pivot,
            },
            Step { id: "escape", shell: &["({{shell.escape_in_c}})"], key: &["chroot(", "chdir(\"..\")"], run: escape },
        ],
    }
}

fn propagation(ctx: &mut Ctx) -> Result<(), Failure> {
    let root = ctx.rootfs()?;
    let host_before = std::fs::read_to_string("/proc/self/mountinfo")?;
    let r = root.clone();
    let inside = ctx.start(Plan::new(&[Namespace::Mount]).with_setup(move |k| {
        // Cut every tie with the host's mounts first, then share again inside this
        // namespace only: a safe copy of what a systemd machine has.
        mounts::make_private(k)?;
        mounts::make_shared(k)?;
        chroot_and_pivot::bind_onto_itself(k, &r)?;
        if let Err(e) = chroot_and_pivot::pivot_into(k, &r) {
            if e.errno() != Some(nix::errno::Errno::EINVAL) {
                return Err(e);
            }
            // The fix: private propagation, then the same pivot succeeds.
            mounts::make_private(k)?;
            chroot_and_pivot::pivot_into(k, &r)?;
        }
        Ok(())
    }))?;
    let pivots: Vec<String> =
        trace::recorded().into_iter().filter(|e| e.call.starts_with("pivot_root(")).map(|e| e.result).collect();
    ctx.observe("label.pivot_results", "", pivots.join(", "));
    let refused = pivots.first().is_some_and(|r| r.contains("EINVAL"));
    ctx.check("check.propagation.shared_refused", refused, pivots.join(", "));
    ctx.check("check.propagation.private_accepted", pivots.last().is_some_and(|r| r == "0"), pivots.join(", "));
    let host_root = mountinfo::parse(&host_before);
    let host_prop = mountinfo::at(&host_root, "/").map(propagation_shown).unwrap_or_default();
    // What this machine has, said as found: systemd makes / shared at boot; a machine
    // without systemd at PID 1 (a container, a WSL distribution, some VMs) may not.
    let found = if host_prop.contains("shared") { "value.root_found_shared" } else { "value.root_found_not_shared" };
    let found = ctx.s(found);
    ctx.fact("label.this_machine", found);
    ctx.observe("label.root_propagation", host_prop, t("value.private"));
    let host_during = std::fs::read_to_string("/proc/self/mountinfo")?;
    ctx.check("check.host_mounts_unchanged", host_before == host_during, "");
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &["ls /", "cat /proc/self/mountinfo 2>/dev/null || echo '{{shell.no_proc}}'"],
        outside_commands(pid, "--mount"),
    );
    Ok(())
}

fn pivot(ctx: &mut Ctx) -> Result<(), Failure> {
    let root = ctx.rootfs()?;
    let host_before = std::fs::read_to_string("/proc/self/mountinfo")?;
    let r = root.clone();
    let inside = ctx.start(Plan::new(&[Namespace::Mount]).with_setup(move |k| recipes::pivot_with_proc(k, &r)))?;
    let seen = text(inside.ask(Probe::ListDir("/".into()))?);
    ctx.observe("label.listing", listing_on_host("/")?, &seen);
    ctx.check("check.pivot.sees_rootfs", seen == listing_on_host(&root)?, &seen);
    let table = text(inside.ask(Probe::ReadFile("/proc/self/mountinfo".into()))?);
    let mounts = mountinfo::parse(&table);
    let points: Vec<String> = mounts.iter().map(|m| format!("{} ({})", m.mount_point, m.fstype)).collect();
    let count = mountinfo::parse(&host_before).len();
    ctx.observe("label.mounts", fill(&ctx.s("value.mount_count"), &[("n", &count)]), points.join(", "));
    let only_ours = mounts.iter().all(|m| m.mount_point == "/" || m.mount_point.starts_with("/proc"));
    ctx.check("check.pivot.only_rootfs_mounts", only_ours && !mounts.is_empty(), points.join(", "));
    let host_during = std::fs::read_to_string("/proc/self/mountinfo")?;
    ctx.check("check.host_mounts_unchanged", host_before == host_during, "");
    let pid = inside.pid();
    ctx.inspect(inside, &["ls /", "cat /proc/self/mountinfo", "cat /etc/hostname"], outside_commands(pid, "--mount"));
    Ok(())
}

fn escape(ctx: &mut Ctx) -> Result<(), Failure> {
    let root = ctx.rootfs()?;
    let r = root.clone();
    let inside = ctx.start(Plan::new(&[Namespace::Mount]).with_setup(move |k| {
        recipes::pivot_with_proc(k, &r)?;
        chroot_and_pivot::break_out_of_chroot(k, "/tmp")
    }))?;
    let inside_root = stat_inside(&inside, "/")?;
    let rootfs = stat_on_host(&root)?;
    let host_root = stat_on_host("/")?;
    ctx.observe("label.root_identity", format!("{root}: {}", identity(&rootfs)), identity(&inside_root));
    ctx.check("check.escape.still_rootfs", same_file(&inside_root, &rootfs), identity(&inside_root));
    ctx.check("check.escape.not_host_root", !same_file(&inside_root, &host_root), identity(&host_root));
    // The door this lesson leaves open: no pid namespace, so the /proc mounted inside
    // lists the host's processes, and /proc/PID/root of any of them is that
    // process's root. learnctr's own process is one (its pid is the same inside, with
    // no pid namespace), and the kernel always lets root follow that link; PID 1's,
    // the host's init, is the classic one where root holds every capability PID 1 has.
    let door = format!("/proc/{}/root", std::process::id());
    let through_proc = stat_inside(&inside, &format!("{door}/"))?;
    ctx.observe_raw(&door, format!("/: {}", identity(&host_root)), identity(&through_proc));
    ctx.check("check.escape.proc_root_is_host", same_file(&through_proc, &host_root), identity(&through_proc));
    let host_file = Probe::ReadFile("/etc/hostname".into());
    let host_name = on_host(&host_file).unwrap_or_default();
    let read = inside.ask(Probe::ReadFile(format!("{door}/etc/hostname"))).map(text).unwrap_or_default();
    ctx.observe_raw(&format!("{door}/etc/hostname"), &host_name, &read);
    ctx.check("check.escape.proc_reads_host", !host_name.is_empty() && read == host_name, &read);
    let pid = inside.pid();
    ctx.inspect(inside, &["ls /", "cd /../../..; ls", "ps", &format!("ls {door}/")], outside_commands(pid, "--mount"));
    Ok(())
}
