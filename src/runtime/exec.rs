//! `learnctr exec`: a new process in a running container, as runc's `exec`, which is
//! how `docker exec`, `podman exec` and containerd's shim reach it:
//! `exec --process FILE --detach --pid-file P [--console-socket S] ID`.

use super::init_protocol::ToHost;
use super::state::Container;
use super::{init, load, spec, write_pid_file, Rt, RtError};
use crate::primitives::channel;
use crate::primitives::namespaces::Namespace;
use crate::primitives::{process, Kernel};
use oci_spec::runtime::{Capability, Process, Spec};
use std::collections::HashSet;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

/// runc's `exec` flags. Without `process_file`, the process is the container's own
/// `process` from config.json with `command` and the flags on top (runc's rule).
#[derive(Default)]
pub struct ExecOptions {
    /// `--process FILE`: a whole OCI `process` object (what engines write).
    pub process_file: Option<PathBuf>,
    pub command: Vec<String>,
    pub tty: bool,
    pub cwd: Option<PathBuf>,
    /// `KEY=VALUE`, replacing the same key of config.json's environment.
    pub env: Vec<String>,
    pub user: Option<(u32, Option<u32>)>,
    pub additional_gids: Vec<u32>,
    /// Capabilities added to the bounding, effective and permitted sets.
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub apparmor: Option<String>,
    /// Return once the process runs (its parent becomes the caller's subreaper).
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: i32,
    pub ignore_paused: bool,
}

/// Enter the container's namespaces (as nsenter does: open every `/proc/PID/ns/*`
/// first, then `setns` each, the user namespace first and the mount namespace last),
/// join its cgroup, fork once more for the pid namespace, apply the process settings,
/// and run the program. Returns its exit code, or 0 at once with `detach`.
pub fn exec(k: &dyn Kernel, root: &std::path::Path, id: &str, o: &ExecOptions) -> Rt<i32> {
    let c = load(root, id)?;
    match c.status(root) {
        "running" => {}
        "paused" if o.ignore_paused => {}
        "paused" => return Err(RtError(format!("container {id} is paused: resume it first, or use --ignore-paused"))),
        _ => return Err(RtError(format!("cannot exec in container {id}: container not running"))),
    }
    let (mut spec, _) = spec::load(&c.bundle)?;
    let process = process_of(&spec, o)?;
    let terminal = process.terminal().unwrap_or(false);
    if terminal && o.console_socket.is_none() && o.detach {
        return Err(RtError("a detached exec with a terminal needs --console-socket".into()));
    }
    if let Some(profile) = process.apparmor_profile().as_ref().filter(|_| !spec::apparmor_enabled()) {
        super::log::warn(&format!("AppArmor is not enabled on this host: the profile {profile} is not applied"));
    }
    spec.set_process(Some(process));
    // The terminal's socket is a host path: connected now, before any namespace is
    // entered. Without one, the process shares learnctr's own terminal.
    let console = match (terminal, &o.console_socket) {
        (true, Some(path)) => Some(
            std::os::unix::net::UnixStream::connect(path)
                .map_err(|e| RtError(format!("cannot connect to the console socket {}: {e}", path.display())))?,
        ),
        _ => None,
    };
    // The namespaces that differ from ours (setns into our own would be pointless).
    let kinds: Vec<Namespace> =
        Namespace::ALL.into_iter().filter(|ns| ns.link(Some(c.pid)).ok() != ns.link(None).ok()).collect();
    let (host_end, child_end) = channel::pair()?;
    match k.fork()? {
        Some(child) => {
            drop(child_end);
            drop(console);
            let pid = wait_until_running(&host_end, child)?;
            if let Some(path) = &o.pid_file {
                write_pid_file(path, pid)?;
            }
            if o.detach {
                // The intermediate child exits at once (with a pid namespace); the
                // process itself is left to the caller's subreaper.
                if pid != child {
                    let _ = process::wait_exit_code(child);
                }
                return Ok(0);
            }
            Ok(process::wait_exit_code(child).map_err(|e| RtError(e.to_string()))?)
        }
        None => {
            drop(host_end);
            let console = console.map(std::os::fd::IntoRawFd::into_raw_fd);
            if let Err(e) = exec_child(k, &c, &spec, &kinds, &child_end, console, o) {
                let _ = channel::send_to(&child_end, &ToHost::Failed(e.to_string()));
            }
            std::process::exit(127)
        }
    }
}

/// The process's pid (as the host sees it) comes first; then either a failure, or
/// the end of the socket, which is close-on-exec: the program runs.
fn wait_until_running(host_end: &OwnedFd, child: i32) -> Rt<i32> {
    let mut pid = None;
    loop {
        match channel::receive::<ToHost>(host_end) {
            Ok(Some(ToHost::InitPid(p))) => pid = Some(p),
            Ok(Some(ToHost::Failed(why))) => {
                let _ = process::wait_exit_code(child);
                return Err(RtError(why));
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    pid.ok_or_else(|| {
        let _ = process::wait_exit_code(child);
        RtError("the exec'd process died before it started".into())
    })
}

fn exec_child(
    k: &dyn Kernel,
    c: &Container,
    spec: &Spec,
    kinds: &[Namespace],
    sock: &OwnedFd,
    console: Option<RawFd>,
    o: &ExecOptions,
) -> crate::primitives::Result<()> {
    // Not dumpable, and (see sealed.rs) running from a read-only copy of learnctr: a
    // process of the container can neither read our memory nor write our binary.
    k.set_dumpable(false)?;
    for dir in &c.cgroup_dirs {
        k.write_file(&dir.join("cgroup.procs").display().to_string(), &nix::unistd::getpid().to_string())?;
    }
    // nsenter's order, the same code as lesson 1's setns step.
    crate::primitives::isolate::join(k, c.pid, kinds)?;
    if kinds.contains(&Namespace::Pid) {
        // setns into a pid namespace applies to our children: one more fork.
        if let Some(grandchild) = k.fork()? {
            channel::send_to(sock, &ToHost::InitPid(grandchild))?;
            // Our copy of the socket must not keep `learnctr exec` waiting.
            k.close(sock.as_raw_fd())?;
            if o.detach {
                std::process::exit(0);
            }
            std::process::exit(process::wait_exit_code(grandchild).unwrap_or(1));
        }
    } else {
        channel::send_to(sock, &ToHost::InitPid(nix::unistd::getpid().as_raw()))?;
    }
    if let Some(socket) = console {
        crate::primitives::console::attach(k, socket)?;
    }
    super::process_limits::apply(k, spec.process().as_ref().expect("set by exec"))?;
    Err(init::finish(k, spec, None, o.preserve_fds)?)
}

/// The process to run: `--process FILE` whole, or config.json's with the flags.
fn process_of(spec: &Spec, o: &ExecOptions) -> Rt<Process> {
    if let Some(file) = &o.process_file {
        if !o.command.is_empty() {
            return Err(RtError("give either --process FILE or a command, not both".into()));
        }
        // The file is the whole process: a flag that would change it is refused rather
        // than ignored (runc ignores them).
        let given = [
            ("--cwd", o.cwd.is_some()),
            ("--env", !o.env.is_empty()),
            ("--user", o.user.is_some()),
            ("--additional-gids", !o.additional_gids.is_empty()),
            ("--cap", !o.caps.is_empty()),
            ("--no-new-privs", o.no_new_privs),
            ("--apparmor", o.apparmor.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, set)| *set) {
            return Err(RtError(format!("{flag} cannot change a --process file: write it into the file")));
        }
        let text = std::fs::read(file)
            .map_err(|e| RtError(format!("cannot read the process file {}: {e}", file.display())))?;
        let mut p: Process = serde_json::from_slice(&text)
            .map_err(|e| RtError(format!("the process file {} is not an OCI process: {e}", file.display())))?;
        if o.tty {
            p.set_terminal(Some(true));
        }
        return Ok(p);
    }
    if o.command.is_empty() {
        return Err(RtError("exec needs a command: learnctr exec ID COMMAND [ARG...], or --process FILE".into()));
    }
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(o.command.clone()));
    p.set_terminal(Some(o.tty));
    if let Some(cwd) = &o.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for pair in &o.env {
        let key = pair.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(pair.clone());
    }
    p.set_env(Some(env));
    let mut user = p.user().clone();
    if let Some((uid, gid)) = o.user {
        user.set_uid(uid);
        if let Some(gid) = gid {
            user.set_gid(gid);
        }
    }
    if !o.additional_gids.is_empty() {
        user.set_additional_gids(Some(o.additional_gids.clone()));
    }
    p.set_user(user);
    if !o.caps.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let mut added = HashSet::new();
        for name in &o.caps {
            let full = format!("CAP_{}", name.to_ascii_uppercase().trim_start_matches("CAP_"));
            let cap: Capability =
                full.parse().map_err(|_| RtError(format!("--cap {name} is not a Linux capability")))?;
            added.insert(cap);
        }
        let with =
            |set: &Option<HashSet<Capability>>| Some(set.clone().unwrap_or_default().union(&added).copied().collect());
        caps.set_bounding(with(caps.bounding()));
        caps.set_effective(with(caps.effective()));
        caps.set_permitted(with(caps.permitted()));
        // Ambient needs inheritable too: only where config.json has some (runc's rule).
        if caps.inheritable().as_ref().is_some_and(|s| !s.is_empty()) {
            caps.set_ambient(with(caps.ambient()));
        }
        p.set_capabilities(Some(caps));
    }
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(profile) = &o.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    Ok(p)
}
