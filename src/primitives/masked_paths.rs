//! Masked and read-only paths under /proc and /sys: the lists of `runc spec`.
//!
//! Even with its own pid namespace, a container's /proc still shows some files
//! about the whole machine (kernel memory, keys, timers) and lets root write kernel
//! settings (`/proc/sys`, `/proc/sysrq-trigger`). runc hides the first kind (a
//! read-only empty tmpfs over a directory, `/dev/null` over a file) and makes the
//! second kind read-only.

use super::error::Result;
use super::kernel::Kernel;
use nix::mount::MsFlags;
use std::path::Path;

/// `linux.maskedPaths` of the seed's config.json (`runc spec`).
pub const MASKED: [&str; 10] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];

/// `linux.readonlyPaths` of the same config.json.
pub const READ_ONLY: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// Hide `path` (after pivot_root). Paths this kernel does not have are skipped, as
/// runc skips them.
pub fn mask(k: &dyn Kernel, path: &str) -> Result<()> {
    match std::fs::metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => k.mount(Some("tmpfs"), path, Some("tmpfs"), MsFlags::MS_RDONLY, None),
        Ok(_) => k.mount(Some("/dev/null"), path, None, MsFlags::MS_BIND, None),
    }
}

/// Make `path` read-only: bind it onto itself, then remount that bind read-only.
/// (A bind mount takes the flags of the remount; the first bind cannot be
/// read-only by itself.)
pub fn make_read_only(k: &dyn Kernel, path: &str) -> Result<()> {
    if !Path::new(path).exists() {
        return Ok(());
    }
    k.mount(Some(path), path, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC;
    // Keep the flags the mount already has (nosuid, nodev, noexec): a remount that
    // drops a locked flag fails with EPERM.
    k.mount(Some(path), path, None, flags | existing_flags(path), None)
}

/// The nosuid/nodev/noexec flags of the mount at `path` (from statvfs).
pub fn existing_flags(path: &str) -> MsFlags {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let Ok(st) = statvfs(path) else { return MsFlags::empty() };
    let mut flags = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if st.flags().contains(fs) {
            flags |= ms;
        }
    }
    flags
}

/// Mask and protect every path of the two lists.
pub fn apply_defaults(k: &dyn Kernel) -> Result<()> {
    for path in MASKED {
        mask(k, path)?;
    }
    for path in READ_ONLY {
        make_read_only(k, path)?;
    }
    Ok(())
}
