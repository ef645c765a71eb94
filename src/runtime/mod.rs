//! learnctr's OCI runtime: `create`, `start`, `state`, `kill`, `delete`, `list`,
//! `run`, `exec`, as runc names them, built from the same primitives as the lessons.
//!
//! - `spec.rs`: config.json (oci-spec), written like `runc spec`, read with precise errors;
//! - `state.rs`: `ROOT/ID/state.json` and the OCI state;
//! - `init.rs`: the container's init, in runc's order;
//! - `hooks.rs`, `seccomp_profile.rs`: hooks and `linux.seccomp`;
//! - `timing.rs`: `LEARNCTR_TIMING=1` marks, for `make bench`.
//!
//! How `create` works: learnctr forks a child and moves it into the container's
//! cgroups while the child unshares its namespaces (the move waits for the kernel; see
//! `spawn_init`); the child forks the init (PID 1 of the new pid namespace), which
//! mounts its root filesystem, unshares its cgroup namespace once it is in its
//! cgroups, pivots, and switches to the container's user and capabilities.
//!
//! How `create` and `start` meet: the init has done everything up to the user's
//! program, then opens `ROOT/ID/exec.fifo` for writing, which blocks until `start`
//! opens it for reading. `create` has exited by then; the init waits alone. `start`
//! returns once the init has become the container's program (`execve`).

pub mod hooks;
pub mod init;
pub mod seccomp_profile;
pub mod spec;
pub mod state;
pub mod timing;

use crate::primitives::cgroups::{Cgroup, Hierarchy, Limit};
use crate::primitives::channel::{self, ToChild, ToHost};
use crate::primitives::kernel::Call;
use crate::primitives::namespaces::{flags_of, Namespace};
use crate::primitives::{process, trace, Error, Kernel, Linux};
use nix::errno::Errno;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use state::{Container, EXEC_FIFO};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A runtime error: one sentence for the learner (or for a container engine).
#[derive(Debug)]
pub struct RtError(pub String);

impl std::fmt::Display for RtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Error> for RtError {
    fn from(e: Error) -> RtError {
        RtError(e.to_string())
    }
}

impl From<spec::SpecError> for RtError {
    fn from(e: spec::SpecError) -> RtError {
        RtError(e.to_string())
    }
}

impl From<std::io::Error> for RtError {
    fn from(e: std::io::Error) -> RtError {
        RtError(e.to_string())
    }
}

pub type Rt<T> = std::result::Result<T, RtError>;

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

/// The namespaces to make, and those to join (type and path).
/// Namespaces to join: the kind and the path of its file.
type Joins = Vec<(Namespace, PathBuf)>;

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

/// The cgroup of a container: `linux.cgroupsPath`, else `learnctr/ID`.
fn cgroup_of(spec: &Spec, id: &str) -> Cgroup {
    let hierarchy = Hierarchy::system();
    let usable = hierarchy.usable_controllers();
    let wanted: Vec<&'static str> = ["memory", "cpu", "pids", "cpuset", "devices", "freezer"]
        .into_iter()
        .filter(|c| usable.iter().any(|u| u == c))
        .collect();
    match spec.linux().as_ref().and_then(|l| l.cgroups_path().clone()) {
        Some(path) => Cgroup::at_path(hierarchy, &path.display().to_string(), &wanted),
        None => Cgroup::new(hierarchy, id, &wanted),
    }
}

/// The limits of `linux.resources` that learnctr applies.
fn limits(spec: &Spec) -> Vec<Limit> {
    let mut out = Vec::new();
    let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().clone()) else { return out };
    if let Some(limit) = r.memory().as_ref().and_then(|m| m.limit()) {
        if limit > 0 {
            out.push(Limit::Memory(limit as u64));
        }
    }
    if let Some(cpu) = r.cpu() {
        if let Some(shares) = cpu.shares() {
            out.push(Limit::CpuShares(shares));
        }
        if let Some(cpus) = cpu.cpus().clone().filter(|c| !c.is_empty()) {
            out.push(Limit::Cpus(cpus));
        }
        if let Some(mems) = cpu.mems().clone().filter(|m| !m.is_empty()) {
            out.push(Limit::Mems(mems));
        }
        if let (Some(quota), period) = (cpu.quota(), cpu.period()) {
            if quota > 0 {
                out.push(Limit::CpuQuota { quota: quota as u64, period: period.unwrap_or(100_000) });
            }
        }
    }
    if let Some(pids) = r.pids() {
        out.push(Limit::Pids(pids.limit()));
    }
    // Device rules in the order given, then the devices every container needs (as runc
    // allows them after the bundle's rules): null, zero, full, random, urandom, tty,
    // ptmx and the pseudo-terminals.
    if let Some(rules) = r.devices() {
        for d in rules {
            let kind = d.typ().map(|t| t.as_str().to_string()).unwrap_or_else(|| "a".into());
            let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_else(|| "*".into());
            let access = d.access().clone().unwrap_or_else(|| "rwm".into());
            out.push(Limit::Device {
                allow: d.allow(),
                rule: format!("{kind} {}:{} {access}", num(d.major()), num(d.minor())),
            });
        }
        for rule in [
            "c 1:3 rwm",
            "c 1:5 rwm",
            "c 1:7 rwm",
            "c 1:8 rwm",
            "c 1:9 rwm",
            "c 5:0 rwm",
            "c 5:1 rwm",
            "c 5:2 rwm",
            "c 136:* rwm",
        ] {
            out.push(Limit::Device { allow: true, rule: rule.to_string() });
        }
        // The devices config.json asks to create (linux.devices) are allowed too.
        for d in spec.linux().as_ref().and_then(|l| l.devices().clone()).unwrap_or_default() {
            let kind = if format!("{:?}", d.typ()) == "B" { "b" } else { "c" };
            out.push(Limit::Device { allow: true, rule: format!("{kind} {}:{} rwm", d.major(), d.minor()) });
        }
    }
    out
}

/// `learnctr create`: everything up to the user's program; the init then waits for
/// `start`. Returns the init's pid.
pub fn create(k: &dyn Kernel, opts: &CreateOptions) -> Rt<Container> {
    if !state::valid_id(opts.id) {
        return Err(RtError(format!("'{}' is not a valid container id: use letters, digits, _ + - .", opts.id)));
    }
    let bundle = std::fs::canonicalize(opts.bundle)
        .map_err(|_| RtError(format!("the bundle {} does not exist", opts.bundle.display())))?;
    let (spec, rootfs) = spec::load(&bundle)?;
    timing::mark("config.json read");
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false);
    if terminal && !opts.foreground && opts.console_socket.is_none() {
        return Err(RtError("process.terminal is true: give --console-socket, or set \"terminal\": false".into()));
    }
    let dir = Container::dir(opts.root, opts.id);
    std::fs::create_dir_all(opts.root).map_err(|e| RtError(format!("cannot create {}: {e}", opts.root.display())))?;
    if std::fs::create_dir(&dir).is_err() {
        return Err(RtError(format!("a container with id {} already exists", opts.id)));
    }
    // From here, any failure removes what was made (the guard).
    let mut undo = Undo { dir: Some(dir.clone()), cgroup: None, pid: None };
    // Searchable by the container's user (to reach exec.fifo), listable by root only.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))
        .map_err(|e| RtError(format!("cannot set the mode of {}: {e}", dir.display())))?;
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
    let cgroup = cgroup_of(&spec, opts.id);
    cgroup.create(k)?;
    undo.cgroup = Some(cgroup.clone());
    for limit in limits(&spec) {
        cgroup.set(k, &limit)?;
    }
    timing::mark("cgroups created, limits written");
    if opts.foreground {
        // SAFETY: prctl(2) with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }
    let (pid, start) = spawn_init(k, &spec, &rootfs, &bundle, &dir, &cgroup, opts)?;
    timing::mark("init ready, waiting for start");
    undo.pid = Some(pid);
    let hooks = spec.hooks().clone().unwrap_or_default();
    let container = Container {
        id: opts.id.to_string(),
        bundle: bundle.clone(),
        rootfs,
        pid,
        pid_start: start,
        created: now(),
        cgroup_dirs: cgroup.dirs(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        prestart: hooks::from_spec(hooks.prestart()),
        poststart: hooks::from_spec(hooks.poststart()),
        poststop: hooks::from_spec(hooks.poststop()),
    };
    container.save(opts.root).map_err(|e| RtError(format!("cannot write the state: {e}")))?;
    if let Some(pid_file) = opts.pid_file {
        let tmp = pid_file.with_extension("tmp");
        std::fs::write(&tmp, pid.to_string())
            .and_then(|_| std::fs::rename(&tmp, pid_file))
            .map_err(|e| RtError(format!("cannot write {}: {e}", pid_file.display())))?;
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
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    secs.to_string()
}

/// Fork the init (through an intermediate child when a pid namespace is new, as in
/// the lessons), wait until it is ready and waiting for `start`.
fn spawn_init(
    k: &dyn Kernel,
    spec: &Spec,
    rootfs: &Path,
    bundle: &Path,
    dir: &Path,
    cgroup: &Cgroup,
    opts: &CreateOptions,
) -> Rt<(i32, u64)> {
    let (new, join) = namespaces(spec)?;
    let (host_end, child_end) = channel::pair()?;
    let hooks = spec.hooks().clone().unwrap_or_default();
    // prestart hooks run at `start` (runtime spec 1.0.2: "after the start operation is
    // called but before the user-specified program is executed"); createRuntime here.
    let runtime_hooks: Vec<hooks::Hook> = hooks::from_spec(hooks.create_runtime());
    let (forked, placed) = fork_child(k, cgroup)?;
    match forked {
        None => {
            drop(host_end);
            trace::forward_to(child_end.as_raw_fd());
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
            let code = match child(k, spec, rootfs, dir, &new, &join, &child_end, opts.foreground, console) {
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
            let outcome = loop {
                if ready && known {
                    break Ok(());
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
                        let state = hook_state(opts.id, "created", init, bundle, spec);
                        let result = hooks::run_all(&runtime_hooks, &state);
                        channel::send_to(&host_end, &ToChild::RuntimeHooksRan { ok: result.is_ok() })?;
                        if let Err(e) = result {
                            break Err(RtError(e));
                        }
                    }
                    Some(ToHost::Ready) => ready = true,
                    Some(ToHost::Failed(why)) => break Err(RtError(why)),
                    Some(ToHost::Answer(_)) => break Err(RtError("the container's init sent an answer".into())),
                    None => break Err(RtError("the container's init exited before it was ready".into())),
                }
            };
            if outer != init || outcome.is_err() {
                let _ = process::wait_exit_code(outer);
            }
            outcome?;
            let start = process::start_time(init).ok_or_else(|| RtError("the container's init is gone".into()))?;
            Ok((init, start))
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

fn hook_state(id: &str, status: &str, pid: i32, bundle: &Path, spec: &Spec) -> String {
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

/// The child: namespaces, (fork for a pid namespace), then the init. The runtime
/// moves it into its cgroups meanwhile (see `spawn_init`).
#[allow(clippy::too_many_arguments)]
fn child(
    k: &dyn Kernel,
    spec: &Spec,
    rootfs: &Path,
    dir: &Path,
    new: &[Namespace],
    join: &[(Namespace, PathBuf)],
    sock: &OwnedFd,
    foreground: bool,
    console: Option<std::os::fd::RawFd>,
) -> crate::primitives::Result<std::convert::Infallible> {
    crate::primitives::signals::reset_to_default();
    if !foreground {
        // The container outlives `learnctr create`: its own session, no terminal.
        k.invoke(Call::Setsid)?;
    }
    // The state directory, opened while we are still the host's root: the FIFO is
    // reached through this fd after pivot_root (and from inside a user namespace).
    let state_dirfd = k.open(&dir.display().to_string())?;
    // Open every namespace to join before entering any (paths are the host's).
    let mut to_join = Vec::new();
    for (ns, path) in join {
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
        enter_cgroup: &enter_cgroup,
        runtime_hooks: &ask_hooks,
        hook_state: hook_state("", "created", 1, dir, spec),
    };
    timing::mark("namespaces created");
    init::prepare(k, &context)?;
    // The terminal now, from the container's devpts: whoever gave --console-socket has
    // the master side before `create` returns, as with runc.
    if let Some(socket) = console {
        crate::primitives::console::attach(k, socket)?;
    }
    // User, capabilities, cwd: the created container already runs with them.
    let pending = init::drop_privileges(k, spec)?;
    timing::mark("init prepared (mounts, pivot_root, ...)");
    channel::send_to(sock, &ToHost::Ready)?;
    // Wait for `start`: the open blocks until it opens the FIFO for reading.
    let fifo = k.invoke(Call::OpenAtWrite { dirfd: state_dirfd, name: EXEC_FIFO.into() })? as i32;
    // SAFETY: writing one byte to the fd we just opened.
    unsafe { libc::write(fifo, b"0".as_ptr() as *const libc::c_void, 1) };
    k.close(fifo)?;
    k.close(state_dirfd)?;
    let hooks = spec.hooks().clone().unwrap_or_default();
    hooks::run_all(&hooks::from_spec(hooks.start_container()), &context.hook_state).map_err(Error::Child)?;
    Err(init::exec_program(k, spec, pending, None)?)
}

/// `learnctr start`: release the init waiting on the FIFO, then the poststart hooks.
pub fn start(root: &Path, id: &str) -> Rt<()> {
    let c = Container::load(root, id).ok_or_else(|| RtError(format!("there is no container {id}")))?;
    match c.status(root) {
        "created" => {}
        other => {
            return Err(RtError(format!(
                "container {id} is {other}, not created: only a created container can be started"
            )))
        }
    }
    if !c.prestart.is_empty() {
        let state = serde_json::to_string(&c.oci("created")).unwrap_or_default();
        if let Err(why) = hooks::run_all(&c.prestart, &state) {
            // A failed prestart hook stops and destroys the container, then the
            // lifecycle goes on as after a delete (runtime spec, "lifecycle").
            let _ = delete(&Linux, root, id, true);
            return Err(RtError(why));
        }
    }
    let fifo = Container::dir(root, id).join(EXEC_FIFO);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .map_err(|e| RtError(format!("cannot open {}: {e}", fifo.display())))?;
    // The init opens the other end and writes one byte: wait for it (or for its death).
    wait_for_byte(&file, &c).map_err(|why| RtError(format!("container {id} {why}")))?;
    timing::mark("started");
    let _ = std::fs::remove_file(&fifo);
    // `start` returns once the container's program runs (a signal sent right after
    // reaches the program, not our init), and poststart hooks run then.
    wait_for_exec(c.pid);
    let state = serde_json::to_string(&c.oci("running")).unwrap_or_default();
    hooks::run_all_warning(&c.poststart, &state);
    Ok(())
}

use std::os::unix::fs::OpenOptionsExt;

/// Wait (at most about 200 ms) until a started init has replaced itself with the container's
/// program, i.e. its /proc/PID/exe is no longer learnctr.
pub fn wait_for_exec(pid: i32) {
    let ours = std::fs::read_link("/proc/self/exe").ok();
    for _ in 0..2000 {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        if exe.is_none() || exe != ours {
            return;
        }
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
}

/// Read the init's one byte from the FIFO. poll(2) wakes us the moment it is written;
/// every 20 ms we look whether the init died instead (it would never write).
fn wait_for_byte(file: &std::fs::File, c: &Container) -> Result<(), &'static str> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::io::Read;
    use std::os::fd::AsFd;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut byte = [0u8; 1];
    loop {
        if let Ok(1) = (&*file).read(&mut byte) {
            return Ok(());
        }
        if !state::alive(c.pid, c.pid_start) {
            return Err("died before it started");
        }
        if std::time::Instant::now() > deadline {
            return Err("did not start in time");
        }
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(20u8));
    }
}

/// `learnctr state`: the OCI state as JSON.
pub fn state_json(root: &Path, id: &str) -> Rt<String> {
    let c = Container::load(root, id).ok_or_else(|| RtError(format!("there is no container {id}")))?;
    let status = c.status(root);
    serde_json::to_string_pretty(&c.oci(status)).map_err(|e| RtError(e.to_string()))
}

/// A signal by name (`KILL`, `SIGKILL`) or number.
pub fn parse_signal(text: &str) -> Option<i32> {
    if let Ok(n) = text.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let name = text.to_ascii_uppercase();
    let name = if name.starts_with("SIG") { name } else { format!("SIG{name}") };
    name.parse::<nix::sys::signal::Signal>().ok().map(|s| s as i32)
}

/// `learnctr kill ID [SIGNAL]`.
pub fn kill(k: &dyn Kernel, root: &Path, id: &str, signal: &str) -> Rt<()> {
    let c = Container::load(root, id).ok_or_else(|| RtError(format!("there is no container {id}")))?;
    let sig = parse_signal(signal)
        .ok_or_else(|| RtError(format!("unknown signal {signal}: use a name such as TERM or KILL, or a number")))?;
    if c.status(root) == "stopped" {
        return Err(RtError(format!("container {id} is not running")));
    }
    k.kill(c.pid, sig)?;
    Ok(())
}

/// `learnctr delete [--force] ID`.
pub fn delete(k: &dyn Kernel, root: &Path, id: &str, force: bool) -> Rt<()> {
    let c = Container::load(root, id).ok_or_else(|| RtError(format!("there is no container {id}")))?;
    match c.status(root) {
        "stopped" => {}
        status if force => {
            let _ = k.kill(c.pid, libc::SIGKILL);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while state::alive(c.pid, c.pid_start) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let _ = status;
        }
        status => return Err(RtError(format!("container {id} is {status}: stop it first, or use delete --force"))),
    }
    for dir in &c.cgroup_dirs {
        let _ = crate::primitives::cgroups::layout::remove(dir);
    }
    std::fs::remove_dir_all(Container::dir(root, id))
        .map_err(|e| RtError(format!("cannot remove the state of {id}: {e}")))?;
    let state = serde_json::to_string(&c.oci("stopped")).unwrap_or_default();
    hooks::run_all_warning(&c.poststop, &state);
    if std::fs::read_dir(root).map(|mut d| d.next().is_none()).unwrap_or(false) {
        let _ = std::fs::remove_dir(root);
    }
    Ok(())
}

/// `learnctr run`: create, start, wait, delete; the container's exit code.
pub fn run(k: &dyn Kernel, root: &Path, id: &str, bundle: &Path) -> Rt<i32> {
    let opts = CreateOptions { root, id, bundle, pid_file: None, console_socket: None, foreground: true };
    let c = create(k, &opts)?;
    let started = start(root, id);
    let code = if started.is_ok() { process::wait_exit_code(c.pid).unwrap_or(1) } else { 1 };
    let _ = process::wait_exit_code(c.pid);
    timing::mark("container exited");
    delete(k, root, id, true)?;
    timing::mark("deleted");
    started.map(|_| code)
}

/// `learnctr exec ID CMD...`: enter the container's namespaces (as nsenter does:
/// open every `/proc/PID/ns/*` first, then `setns` each, the user namespace first and
/// the mount namespace last), join its cgroup, fork once more for the pid namespace,
/// apply the container's process settings, and run the command. Returns its exit code.
pub fn exec(k: &dyn Kernel, root: &Path, id: &str, argv: &[String]) -> Rt<i32> {
    let c = Container::load(root, id).ok_or_else(|| RtError(format!("there is no container {id}")))?;
    if c.status(root) != "running" {
        return Err(RtError(format!("container {id} is not running")));
    }
    if argv.is_empty() {
        return Err(RtError("exec needs a command: learnctr exec ID COMMAND [ARG...]".into()));
    }
    let (spec, _) = spec::load(&c.bundle)?;
    // The namespaces that differ from ours (setns into our own would be pointless).
    let kinds: Vec<Namespace> =
        Namespace::ALL.into_iter().filter(|ns| ns.link(Some(c.pid)).ok() != ns.link(None).ok()).collect();
    match k.fork()? {
        Some(child) => Ok(process::wait_exit_code(child).map_err(|e| RtError(e.to_string()))?),
        None => {
            let outcome = exec_child(k, &c, &spec, &kinds, argv);
            if let Err(e) = outcome {
                eprintln!("learnctr: exec: {e}");
            }
            std::process::exit(127)
        }
    }
}

fn exec_child(
    k: &dyn Kernel,
    c: &Container,
    spec: &Spec,
    kinds: &[Namespace],
    argv: &[String],
) -> crate::primitives::Result<()> {
    // SAFETY: prctl(2) with integer arguments only (see init.rs on CVE-2019-5736).
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    for dir in &c.cgroup_dirs {
        k.write_file(&dir.join("cgroup.procs").display().to_string(), &nix::unistd::getpid().to_string())?;
    }
    // nsenter's order, the same code as lesson 1's setns step.
    crate::primitives::isolate::join(k, c.pid, kinds)?;
    if kinds.contains(&Namespace::Pid) {
        if let Some(grandchild) = k.fork()? {
            std::process::exit(process::wait_exit_code(grandchild).unwrap_or(1));
        }
    }
    Err(init::finish(k, spec, Some(argv))?)
}

/// `learnctr list`.
pub fn list(root: &Path) -> Vec<(Container, &'static str)> {
    state::list(root)
        .into_iter()
        .map(|c| {
            let status = c.status(root);
            (c, status)
        })
        .collect()
}
