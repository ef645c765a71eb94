//! A process in its own namespaces, for as long as the host needs it.
//!
//! This is `unshare --fork` (or `nsenter`) done by hand:
//!
//! ```text
//! learnctr (host)            child                         grandchild (only with a new pid ns)
//!  fork() ────────────────▶  prctl(PR_SET_PDEATHSIG)
//!                            unshare(CLONE_NEW...)  or  setns(fd, CLONE_NEW...)
//!  write uid_map/gid_map ◀── "need id map" (user ns only)
//!                            fork() ─────────────────────▶  PID 1 inside
//!                            waits, then exits with it      setup (hostname, mounts...)
//!  ◀──────────────────────────────────────────────────────  "ready", then the caller's `serve`
//! ```
//!
//! Why the second fork: `unshare(CLONE_NEWPID)` does not move the caller (its pid
//! cannot change); only its *next* child is created in the new pid namespace, as PID 1.
//! That is why `unshare --pid` needs `--fork`, and why runc's init forks too (see the
//! strace in the course notes).
//!
//! Both children ask the kernel to kill them if their parent dies
//! (`PR_SET_PDEATHSIG`), so a learnctr killed with SIGKILL leaves no process behind,
//! and with the processes the namespaces vanish too.
//!
//! What the process does once it is ready is the caller's: the course's
//! instruments ask it questions (`instruments/inside.rs`); a process that only has
//! to exist, so that its namespaces do, runs [`stay`].

use super::channel;
use super::error::{Error, Result};
use super::idmap::{self, IdMap};
use super::kernel::Kernel;
use super::namespaces::{flags_of, Namespace};
use super::{process, signals, trace};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd};

/// What the child tells the host while it starts. Once it is ready, the process that
/// runs `serve` speaks the caller's protocol instead; the outer child of a new pid
/// namespace sends nothing after `InitPid` (it only waits for PID 1).
#[derive(Debug, Serialize, Deserialize)]
enum Startup {
    Trace(trace::Event),
    /// "I have unshared a user namespace: write my uid_map and gid_map now."
    NeedIdMap,
    /// The host pid of the process that stays (PID 1 inside a new pid ns).
    InitPid(i32),
    /// The setup is done: from now on the socket is the caller's.
    Ready,
    Failed(String),
}

impl From<trace::Event> for Startup {
    fn from(event: trace::Event) -> Startup {
        Startup::Trace(event)
    }
}

/// The host's one message while the child starts: the answer to `NeedIdMap`.
#[derive(Debug, Serialize, Deserialize)]
struct IdMapWritten;

/// The child's life once it is ready, on its socket to the host. It never returns,
/// and exits when the host's end closes (`channel::receive` gives `None`).
pub type Serve = fn(&OwnedFd) -> !;

/// How the process gets its namespaces.
pub enum Entry {
    /// New namespaces of these kinds (`unshare`).
    New(Vec<Namespace>),
    /// The namespaces of another process (`setns`, what `nsenter -t PID` does).
    Join { pid: i32, namespaces: Vec<Namespace> },
}

/// What runs inside, after entering the namespaces and before answering questions.
pub type Setup = Box<dyn FnOnce(&dyn Kernel) -> Result<()>>;

pub struct Plan {
    pub entry: Entry,
    /// With a new user namespace: the map the host writes for it.
    pub id_map: Option<IdMap>,
    pub setup: Option<Setup>,
    /// Join this cgroup (write our pid into its `cgroup.procs`) before anything else,
    /// as `cgexec` does: what we start afterwards is born inside.
    pub cgroup: Option<super::cgroups::Cgroup>,
}

impl Plan {
    pub fn new(namespaces: &[Namespace]) -> Plan {
        Plan { entry: Entry::New(namespaces.to_vec()), id_map: None, setup: None, cgroup: None }
    }

    pub fn join(pid: i32, namespaces: &[Namespace]) -> Plan {
        Plan { entry: Entry::Join { pid, namespaces: namespaces.to_vec() }, id_map: None, setup: None, cgroup: None }
    }

    pub fn with_setup(mut self, setup: impl FnOnce(&dyn Kernel) -> Result<()> + 'static) -> Plan {
        self.setup = Some(Box::new(setup));
        self
    }

    pub fn in_cgroup(mut self, cgroup: &super::cgroups::Cgroup) -> Plan {
        self.cgroup = Some(cgroup.clone());
        self
    }

    pub fn with_id_map(mut self, map: IdMap) -> Plan {
        self.id_map = Some(map);
        self
    }

    fn enters_pid_namespace(&self) -> bool {
        match &self.entry {
            Entry::New(ns) | Entry::Join { namespaces: ns, .. } => ns.contains(&Namespace::Pid),
        }
    }
}

/// The isolated process, seen from the host. Dropping it kills it.
pub struct Isolated {
    sock: OwnedFd,
    /// Our direct child.
    outer: i32,
    /// The process that runs `serve` (the grandchild with a new pid ns, else `outer`).
    init: i32,
}

impl Isolated {
    /// Start the process and wait until it is ready inside its namespaces; then it
    /// runs `serve`.
    pub fn start(k: &dyn Kernel, plan: Plan, serve: Serve) -> Result<Isolated> {
        let parent = nix::unistd::getpid().as_raw();
        let (host_end, child_end) = channel::pair()?;
        match k.fork()? {
            None => {
                drop(host_end);
                child_main(k, plan, serve, child_end, parent)
            }
            Some(outer) => {
                drop(child_end);
                let me = Isolated { sock: host_end, outer, init: outer };
                me.wait_until_ready(k, plan.id_map)
            }
        }
    }

    fn wait_until_ready(mut self, k: &dyn Kernel, id_map: Option<IdMap>) -> Result<Isolated> {
        // Two messages are needed, and with a new pid namespace they come from two
        // processes in no fixed order: our child sends PID 1's host pid after its fork,
        // PID 1 says "ready" after its setup — and may be the faster one.
        // PID 1's calls are shown with its host pid too, once that is known.
        let (mut ready, mut init_known) = (false, false);
        let mut early: Vec<trace::Event> = Vec::new();
        loop {
            if ready && init_known {
                early.drain(..).for_each(|e| self.absorb(e));
                return Ok(self);
            }
            match channel::receive::<Startup>(&self.sock)? {
                Some(Startup::Trace(event)) if init_known => self.absorb(event),
                Some(Startup::Trace(event)) => early.push(event),
                Some(Startup::NeedIdMap) => {
                    let map = id_map.ok_or_else(|| Error::Child("a user namespace needs an id map".into()))?;
                    idmap::write_maps(k, self.outer, map)?;
                    channel::send_to(&self.sock, &IdMapWritten)?;
                }
                Some(Startup::InitPid(pid)) => {
                    self.init = pid;
                    init_known = true;
                    early.drain(..).for_each(|e| self.absorb(e));
                }
                Some(Startup::Ready) => ready = true,
                Some(Startup::Failed(why)) => {
                    // What the child did before it failed is what the learner needs.
                    early.drain(..).for_each(trace::absorb);
                    return Err(Error::Child(why));
                }
                None => return Err(Error::Child("the isolated process exited before it was ready".into())),
            }
        }
    }

    /// Record an event the process sent. PID 1 of a new pid namespace is named by its
    /// host pid as well.
    pub fn absorb(&self, mut event: trace::Event) {
        if event.pid == 1 && self.init != 1 {
            event.host_pid = Some(self.init);
        }
        trace::absorb(event)
    }

    /// The host pid of the process inside (use it with `nsenter -t PID`).
    pub fn pid(&self) -> i32 {
        self.init
    }

    /// Every process this made: our child, and PID 1 inside when they differ.
    pub fn pids(&self) -> Vec<i32> {
        if self.init == self.outer {
            vec![self.outer]
        } else {
            vec![self.outer, self.init]
        }
    }

    /// The host's end of the socket, for the caller's protocol once the process is
    /// ready.
    pub fn socket(&self) -> &OwnedFd {
        &self.sock
    }
}

impl Drop for Isolated {
    fn drop(&mut self) {
        // The inner one first: with a new pid ns, killing PID 1 kills all inside.
        if self.init != self.outer {
            process::kill_stranded(self.init);
        }
        process::kill_and_reap(self.outer);
        if self.init != self.outer {
            // A child subreaper (learnctr running a foreground container) inherits
            // the inner process once the outer one is gone: reap it, or the pid
            // namespace it was in (a container's) cannot end while it is a zombie.
            process::reap_if_ours(self.init);
        }
    }
}

/// The child's whole life. It never returns: it exits.
fn child_main(k: &dyn Kernel, plan: Plan, serve: Serve, sock: OwnedFd, parent: i32) -> ! {
    trace::forward_to::<Startup>(sock.as_raw_fd());
    signals::reset_to_default();
    match child_steps(k, plan, &sock, parent) {
        Ok(()) => serve(&sock),
        Err(e) => {
            let _ = channel::send_to(&sock, &Startup::Failed(e.to_string()));
            std::process::exit(1)
        }
    }
}

fn child_steps(k: &dyn Kernel, plan: Plan, sock: &OwnedFd, parent: i32) -> Result<()> {
    use nix::unistd::{getpid, getppid};
    k.set_parent_death_signal(libc::SIGKILL)?;
    if getppid().as_raw() != parent {
        // The parent died before prctl took effect: nobody will ever ask us anything.
        std::process::exit(1);
    }
    if let Some(cgroup) = &plan.cgroup {
        cgroup.add(k, getpid().as_raw())?;
    }
    let pid_namespace = plan.enters_pid_namespace();
    match &plan.entry {
        // No namespace at all: a plain child (lesson 2's chroot needs no other).
        Entry::New(namespaces) if namespaces.is_empty() => {}
        Entry::New(namespaces) => {
            k.unshare(flags_of(namespaces))?;
            if namespaces.contains(&Namespace::User) {
                channel::send_to(sock, &Startup::NeedIdMap)?;
                match channel::receive::<IdMapWritten>(sock)? {
                    Some(IdMapWritten) => {}
                    _ => return Err(Error::Child("no id map was written".into())),
                }
                // The map does not change who we are: we are still the host's root,
                // which has no number inside (so we show as 65534). Becoming the
                // mapped id makes us root inside and the unprivileged id outside.
                if let Some(map) = plan.id_map {
                    k.become_user(map.inside, map.inside)?;
                }
            }
        }
        Entry::Join { pid, namespaces } => join(k, *pid, namespaces)?,
    }
    if pid_namespace {
        match k.fork()? {
            Some(init) => {
                channel::send_to(sock, &Startup::InitPid(init))?;
                let code = process::wait_exit_code(init).unwrap_or(1);
                std::process::exit(code);
            }
            None => {
                // Our parent is outside our pid namespace, so getppid() says 0 here and
                // cannot tell whether it is alive. Nothing lingers either way: when the
                // host side goes away, the socket closes and `serve` exits.
                k.set_parent_death_signal(libc::SIGKILL)?;
            }
        }
    } else {
        channel::send_to(sock, &Startup::InitPid(getpid().as_raw()))?;
    }
    if let Some(setup) = plan.setup {
        setup(k)?;
    }
    channel::send_to(sock, &Startup::Ready)
}

/// `nsenter`: open every namespace file first (after joining the mount namespace,
/// `/proc/PID` might no longer be the same), then `setns` into each. The user
/// namespace goes first, because it decides what we may do in the others.
pub fn join(k: &dyn Kernel, pid: i32, namespaces: &[Namespace]) -> Result<()> {
    const ORDER: [Namespace; 7] = [
        Namespace::User,
        Namespace::Ipc,
        Namespace::Uts,
        Namespace::Net,
        Namespace::Pid,
        Namespace::Cgroup,
        Namespace::Mount,
    ];
    let mut fds = Vec::new();
    for ns in ORDER.iter().filter(|ns| namespaces.contains(ns)) {
        fds.push((*ns, k.open(&ns.proc_path(Some(pid)).to_string_lossy())?));
    }
    for (ns, fd) in fds {
        k.setns(fd, ns.flag())?;
        k.close(fd)?;
    }
    Ok(())
}

/// A [`Serve`] for a process that only has to exist (the caller uses its
/// namespaces): it waits until the host goes away.
pub fn stay(sock: &OwnedFd) -> ! {
    while let Ok(Some(_)) = channel::receive::<serde::de::IgnoredAny>(sock) {}
    std::process::exit(0)
}
