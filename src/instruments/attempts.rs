//! Privileged operations, attempted: each one needs a capability (or is a system call
//! a seccomp profile denies). The lessons try them inside and show what the kernel
//! answers. Every attempt is a real call through `kernel/`, so it is in the trace
//! with its errno.

use crate::primitives::error::{errno_name, Error, Result};
use crate::primitives::kernel::Kernel;
use crate::primitives::namespaces::Namespace;
use crate::primitives::seccomp;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attempt {
    /// `hostname NAME` (needs CAP_SYS_ADMIN).
    Sethostname(String),
    /// `chown 1000:1000 FILE` (CAP_CHOWN).
    Chown(String),
    /// A raw ICMP socket, what `ping` opens (CAP_NET_RAW).
    RawSocket,
    /// `mknod FILE c 1 3` (CAP_MKNOD).
    Mknod(String),
    /// `mount -t tmpfs tmpfs DIR` (CAP_SYS_ADMIN).
    MountTmpfs(String),
    /// Listen on a port below 1024 (CAP_NET_BIND_SERVICE).
    BindPort(u16),
    /// `unshare --uts` (CAP_SYS_ADMIN; also denied by the seccomp profiles).
    Unshare(Namespace),
    /// `keyctl` (denied by the seccomp profiles).
    Keyctl,
    /// `unshare` by its x32 ABI number: what a deny list written with x86_64 numbers
    /// would miss (x86_64 only).
    UnshareX32,
    /// A harmless call every profile allows: `getpid`.
    Getpid,
    /// Install the named seccomp profile (needs no_new_privs or CAP_SYS_ADMIN).
    InstallFilter(String),
}

impl Attempt {
    /// The capability the kernel checks for this operation, if it is one of those.
    pub fn capability(&self) -> &'static str {
        match self {
            Attempt::Sethostname(_) | Attempt::MountTmpfs(_) | Attempt::Unshare(_) => "CAP_SYS_ADMIN",
            Attempt::Chown(_) => "CAP_CHOWN",
            Attempt::RawSocket => "CAP_NET_RAW",
            Attempt::Mknod(_) => "CAP_MKNOD",
            Attempt::BindPort(_) => "CAP_NET_BIND_SERVICE",
            Attempt::Keyctl | Attempt::Getpid | Attempt::UnshareX32 => "—",
            Attempt::InstallFilter(_) => "CAP_SYS_ADMIN / no_new_privs",
        }
    }

    /// What a learner would type; `None` for the attempts that are no command (an x32
    /// system call number, installing a filter), which the lessons name in their texts.
    pub fn command(&self) -> Option<String> {
        Some(match self {
            Attempt::Sethostname(name) => format!("hostname {name}"),
            Attempt::Chown(path) => format!("chown 1000:1000 {path}"),
            Attempt::RawSocket => "ping -c1 127.0.0.1".to_string(),
            Attempt::Mknod(path) => format!("mknod {path} c 1 3"),
            Attempt::MountTmpfs(dir) => format!("mount -t tmpfs tmpfs {dir}"),
            Attempt::BindPort(port) => format!("nc -l -p {port}"),
            Attempt::Unshare(ns) => format!("unshare --{}", ns.proc_name()),
            Attempt::Keyctl => "keyctl show".to_string(),
            Attempt::Getpid => "echo $$".to_string(),
            Attempt::UnshareX32 | Attempt::InstallFilter(_) => return None,
        })
    }
}

/// Try it: `ok`, or the errno's name (`EPERM`, `EACCES`...).
pub fn attempt(k: &dyn Kernel, what: &Attempt) -> String {
    let result = match what {
        Attempt::Sethostname(name) => k.sethostname(name),
        Attempt::Chown(path) => k.chown(path, 1000, 1000),
        Attempt::RawSocket => k.socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP).and_then(|fd| k.close(fd)),
        Attempt::Mknod(path) => k.mknod(path, false, 0o600, 1, 3),
        Attempt::MountTmpfs(dir) => k.mount(Some("tmpfs"), dir, Some("tmpfs"), nix::mount::MsFlags::empty(), None),
        Attempt::BindPort(port) => k.socket(libc::AF_INET, libc::SOCK_STREAM, 0).and_then(|fd| {
            let bound = k.bind(fd, *port);
            let _ = k.close(fd);
            bound
        }),
        Attempt::Unshare(ns) => k.unshare(ns.flag()),
        Attempt::Keyctl => k.keyctl_session_id().map(drop),
        Attempt::UnshareX32 => k.unshare_x32(Namespace::Uts.flag()),
        Attempt::Getpid => Ok(()),
        Attempt::InstallFilter(name) => seccomp::this_arch()
            .and_then(|arch| seccomp::named(name, arch))
            .map_err(Error::Child)
            .and_then(|profile| seccomp::install(k, &profile)),
    };
    match result {
        Ok(()) => "ok".to_string(),
        Err(e) => e.errno().map(errno_name).unwrap_or_else(|| e.to_string()),
    }
}

/// The name under which the learnctr binary acts as lesson 6's setuid helper.
pub const WHOAMI: &str = "learnctr-whoami";

/// Copy this very binary to `DIR/learnctr-whoami`, owned by root, with the setuid bit:
/// run by any user, it runs as root (euid 0) — unless no_new_privs forbids the gain.
/// Done inside a private tmpfs of a disposable mount namespace, so the copy exists only
/// there and vanishes with it.
pub fn setuid_helper(k: &dyn Kernel, dir: &str) -> Result<String> {
    let path = format!("{dir}/{WHOAMI}");
    std::fs::copy("/proc/self/exe", &path).map_err(|e| Error::io(path.clone(), e))?;
    k.chown(&path, 0, 0)?;
    k.chmod(&path, 0o4755)?;
    Ok(path)
}

/// What the helper prints: its real and effective user ids.
pub fn whoami_line() -> String {
    let ids = nix::unistd::getresuid();
    match ids {
        Ok(r) => format!("uid={} euid={}", r.real, r.effective),
        Err(e) => format!("getresuid: {e}"),
    }
}
