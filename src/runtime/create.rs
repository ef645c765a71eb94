//! `learnctr create`: from a bundle to an init that waits for `start`.
//!
//! 1. check the bundle and refuse what cannot be applied (`refuse.rs`, `resources.rs`),
//!    before anything exists;
//! 2. `ROOT/ID/state.json` with the status `creating` and the cgroup it will use: a
//!    learnctr killed from here on leaves a container `delete --force` removes whole;
//! 3. `exec.fifo`, the cgroup and its limits (on v2 also the device filter);
//! 4. the child, born in the cgroup on v2 (`clone3`) or moved into it on v1, unshares
//!    the namespaces and forks the init (`child` below, then `init.rs`);
//! 5. `state.json` again, `created`, with the init's pid; the pid file.

use super::init_protocol::{ToChild, ToHost};
use super::state::{Container, EXEC_FIFO};
use super::{hooks, init, refuse, resources, timing, Rt, RtError};
use crate::primitives::cgroups::Cgroup;
use crate::primitives::channel;
use crate::primitives::kernel::Call;
use crate::primitives::namespaces::{flags_of, Namespace};
use crate::primitives::{process, trace, Error, Kernel, Linux};
use nix::errno::Errno;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct CreateOptions<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    /// `--console-socket`: where to send the master side of the container's terminal.
    pub console_socket: Option<&'a Path>,
    /// For `run`: stay the parent of the container (PR_SET_CHILD_SUBREAPER) to wait
    /// for it, and keep our terminal and session.
    pub foreground: bool,
    /// `--systemd-cgroup`: `cgroupsPath` is systemd's `slice:prefix:name`.
    pub systemd_cgroup: bool,
    /// A session keyring of the container's own (runc's default; `--no-new-keyring`
    /// keeps the caller's): keys the host's session holds stay out of reach.
    pub new_keyring: bool,
    /// `--preserve-fds N`: fds 3 to 3+N-1 pass into the container's process.
    pub preserve_fds: i32,
}

fn namespace_of(kind: LinuxNamespaceType) -> Option<Namespace> {
    Some(match kind {
        LinuxNamespaceType::Pid => Namespace::Pid,
        LinuxNamespaceType::Network => Namespace::Net,
        LinuxNamespaceType::Mount => Namespace::Mount,
        LinuxNamespaceType::Ipc => Namespace::Ipc,
        LinuxNamespaceType::Uts => Namespace::Uts,
        LinuxNamespaceType::User => Namespace::User,
        LinuxNamespaceType::Cgroup => Namespace::Cgroup,
        _ => return None,
    })
}

/// Namespaces to join: the kind and the path of its file.
type Joins = Vec<(Namespace, PathBuf)>;

/// The namespaces to make, and those to join (type and path).
fn namespaces(spec: &Spec) -> Rt<(Vec<Namespace>, Joins)> {
    let mut new = Vec::new();
    let mut join = Vec::new();
    for ns in spec.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default() {
        let kind = namespace_of(ns.typ())
            .ok_or_else(|| RtError(format!("the {:?} namespace is not supported by learnctr", ns.typ())))?;
        match ns.path() {
            Some(path) => join.push((kind, path.clone())),
            None => new.push(kind),
        }
    }
    Ok((new, join))
}

/// `learnctr create`: everything up to the user's program; the init then waits for
/// `start`. Returns the container.
pub fn create(k: &dyn Kernel, opts: &CreateOptions) -> Rt<Container> {
    super::check_id(opts.id)?;
    let bundle = std::fs::canonicalize(opts.bundle)
        .map_err(|_| RtError(crate::i18n::tf("runtime.no_bundle", &[("path", &opts.bundle.display())])))?;
    let (spec, rootfs) = super::spec::load(&bundle)?;
    timing::mark("config.json read");
    // 1. Everything that can be refused is refused now, before anything exists.
    let mut notes = refuse::check(&spec)?;
    let (limits, limit_notes) = resources::limits(&spec)?;
    notes.extend(limit_notes);
    let (new, join) = namespaces(&spec)?;
    let spec_hooks = spec.hooks().clone().unwrap_or_default();
    let hooks_of = |list| hooks::from_spec(list).map_err(RtError);
    let (runtime_hooks, prestart, poststart, poststop) = (
        hooks_of(spec_hooks.create_runtime())?,
        hooks_of(spec_hooks.prestart())?,
        hooks_of(spec_hooks.poststart())?,
        hooks_of(spec_hooks.poststop())?,
    );
    hooks_of(spec_hooks.create_container())?;
    hooks_of(spec_hooks.start_container())?;
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false);
    if terminal && !opts.foreground && opts.console_socket.is_none() {
        return Err(RtError("process.terminal is true: give --console-socket, or set \"terminal\": false".into()));
    }
    for note in &notes {
        super::log::warn(note);
    }
    // 2. The state directory, and at once a state.json that names what will exist.
    let dir = Container::dir(opts.root, opts.id);
    std::fs::create_dir_all(opts.root).map_err(|e| RtError(format!("cannot create {}: {e}", opts.root.display())))?;
    if std::fs::create_dir(&dir).is_err() {
        return Err(RtError(crate::i18n::tf("runtime.exists", &[("id", &opts.id)])));
    }
    let mut undo = Undo { dir: Some(dir.clone()), cgroup: None, pid: None };
    // Searchable by the container's user (to reach exec.fifo), listable by root only.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))
        .map_err(|e| RtError(format!("cannot set the mode of {}: {e}", dir.display())))?;
    let cgroup = resources::cgroup_of(&spec, opts.id, opts.systemd_cgroup)?;
    let mut container = Container {
        id: opts.id.to_string(),
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        pid: 0,
        pid_start: 0,
        creator: Some(process::me()),
        created: now(),
        cgroup_dirs: cgroup.dirs(),
        cgroup_name: cgroup.name.clone(),
        cgroup_shared: cgroup.exists(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        prestart,
        poststart,
        poststop,
    };
    container.save(opts.root).map_err(|e| RtError(format!("cannot write the state: {e}")))?;
    // 3. The FIFO `start` opens, the cgroup and its limits.
    let fifo = dir.join(EXEC_FIFO).display().to_string();
    k.invoke(Call::Mkfifo { path: fifo.clone(), mode: 0o622 })?;
    // Writable by all (as runc makes it): the init opens it after switching to the
    // container's user. Only root can read it, so only root can `start`.
    k.invoke(Call::Chmod { path: fifo.clone(), mode: 0o622 })?;
    // In a user namespace the init is root *inside*: the FIFO must belong to the host
    // uid that is mapped to it (as runc chowns it), or it cannot open it.
    if let Some((uid, gid)) = root_ids_on_host(&spec) {
        k.invoke(Call::Chown { path: fifo, uid, gid })?;
    }
    // A cgroup that exists already is joined, as runc does, and never removed by us;
    // one of ours is removed by the guard even if its creation stops half-way.
    if !container.cgroup_shared {
        undo.cgroup = Some(cgroup.clone());
    }
    cgroup.create_or_join(k)?;
    cgroup.apply(k, &limits)?;
    timing::mark("cgroups created, limits written");
    if opts.foreground {
        // SAFETY: prctl(2) with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }
    // 4. The child and the init.
    let (pid, start) = spawn_init(k, &spec, &rootfs, &bundle, &dir, &cgroup, &new, &join, &runtime_hooks, opts)?;
    timing::mark("init ready, waiting for start");
    undo.pid = Some(pid);
    // 5. Created.
    container.pid = pid;
    container.pid_start = start;
    container.creator = None;
    container.save(opts.root).map_err(|e| RtError(format!("cannot write the state: {e}")))?;
    if let Some(pid_file) = opts.pid_file {
        super::write_pid_file(pid_file, pid)?;
    }
    undo.forget();
    Ok(container)
}

/// Remove what a failed create made.
struct Undo {
    dir: Option<PathBuf>,
    cgroup: Option<Cgroup>,
    pid: Option<i32>,
}

impl Undo {
    fn forget(&mut self) {
        self.dir = None;
        self.cgroup = None;
        self.pid = None;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            process::kill_stranded(pid);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.remove(&Linux);
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn now() -> String {
    super::state::now_rfc3339()
}

/// Fork the init (through an intermediate child when a pid namespace is new, as in
/// the lessons), wait until it is ready and waiting for `start`.
#[allow(clippy::too_many_arguments)]
fn spawn_init(
    k: &dyn Kernel,
    spec: &Spec,
    rootfs: &Path,
    bundle: &Path,
    dir: &Path,
    cgroup: &Cgroup,
    new: &[Namespace],
    join: &[(Namespace, PathBuf)],
    runtime_hooks: &[hooks::Hook],
    opts: &CreateOptions,
) -> Rt<(i32, u64)> {
    let (host_end, child_end) = channel::pair()?;
    let (forked, placed) = fork_child(k, cgroup)?;
    match forked {
        None => {
            drop(host_end);
            trace::forward_to::<ToHost>(child_end.as_raw_fd());
            let console =
                match (spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false), opts.console_socket) {
                    (true, Some(path)) => match std::os::unix::net::UnixStream::connect(path) {
                        Ok(stream) => Some(std::os::fd::IntoRawFd::into_raw_fd(stream)),
                        Err(e) => {
                            let _ = channel::send_to(
                                &child_end,
                                &ToHost::Failed(format!(
                                    "cannot connect to the console socket {}: {e}",
                                    path.display()
                                )),
                            );
                            std::process::exit(1)
                        }
                    },
                    _ => None,
                };
            let place = Place {
                id: opts.id,
                bundle,
                spec,
                rootfs,
                dir,
                cgroup,
                new,
                join,
                new_keyring: opts.new_keyring,
                preserve_fds: opts.preserve_fds,
            };
            let code = match child(k, &place, &child_end, opts.foreground, console) {
                Ok(never) => match never {},
                Err(e) => {
                    let _ = channel::send_to(&child_end, &ToHost::Failed(e.to_string()));
                    1
                }
            };
            std::process::exit(code)
        }
        Some(outer) => {
            drop(child_end);
            // Unless clone3 put it there, we move the child into its cgroups (as
            // runc's parent does) while it creates its namespaces and the init mounts
            // its root filesystem. The first move of a while into any cgroup waits
            // for an RCU grace period — the kernel's one cgroup_threadgroup_rwsem is
            // a per-CPU rwsem, nearly free for its readers (every fork) and slow for
            // its writer: 7 to 28 ms on the test VMs, the largest single cost of a
            // container start (runc pays it too). The init is moved as well once we
            // know its pid (cheap then), and waits for `CgroupJoined` before it
            // unshares its cgroup namespace; it cannot run the container's program
            // before: `create` returns after.
            if !placed {
                if let Err(e) = cgroup.add(k, outer) {
                    drop(host_end);
                    let _ = process::wait_exit_code(outer);
                    return Err(e.into());
                }
                timing::mark("child moved into its cgroups");
            }
            let mut init = outer;
            let (mut ready, mut known) = (false, false);
            // A failing createRuntime hook is the precise reason; a broken socket is not.
            let mut hook_failed: Option<String> = None;
            let outcome = (|| -> Rt<()> {
                loop {
                    if ready && known {
                        return Ok(());
                    }
                    match channel::receive::<ToHost>(&host_end)? {
                        Some(ToHost::Trace(e)) => trace::absorb(e),
                        Some(ToHost::NeedIdMap) => {
                            write_id_maps(k, spec, outer)?;
                            channel::send_to(&host_end, &ToChild::IdMapWritten)?;
                        }
                        Some(ToHost::InitPid(pid)) => {
                            init = pid;
                            known = true;
                            // Forked before its parent was moved, the init may still be in
                            // our cgroups: move it too (the lock is warm now).
                            if init != outer && !placed {
                                cgroup.add(k, init)?;
                            }
                            timing::mark("init moved into its cgroups");
                            channel::send_to(&host_end, &ToChild::CgroupJoined)?;
                        }
                        Some(ToHost::RunRuntimeHooks) => {
                            let state = hook_state(opts.id, "creating", init, bundle, spec);
                            let result = hooks::run_all(runtime_hooks, &state);
                            channel::send_to(&host_end, &ToChild::RuntimeHooksRan { ok: result.is_ok() })?;
                            if let Err(e) = result {
                                hook_failed = Some(e.clone());
                                return Err(RtError(e));
                            }
                        }
                        Some(ToHost::Ready) => ready = true,
                        Some(ToHost::Failed(why)) => return Err(RtError(why)),
                        None => return Err(RtError("the container's init exited before it was ready".into())),
                    }
                }
            })()
            // The init may die while we talk to it (EPIPE, ECONNRESET): the sentence
            // it sent before dying says why, and is worth more than the socket's error.
            .map_err(|e| match hook_failed.take() {
                Some(hook) => RtError(hook),
                None => drain_failure(&host_end).unwrap_or(e),
            });
            if outer != init || outcome.is_err() {
                let _ = process::wait_exit_code(outer);
            }
            if outcome.is_err() && init != outer {
                process::kill_stranded(init);
            }
            outcome?;
            let start = process::start_time(init).ok_or_else(|| RtError("the container's init is gone".into()))?;
            Ok((init, start))
        }
    }
}

/// The last `Failed` message the init sent, if one is already queued on the socket
/// (never waiting: an init that is still alive may have nothing more to say).
fn drain_failure(host_end: &OwnedFd) -> Option<RtError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut found = None;
    loop {
        let mut fds = [PollFd::new(host_end.as_fd(), PollFlags::POLLIN)];
        let readable = poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
            && fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLIN));
        if !readable {
            return found;
        }
        match channel::receive::<ToHost>(host_end) {
            Ok(Some(ToHost::Failed(why))) => found = Some(RtError(why)),
            Ok(Some(_)) => {}
            _ => return found,
        }
    }
}

/// Fork the container's first child. On cgroup v2 it is born in its cgroup (clone3
/// with CLONE_INTO_CGROUP, Linux 5.7+): no process is ever moved, so nothing waits for
/// the kernel's grace period (see `spawn_init`), as crun does it. Elsewhere — v1,
/// hybrid, an older kernel — a plain fork, and the caller moves the child. Returns
/// fork's answer and whether the child is already in place.
fn fork_child(k: &dyn Kernel, cgroup: &Cgroup) -> Rt<(Option<i32>, bool)> {
    if cgroup.mode() == crate::primitives::cgroups::Mode::Unified {
        if let Some(dir) = cgroup.dirs().first() {
            let fd = k.open(&dir.display().to_string())?;
            let forked = k.fork_into_cgroup(fd);
            match forked {
                Ok(None) => {
                    // In the child, which must never return an error into the
                    // parent's code: it does not need its cgroup's directory open.
                    let _ = k.close(fd);
                    return Ok((None, true));
                }
                Ok(Some(pid)) => {
                    k.close(fd)?;
                    return Ok((Some(pid), true));
                }
                // Older kernels: no clone3, or no CLONE_INTO_CGROUP.
                Err(e) if matches!(e.errno(), Some(Errno::ENOSYS | Errno::E2BIG | Errno::EINVAL)) => {
                    k.close(fd)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok((k.fork()?, false))
}

/// With a user namespace: the host uid and gid of root inside.
fn root_ids_on_host(spec: &Spec) -> Option<(u32, u32)> {
    let linux = spec.linux().as_ref()?;
    linux.namespaces().as_ref()?.iter().find(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none())?;
    let host = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.as_deref().unwrap_or(&[]).iter().find(|m| m.container_id() == 0).map(|m| m.host_id())
    };
    Some((host(linux.uid_mappings())?, host(linux.gid_mappings())?))
}

pub(super) fn hook_state(id: &str, status: &str, pid: i32, bundle: &Path, spec: &Spec) -> String {
    let annotations = spec.annotations().clone().unwrap_or_default();
    serde_json::json!({"ociVersion": "1.0.2", "id": id, "status": status, "pid": pid, "bundle": bundle, "annotations": annotations}).to_string()
}

fn write_id_maps(k: &dyn Kernel, spec: &Spec, pid: i32) -> Rt<()> {
    let linux = spec.linux().clone().unwrap_or_default();
    let lines = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> String {
        maps.as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect()
    };
    let (uid, gid) = (lines(linux.uid_mappings()), lines(linux.gid_mappings()));
    if uid.is_empty() {
        return Err(RtError("a user namespace needs linux.uidMappings and linux.gidMappings".into()));
    }
    k.write_file(&format!("/proc/{pid}/uid_map"), &uid)?;
    k.write_file(&format!("/proc/{pid}/gid_map"), &gid)?;
    Ok(())
}

/// What the child needs to know of the container it makes.
struct Place<'a> {
    id: &'a str,
    bundle: &'a Path,
    spec: &'a Spec,
    rootfs: &'a Path,
    dir: &'a Path,
    cgroup: &'a Cgroup,
    new: &'a [Namespace],
    join: &'a [(Namespace, PathBuf)],
    new_keyring: bool,
    preserve_fds: i32,
}

/// The child: namespaces, (fork for a pid namespace), then the init. The runtime
/// moves it into its cgroups meanwhile (see `spawn_init`).
fn child(
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
        k.invoke(Call::Setsid)?;
    }
    // The FIFO, held as an O_PATH handle while we are still the host's root: after
    // pivot_root the init reopens it for writing through /proc/self/fd (as runc does).
    // A handle on a FIFO, unlike one on the state directory, can never serve as a
    // working directory (CVE-2024-21626).
    let fifo = k.invoke(Call::OpenPath { path: dir.join(EXEC_FIFO).display().to_string() })? as i32;

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
    // The init.
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
    let context = init::Context {
        spec,
        rootfs,
        cgroup,
        new_cgroup_ns,
        enter_cgroup: &enter_cgroup,
        runtime_hooks: &ask_hooks,
        hook_state: hook_state(id, "creating", 1, bundle, spec),
    };
    timing::mark("namespaces created");
    // Without a mount namespace the init enters its root with chroot, and no /proc is
    // mounted there: it keeps a handle on its own /proc/self/fd (opened here, in the
    // init itself) to reopen the FIFO; closed before the container's program runs.
    let fds_dir = if crate::runtime::spec::has_namespace(spec, LinuxNamespaceType::Mount) {
        None
    } else {
        Some(k.invoke(Call::OpenPath { path: "/proc/self/fd".into() })? as i32)
    };
    // A new session keyring, named after the container, as runc joins one first thing.
    if opts_keyring {
        k.invoke(Call::JoinSessionKeyring { name: id.to_string() })?;
    }
    init::prepare(k, &context)?;
    // The terminal now, from the container's devpts: whoever gave --console-socket has
    // the master side before `create` returns, as with runc.
    if let Some(socket) = console {
        crate::primitives::console::attach(k, socket)?;
    }
    // User, capabilities, cwd: the created container already runs with them.
    let pending = init::drop_privileges(k, spec, preserve_fds)?;
    // No process at all: `create` may still succeed; `start` is what fails (the spec).
    let program = match spec.process() {
        Some(_) => Some(init::program_of(spec, None)?),
        None => None,
    };
    timing::mark("init prepared (mounts, pivot_root, ...)");
    channel::send_to(sock, &ToHost::Ready)?;
    // Wait for `start`: the open blocks until it opens the FIFO for reading.
    let writer = match fds_dir {
        Some(dirfd) => k.invoke(Call::OpenWriteAt { dirfd, name: fifo.to_string() })? as i32,
        None => k.invoke(Call::OpenWrite { path: format!("/proc/self/fd/{fifo}") })? as i32,
    };
    if let Some(dirfd) = fds_dir {
        k.close(dirfd)?;
    }
    k.invoke(Call::Write { fd: writer, data: b"0".to_vec() })?;
    k.close(writer)?;
    k.close(fifo)?;
    let hooks = spec.hooks().clone().unwrap_or_default();
    let start_hooks = hooks::from_spec(hooks.start_container()).map_err(Error::Child)?;
    hooks::run_all(&start_hooks, &hook_state(id, "created", 1, bundle, spec)).map_err(Error::Child)?;
    match program {
        Some(program) => Err(init::exec_program(k, pending, program)),
        None => Err(Error::Child("config.json has no process to start".into())),
    }
}
