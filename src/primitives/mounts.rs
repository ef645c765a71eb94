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

/// The options of a mount in config.json (`["nosuid", "ro", "mode=755"]`), split
/// into what `mount(2)` takes as flags and what goes to the filesystem as data.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub flags: MsFlags,
    /// shared, private, slave, unbindable (applied with a second mount call).
    pub propagation: MsFlags,
    pub bind: bool,
    pub data: Vec<String>,
}

pub fn parse_options<S: AsRef<str>>(options: &[S]) -> Options {
    let mut o = Options { flags: MsFlags::empty(), propagation: MsFlags::empty(), bind: false, data: Vec::new() };
    for opt in options {
        let opt = opt.as_ref();
        let (set, clear) = match opt {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "bind" => {
                o.bind = true;
                (MsFlags::MS_BIND, MsFlags::empty())
            }
            "rbind" => {
                o.bind = true;
                (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty())
            }
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable" | "runbindable" => {
                o.propagation |= propagation_flag(opt).unwrap_or(MsFlags::empty());
                continue;
            }
            // Options such as `tmpcopyup` belong to other runtimes; the rest is data.
            "tmpcopyup" | "idmap" | "ridmap" => continue,
            data => {
                o.data.push(data.to_string());
                continue;
            }
        };
        o.flags |= set;
        o.flags &= !clear;
    }
    o
}

/// `private`, `rslave`... as mount flags (`r` = recursive).
pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    let (rec, base) = match name.strip_prefix('r') {
        Some(rest) if ["private", "shared", "slave", "unbindable"].contains(&rest) => (MsFlags::MS_REC, rest),
        _ => (MsFlags::empty(), name),
    };
    let flag = match base {
        "private" => MsFlags::MS_PRIVATE,
        "shared" => MsFlags::MS_SHARED,
        "slave" => MsFlags::MS_SLAVE,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        _ => return None,
    };
    Some(flag | rec)
}

/// An overlay filesystem at `target` (`mount -t overlay overlay -o
/// lowerdir=TOP:…:BOTTOM,upperdir=UPPER,workdir=WORK TARGET`): the lower directories read-only,
/// stacked (the first one wins where two hold the same name), and every change written to
/// `upper`. `work` is overlayfs' scratch space, on the same file system as `upper`. This is
/// how an engine shows a container its image's layers as one tree (lesson 9).
pub fn mount_overlay(k: &dyn Kernel, lowers: &[&str], upper: &str, work: &str, target: &str) -> Result<()> {
    let data = format!("lowerdir={},upperdir={upper},workdir={work}", lowers.join(":"));
    k.mount(Some("overlay"), target, Some("overlay"), MsFlags::empty(), Some(&data))
}

#[cfg(test)]
mod tests {
    #[test]
    fn options_split_into_flags_and_data() {
        let o = super::parse_options(&["nosuid", "noexec", "ro", "mode=755", "size=65536k", "rslave"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY);
        assert_eq!(o.data, vec!["mode=755", "size=65536k"]);
        assert_eq!(o.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        let b = super::parse_options(&["rbind", "rw"]);
        assert!(b.bind && b.flags.contains(MsFlags::MS_REC) && !b.flags.contains(MsFlags::MS_RDONLY));
        assert_eq!(super::propagation_flag("runbindable"), Some(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC));
        assert_eq!(super::propagation_flag("bogus"), None);
    }

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
