//! Mounts, by hand: the calls `mount(8)` would make.

use super::error::Result;
use super::kernel::Kernel;
use nix::mount::MsFlags;

/// Make every mount in our (new) mount namespace private, recursively.
///
/// A new mount namespace starts as a copy of the host's, and on systemd machines `/`
/// is a *shared* mount: a mount made below it would propagate back to the host. With
/// `MS_REC|MS_PRIVATE` nothing we mount from now on leaves this namespace. This is the
/// first thing every mount-using step does (`mount --make-rprivate /`).
pub fn make_private(k: &dyn Kernel) -> Result<()> {
    k.mount(None, "/", None, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None)
}

/// A small tmpfs at `target` (`mount -t tmpfs -o size=1m SOURCE TARGET`). The source
/// name is free text that shows up in `/proc/self/mountinfo`.
pub fn mount_tmpfs(k: &dyn Kernel, source: &str, target: &str) -> Result<()> {
    k.mount(Some(source), target, Some("tmpfs"), MsFlags::empty(), Some("size=1m,mode=755"))
}

/// A fresh proc filesystem at `target` (`mount -t proc proc /proc`). procfs shows the
/// processes of the pid namespace *of the process that mounts it*; that is why a new
/// pid namespace needs its own /proc before `ps` tells the truth.
pub fn mount_proc(k: &dyn Kernel, target: &str) -> Result<()> {
    k.mount(Some("proc"), target, Some("proc"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, None)
}

/// sysfs, read-only (`mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys`).
pub fn mount_sysfs_read_only(k: &dyn Kernel, target: &str) -> Result<()> {
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    k.mount(Some("sysfs"), target, Some("sysfs"), flags, None)
}

/// Make every mount shared (`mount --make-rshared /`) — only ever inside a mount
/// namespace of our own, to show what shared propagation does to `pivot_root`.
pub fn make_shared(k: &dyn Kernel) -> Result<()> {
    k.mount(None, "/", None, MsFlags::MS_REC | MsFlags::MS_SHARED, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::Fake;

    #[test]
    fn private_before_mounting() {
        let fake = Fake::new();
        make_private(&fake).unwrap();
        mount_tmpfs(&fake, "learnctr", "/mnt").unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL)",
                "mount(\"learnctr\", \"/mnt\", \"tmpfs\", 0, \"size=1m,mode=755\")"
            ]
        );
    }
}
