//! The runtime's side of `create`'s step 4: fork the container's first child (born in
//! its cgroup on v2, moved there on v1), then answer it over the socket until the init
//! is ready and waiting for `start` — or say, in one sentence, why it is not.

use super::child::{child, Place};
use super::create::{hook_state, CreateOptions};
use super::init_protocol::{ToChild, ToHost};
use super::{hooks, timing, Rt, RtError};
use crate::primitives::cgroups::Cgroup;
use crate::primitives::channel;
use crate::primitives::namespaces::Namespace;
use crate::primitives::{process, trace, Kernel};
use nix::errno::Errno;
use oci_spec::runtime::Spec;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Fork the init (through an intermediate child when a pid namespace is new, as in
/// the lessons), wait until it is ready and waiting for `start`.
#[allow(clippy::too_many_arguments)]
pub(super) fn spawn_init(
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

/// A new user namespace's maps, written by us (root on the host) for the child.
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
