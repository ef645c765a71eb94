//! Lesson 2: chroot, and why it is not isolation.
//!
//! First a process changes its root to the root filesystem and sees only its files.
//! Then a disposable child does the classic escape and reaches the host's real root.

use super::common::*;
use crate::course::{Ctx, Failure, Lesson, Step};
use crate::instruments::probe::Probe;
use crate::primitives::chroot_and_pivot;
use crate::primitives::isolate::Plan;

pub fn lesson() -> Lesson {
    Lesson {
        number: 2,
        name: "chroot",
        needs_rootfs: true,
        steps: vec![
            Step { id: "chroot", shell: &["chroot ROOTFS /bin/sh"], key: &["chroot("], run: chroot },
            Step {
                id: "escape",
                shell: &[
                    "chroot ROOTFS /bin/sh",
                    "({{shell.then_in_c}})",
                    "    chroot(\"tmp\"); for (i = 0; i < 64; i++) chdir(\"..\"); chroot(\".\"); execl(\"/bin/sh\", \"sh\", NULL);",
                ],
                key: &["chroot(", "chdir(\"..\")"], run: escape,
            },
        ],
    }
}

fn chroot(ctx: &mut Ctx) -> Result<(), Failure> {
    let root = ctx.rootfs()?;
    let r = root.clone();
    let inside = ctx.start(Plan::new(&[]).with_setup(move |k| chroot_and_pivot::chroot_into(k, &r)))?;
    let seen = text(inside.ask(Probe::ListDir("/".into()))?);
    ctx.observe("label.listing", listing_on_host("/")?, &seen);
    ctx.check("check.chroot.sees_rootfs", seen == listing_on_host(&root)?, format!("inside: {seen}"));
    let inside_root = stat_inside(&inside, "/")?;
    let rootfs = stat_on_host(&root)?;
    ctx.observe("label.root_identity", format!("{root}: {}", identity(&rootfs)), identity(&inside_root));
    ctx.check("check.chroot.same_directory", same_file(&inside_root, &rootfs), identity(&inside_root));
    let link = std::fs::read_link(format!("/proc/{}/root", inside.pid()))?.display().to_string();
    ctx.observe("label.proc_root", &link, "/");
    ctx.check("check.chroot.proc_root", link == root, &link);
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &["ls /", "cat /etc/os-release", "ls /proc   # {{shell.proc_empty}}"],
        outside_commands(pid, "--root"),
    );
    Ok(())
}

/// The directory inside the root filesystem that the escape chroots into.
const ESCAPE_SUBDIR: &str = "/tmp";

fn escape(ctx: &mut Ctx) -> Result<(), Failure> {
    let root = ctx.rootfs()?;
    let r = root.clone();
    let inside = ctx.start(Plan::new(&[]).with_setup(move |k| {
        chroot_and_pivot::chroot_into(k, &r)?;
        chroot_and_pivot::break_out_of_chroot(k, ESCAPE_SUBDIR)
    }))?;
    let inside_root = stat_inside(&inside, "/")?;
    let host_root = stat_on_host("/")?;
    ctx.observe("label.root_identity", format!("/: {}", identity(&host_root)), identity(&inside_root));
    ctx.check("check.escape.host_root", same_file(&inside_root, &host_root), identity(&inside_root));
    let hostname_file = Probe::ReadFile("/etc/hostname".into());
    let host_name = on_host(&hostname_file).unwrap_or_default();
    let read_inside = inside.ask(hostname_file).map(text).unwrap_or_default();
    ctx.observe("label.host_file", &host_name, &read_inside);
    ctx.check("check.escape.reads_host_files", !host_name.is_empty() && read_inside == host_name, &read_inside);
    let link = std::fs::read_link(format!("/proc/{}/root", inside.pid()))?.display().to_string();
    ctx.observe("label.proc_root", "/", &link);
    ctx.check("check.escape.proc_root", link == "/", &link);
    let pid = inside.pid();
    ctx.inspect(inside, &["ls /", "cat /etc/hostname", "ls /home"], outside_commands(pid, "--root"));
    Ok(())
}
