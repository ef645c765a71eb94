//! 9.1: a whiteout of the learner's own. A live process in a mount namespace of its own
//! has an overlay whose lower directory is the course's root filesystem, and in whose
//! upper directory `etc/hostname` is a whiteout (a 0/0 character device) while the root
//! filesystem's own `etc/hostname` is still there. Read from `/proc/PID/mountinfo` and
//! the upper directory, never from what was typed.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::checks::{in_own, kill_all};
use super::scan::{self, Process};
use super::{Ctx, Verdict};
use crate::primitives::mountinfo;

/// An overlay a learner's process has: its lower directories and its upper directory.
struct Overlay {
    pid: i32,
    lowers: Vec<PathBuf>,
    upper: Option<PathBuf>,
}

fn overlays(p: &Process) -> Vec<Overlay> {
    let text = std::fs::read_to_string(format!("/proc/{}/mountinfo", p.pid)).unwrap_or_default();
    mountinfo::parse(&text)
        .into_iter()
        .filter(|m| m.fstype == "overlay")
        .map(|m| {
            let option = |name: &str| m.super_options.iter().find_map(|o| o.strip_prefix(name).map(str::to_string));
            Overlay {
                pid: p.pid,
                lowers: option("lowerdir=").map(|l| l.split(':').map(PathBuf::from).collect()).unwrap_or_default(),
                upper: option("upperdir=").map(PathBuf::from),
            }
        })
        .collect()
}

/// The learner's overlays whose lower directories include one of the course's rootfs.
fn on_the_rootfs(ctx: &Ctx) -> Vec<Overlay> {
    let wanted: Vec<(u64, u64)> = ctx.rootfs.iter().filter_map(|r| scan::file_id(r)).collect();
    in_own("mnt")
        .iter()
        .flat_map(overlays)
        .filter(|o| o.lowers.iter().any(|l| scan::file_id(l).is_some_and(|id| wanted.contains(&id))))
        .collect()
}

fn is_whiteout(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0)
}

pub(super) fn whiteout_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let found = on_the_rootfs(ctx);
    let mut shown: Vec<String> = ctx.rootfs.iter().map(|r| r.display().to_string()).collect();
    shown.dedup();
    let pid = found.first().map(|o| o.pid).unwrap_or(0);
    if !v.require(!found.is_empty(), ctx.s("check.9.1.overlay", &[("pid", &pid)]), || {
        ctx.s("unmet.9.1.overlay", &[("rootfs", &shown.join(", "))])
    }) {
        return v;
    }
    let whited = found.iter().find(|o| o.upper.as_ref().is_some_and(|u| is_whiteout(&u.join("etc/hostname"))));
    let upper = found.iter().find_map(|o| o.upper.clone()).unwrap_or_default();
    if !v.require(whited.is_some(), ctx.s("check.9.1.whiteout", &[]), || {
        ctx.s("unmet.9.1.whiteout", &[("upper", &upper.display())])
    }) {
        return v;
    }
    let kept = ctx.rootfs.iter().any(|r| r.join("etc/hostname").is_file());
    v.require(kept, ctx.s("check.9.1.lower_kept", &[]), || ctx.s("unmet.9.1.lower_kept", &[]));
    v
}

/// Where the task's text suggests the upper, work and merged directories.
const TASK_DIR: &str = "/run/learnctr-task-9.1";

pub(super) fn kill_overlaid(ctx: &Ctx) -> Vec<String> {
    let pids: Vec<i32> = on_the_rootfs(ctx).iter().map(|o| o.pid).collect();
    let mut done = kill_all(in_own("mnt").into_iter().filter(|p| pids.contains(&p.pid)).collect());
    // The overlay lived in the killed process's namespace: the directories are plain now.
    if std::fs::remove_dir_all(TASK_DIR).is_ok() {
        done.push(TASK_DIR.to_string());
    }
    done
}
