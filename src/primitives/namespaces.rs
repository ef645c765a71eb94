//! The seven namespace kinds a container uses, and how to see them in `/proc`.
//!
//! A namespace is a kernel object; a process belongs to one namespace of each kind.
//! `/proc/PID/ns/KIND` is a magic link to it: `readlink` gives `uts:[4026531838]`, where
//! the number is the namespace's inode. Two processes are in the same namespace
//! exactly when their inodes are equal — that is how every check in lesson 1 works,
//! and what `lsns` prints.

use nix::sched::CloneFlags;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Namespace {
    Uts,
    Pid,
    Mount,
    Ipc,
    Net,
    User,
    Cgroup,
}

impl Namespace {
    pub const ALL: [Namespace; 7] = [
        Namespace::Uts,
        Namespace::Pid,
        Namespace::Mount,
        Namespace::Ipc,
        Namespace::Net,
        Namespace::User,
        Namespace::Cgroup,
    ];

    /// The flag for `unshare(2)`, `clone(2)` and `setns(2)`.
    pub fn flag(self) -> CloneFlags {
        match self {
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
            Namespace::Mount => CloneFlags::CLONE_NEWNS,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Net => CloneFlags::CLONE_NEWNET,
            Namespace::User => CloneFlags::CLONE_NEWUSER,
            Namespace::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        }
    }

    /// The file name under `/proc/PID/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            Namespace::Uts => "uts",
            Namespace::Pid => "pid",
            Namespace::Mount => "mnt",
            Namespace::Ipc => "ipc",
            Namespace::Net => "net",
            Namespace::User => "user",
            Namespace::Cgroup => "cgroup",
        }
    }

    /// The path of a process's link for this namespace. `None` means ourselves.
    pub fn proc_path(self, pid: Option<i32>) -> PathBuf {
        match pid {
            Some(pid) => PathBuf::from(format!("/proc/{pid}/ns/{}", self.proc_name())),
            None => PathBuf::from(format!("/proc/self/ns/{}", self.proc_name())),
        }
    }

    /// The link's text, `uts:[4026531838]`, for a process (or ourselves).
    pub fn link(self, pid: Option<i32>) -> std::io::Result<String> {
        Ok(std::fs::read_link(self.proc_path(pid))?.to_string_lossy().into_owned())
    }

    /// Whether this kernel has the namespace kind at all.
    pub fn supported(self) -> bool {
        self.proc_path(None).exists()
    }
}

/// All the flags of a list of namespaces, for one `unshare` call.
pub fn flags_of(namespaces: &[Namespace]) -> CloneFlags {
    namespaces.iter().fold(CloneFlags::empty(), |acc, ns| acc | ns.flag())
}

/// The inode number inside a link text: `uts:[4026531838]` → 4026531838.
pub fn inode_of(link: &str) -> Option<u64> {
    link.split_once('[')?.1.strip_suffix(']')?.parse().ok()
}

/// The hostname in the uts namespace of process `pid`, read by a thread that joins it.
/// A uts namespace belongs to each thread, not to the whole process, so a short-lived
/// thread can `setns` into it and ask `uname` — no child process needed, and the rest
/// of learnctr stays in its own.
pub fn hostname_of(k: &dyn super::Kernel, pid: i32) -> super::Result<String> {
    let fd = k.open(&Namespace::Uts.proc_path(Some(pid)).display().to_string())?;
    // The Kernel is not Send: the thread makes the same two calls through its own Linux.
    let outcome = super::trace::on_a_thread(move || -> super::Result<String> {
        let linux = super::Linux;
        let k: &dyn super::Kernel = &linux;
        k.setns(fd, CloneFlags::CLONE_NEWUTS)?;
        Ok(nix::sys::utsname::uname().map(|u| u.nodename().to_string_lossy().into_owned()).unwrap_or_default())
    });
    k.close(fd)?;
    outcome.unwrap_or_else(|_| Err(super::Error::Child("the thread reading the hostname failed".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inode_is_parsed_from_the_link() {
        assert_eq!(inode_of("uts:[4026531838]"), Some(4026531838));
        assert_eq!(inode_of("garbage"), None);
    }

    #[test]
    fn flags_combine() {
        let f = flags_of(&[Namespace::Uts, Namespace::Pid]);
        assert_eq!(f, CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWPID);
        assert_eq!(Namespace::Mount.proc_name(), "mnt");
    }

    #[test]
    fn our_own_links_are_readable() {
        let link = Namespace::Uts.link(None).unwrap();
        assert!(link.starts_with("uts:["), "{link}");
    }
}
