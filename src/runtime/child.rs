//! The container's first child, forked by `spawn.rs`: it enters or makes the
//! namespaces (the user namespace first, its id maps written by the runtime), forks
//! again when a pid namespace is new, and that process, PID 1 inside, becomes the
//! init (`init.rs`). It talks to the runtime over a socket: the id maps, the init's
//! pid, the cgroups joined, the runtime's hooks, ready.

use super::create::hook_state;
use super::init;
use super::init_protocol::{ToChild, ToHost};
use super::state::EXEC_FIFO;
use super::timing;
use crate::primitives::cgroups::Cgroup;
use crate::primitives::channel;
use crate::primitives::namespaces::{flags_of, Namespace};
use crate::primitives::{Error, Kernel};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// What the child needs to know of the container it makes.
pub(super) struct Place<'a> {
    pub(super) id: &'a str,
    pub(super) bundle: &'a Path,
    pub(super) spec: &'a Spec,
    pub(super) rootfs: &'a Path,
    pub(super) dir: &'a Path,
    pub(super) cgroup: &'a Cgroup,
    pub(super) new: &'a [Namespace],
    pub(super) join: &'a [(Namespace, PathBuf)],
    pub(super) new_keyring: bool,
    pub(super) preserve_fds: i32,
}

/// The child: namespaces, (fork for a pid namespace), then the init. The runtime
/// moves it into its cgroups meanwhile (see `spawn.rs`).
pub(super) fn child(
    k: &dyn Kernel,
    place: &Place,
    sock: &OwnedFd,
    foreground: bool,
    console: Option<std::os::fd::RawFd>,
) -> crate::primitives::Result<std::convert::Infallible> {
    let Place { id, bundle, spec, rootfs, dir, cgroup, new, join, new_keyring: opts_keyring, preserve_fds } = place;
    let (opts_keyring, preserve_fds) = (*opts_keyring, *preserve_fds);
    crate::primitives::signals::reset_to_default();
    if !foreground {
        // The container outlives `learnctr create`: its own session, no terminal.
        k.setsid()?;
    }
    // The FIFO, held as an O_PATH handle while we are still the host's root: after
    // pivot_root the init reopens it for writing through /proc/self/fd (as runc does).
    // A handle on a FIFO, unlike one on the state directory, can never serve as a
    // working directory (CVE-2024-21626).
    let fifo = k.open_path(&dir.join(EXEC_FIFO).display().to_string())?;

    // Open every namespace to join before entering any (paths are the host's).
    let mut to_join = Vec::new();
    for (ns, path) in join.iter() {
        to_join.push((*ns, k.open(&path.display().to_string())?));
    }
    if new.contains(&Namespace::User) {
        k.unshare(Namespace::User.flag())?;
        channel::send_to(sock, &ToHost::NeedIdMap)?;
        match channel::receive::<ToChild>(sock)? {
            Some(ToChild::IdMapWritten) => {}
            _ => return Err(Error::Child("no id map was written".into())),
        }
        k.become_user(0, 0)?;
    }
    for (ns, fd) in to_join {
        k.setns(fd, ns.flag())?;
        k.close(fd)?;
    }
    // Every new namespace but the cgroup one: its root is the cgroup we are in when we
    // unshare it, so the init does that once the runtime has moved it into its own.
    let others: Vec<Namespace> =
        new.iter().copied().filter(|n| *n != Namespace::User && *n != Namespace::Cgroup).collect();
    if !others.is_empty() {
        k.unshare(flags_of(&others))?;
    }
    let pid_ns = new.contains(&Namespace::Pid) || join.iter().any(|(n, _)| *n == Namespace::Pid);
    if pid_ns {
        if let Some(init) = k.fork()? {
            channel::send_to(sock, &ToHost::InitPid(init))?;
            // The init is on its own now (reparented): nothing to wait for here.
            std::process::exit(0);
        }
    } else {
        channel::send_to(sock, &ToHost::InitPid(nix::unistd::getpid().as_raw()))?;
    }
    // We are the init now. What it asks of the runtime, and how it waits for `start`,
    // go into its Context; `init::run` takes the steps.
    let ask_hooks = || -> crate::primitives::Result<()> {
        channel::send_to(sock, &ToHost::RunRuntimeHooks)?;
        match channel::receive::<ToChild>(sock)? {
            Some(ToChild::RuntimeHooksRan { ok: true }) => Ok(()),
            _ => Err(Error::Child("the runtime's hooks failed".into())),
        }
    };
    let new_cgroup_ns = new.contains(&Namespace::Cgroup);
    let enter_cgroup = || -> crate::primitives::Result<()> {
        match channel::receive::<ToChild>(sock)? {
            Some(ToChild::CgroupJoined) => {}
            _ => return Err(Error::Child("the runtime did not move the init into its cgroups".into())),
        }
        if new_cgroup_ns {
            k.unshare(Namespace::Cgroup.flag())?;
        }
        Ok(())
    };
    timing::mark("namespaces created");
    // Without a mount namespace the init enters its root with chroot, and no /proc is
    // mounted there: it keeps a handle on its own /proc/self/fd (opened here, in the
    // init itself) to reopen the FIFO; closed before the container's program runs.
    let fds_dir = if crate::runtime::spec::has_namespace(spec, LinuxNamespaceType::Mount) {
        None
    } else {
        Some(k.open_path("/proc/self/fd")?)
    };
    let wait_for_start = || -> crate::primitives::Result<()> {
        timing::mark("init prepared (mounts, pivot_root, ...)");
        channel::send_to(sock, &ToHost::Ready)?;
        // Wait for `start`: the open blocks until it opens the FIFO for reading.
        let writer = match fds_dir {
            Some(dirfd) => k.open_write_at(dirfd, &fifo.to_string())?,
            None => k.open_write(&format!("/proc/self/fd/{fifo}"))?,
        };
        if let Some(dirfd) = fds_dir {
            k.close(dirfd)?;
        }
        k.write(writer, b"0")?;
        k.close(writer)?;
        k.close(fifo)
    };
    // A new session keyring, named after the container, as runc joins one first thing.
    if opts_keyring {
        k.join_session_keyring(id)?;
    }
    let context = init::Context {
        spec,
        rootfs,
        cgroup,
        new_cgroup_ns,
        enter_cgroup: &enter_cgroup,
        runtime_hooks: &ask_hooks,
        hook_state: &|status| hook_state(id, status, 1, bundle, spec),
        // The terminal comes from the container's devpts: whoever gave --console-socket
        // has the master side before `create` returns, as with runc.
        console,
        preserve_fds,
        wait_for_start: &wait_for_start,
    };
    init::run(k, &context)
}
