//! A minimal `/dev`, built the way runc builds it.
//!
//! The host's `/dev` holds every disk and device of the machine. A container gets a
//! small tmpfs instead, with only the harmless character devices bound in from the
//! host, a private pseudo-terminal instance, and the usual symlinks. No disk, no
//! `/dev/mem`, no `/dev/kmsg`.

use super::error::Result;
use super::kernel::Kernel;
use nix::mount::MsFlags;

/// A device node: its name in /dev, its type, and the numbers the kernel knows it by.
pub struct Device {
    pub name: &'static str,
    pub typ: Type,
    pub major: u64,
    pub minor: u64,
}

/// The two types of device node, as mknod(2) makes them (`S_IFCHR`, `S_IFBLK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// Read byte by byte: a terminal, /dev/null, a random number generator.
    Char,
    /// Read in blocks: a disk.
    Block,
}

impl Type {
    /// The letter a cgroup device rule names it by (`c 1:3 rwm`).
    pub fn letter(self) -> &'static str {
        match self {
            Type::Char => "c",
            Type::Block => "b",
        }
    }
}

/// The devices a container gets (the OCI runtime spec's default devices): all of
/// them character devices, none a disk.
pub const DEVICES: [Device; 6] = [
    Device { name: "null", typ: Type::Char, major: 1, minor: 3 },
    Device { name: "zero", typ: Type::Char, major: 1, minor: 5 },
    Device { name: "full", typ: Type::Char, major: 1, minor: 7 },
    Device { name: "random", typ: Type::Char, major: 1, minor: 8 },
    Device { name: "urandom", typ: Type::Char, major: 1, minor: 9 },
    Device { name: "tty", typ: Type::Char, major: 5, minor: 0 },
];

/// The symlinks every Linux program expects in /dev.
pub const LINKS: [(&str, &str); 5] = [
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
    ("pts/ptmx", "ptmx"),
];

/// Build `ROOT/dev` (call it before `pivot_root`, while the host's /dev is reachable).
pub fn populate(k: &dyn Kernel, root: &str) -> Result<()> {
    let dev = format!("{root}/dev");
    let nosuid = MsFlags::MS_NOSUID;
    k.mount(Some("tmpfs"), &dev, Some("tmpfs"), nosuid | MsFlags::MS_STRICTATIME, Some("mode=755,size=65536k"))?;
    for Device { name, .. } in DEVICES {
        // A bind mount needs a file to land on.
        let target = format!("{dev}/{name}");
        k.create_file(&target, 0o666)?;
        k.mount(Some(&format!("/dev/{name}")), &target, None, MsFlags::MS_BIND, None)?;
    }
    // A new devpts instance: the container's terminals are not the host's.
    k.mkdir(&format!("{dev}/pts"), 0o755)?;
    k.mount(
        Some("devpts"),
        &format!("{dev}/pts"),
        Some("devpts"),
        nosuid | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
    )?;
    k.mkdir(&format!("{dev}/shm"), 0o1777)?;
    k.mount(
        Some("shm"),
        &format!("{dev}/shm"),
        Some("tmpfs"),
        nosuid | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
        Some("mode=1777,size=65536k"),
    )?;
    k.mkdir(&format!("{dev}/mqueue"), 0o755)?;
    k.mount(
        Some("mqueue"),
        &format!("{dev}/mqueue"),
        Some("mqueue"),
        nosuid | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
        None,
    )?;
    for (target, name) in LINKS {
        k.symlink(target, &format!("{dev}/{name}"))?;
    }
    Ok(())
}

/// Every name `populate` puts in /dev, sorted (what `ls /dev` shows inside).
pub fn expected_names() -> Vec<String> {
    let mut names: Vec<String> = DEVICES.iter().map(|d| d.name.to_string()).collect();
    names.extend(["pts", "shm", "mqueue"].map(String::from));
    names.extend(LINKS.iter().map(|(_, n)| n.to_string()));
    names.sort();
    names
}
