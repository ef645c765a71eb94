//! The container's init: what runs in the new namespaces, from `config.json` to the
//! `execve` of the container's process. [`run`] below is the whole of it, one line per
//! step; the order is runc's (and youki's), and each step names what it guards
//! against:
//!
//! 1. not dumpable (CVE-2019-5736, below);
//! 2. mount propagation of `/` made a slave (runc's default; `rootfsPropagation`'s choice
//!    after pivot_root) before any mount — otherwise mounts leak to the host (lesson 3);
//! 3. the rootfs bound onto itself, then every `mounts` entry inside it; the init enters
//!    its cgroups (and a new cgroup namespace) before the first cgroup mount, or after
//!    the mounts (`mounts.rs`);
//! 4. `/dev`: default devices and `linux.devices`, the standard symlinks (lesson 4;
//!    `devices.rs`);
//! 5. createRuntime hooks (run by the runtime), createContainer hooks (here); prestart
//!    hooks run later, at `start` (`hooks.rs`);
//! 6. `pivot_root`, old root detached — no path back to the host (lesson 3); without
//!    a mount namespace, `chroot` (the host's mounts are the container's then);
//! 7. hostname, domainname and sysctls (`sysctl.rs` said which are allowed), while
//!    `/proc/sys` can still be written;
//! 8. masked and read-only paths of `/proc` and `/sys` (lesson 4); a read-only root;
//! 9. `lo` up in a new network namespace, rlimits, oom_score_adj, I/O priority
//!    (`process_limits.rs`);
//! 10. the terminal, from the container's devpts, its master sent to `--console-socket`;
//! 11. the AppArmor profile of the next execve; every fd above 2 (and the preserved
//!     ones) close-on-exec; the cwd entered as root, then `getcwd` must answer a path
//!     inside the root (CVE-2024-21626: a host directory's fd leaked into the init, used
//!     as cwd through `/proc/self/fd/N`, gave the container the host's files);
//!     no_new_privs; seccomp now only without it (it needs CAP_SYS_ADMIN then);
//! 12. capabilities, bounding set first, around the switch to the configured user
//!     (PR_SET_KEEPCAPS keeps them across setuid) (lesson 6); umask; the cwd entered
//!     as that user if root could not (`privileges.rs`);
//! 13. the program found in the container's PATH (a missing one fails `create`), then
//!     wait for `start` on `exec.fifo`, then startContainer hooks;
//! 14. seccomp last with no_new_privs, and `execve` (`program.rs`).
//!
//! Steps 11 to 14 are also those of `learnctr exec` (`finish`), without the wait.
//!
//! CVE-2019-5736 (a container overwriting the runtime's binary through /proc/PID/exe):
//! this init is not dumpable (`PR_SET_DUMPABLE` 0), which keeps a container without
//! CAP_SYS_PTRACE from opening its exe, and it runs from a read-only copy of learnctr
//! (`sealed.rs`), which keeps everyone from writing it.

use super::program::{exec_program, program_of, Pending};
use super::spec::{has_namespace, new_namespace};
use super::{devices, hooks, mounts, privileges, process_limits};
use crate::primitives::cgroups::Cgroup;
use crate::primitives::{chroot_and_pivot, console, seccomp, Error, Kernel, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::convert::Infallible;
use std::os::fd::RawFd;
use std::path::Path;

/// What the init needs besides config.json: the runtime's side of the steps it
/// cannot take alone.
pub struct Context<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    /// The container's cgroup: without a cgroup namespace, `/sys/fs/cgroup` inside is
    /// a bind of its own directories, never the host's tree.
    pub cgroup: &'a Cgroup,
    pub new_cgroup_ns: bool,
    /// Waits until the runtime has moved us into the container's cgroups, then
    /// unshares the cgroup namespace (its root is the cgroup we are in). Called before
    /// the first cgroup mount, or after all mounts: the mounts before it are made while
    /// the runtime waits for the kernel (see `spawn.rs`).
    pub enter_cgroup: &'a dyn Fn() -> Result<()>,
    /// Runs the runtime's hooks (asks the parent to, and waits).
    pub runtime_hooks: &'a dyn Fn() -> Result<()>,
    /// The container's state as hooks read it on stdin, with the status given.
    pub hook_state: &'a dyn Fn(&str) -> String,
    /// `--console-socket`, connected: where the terminal's master side goes.
    pub console: Option<RawFd>,
    /// `--preserve-fds N`: fds 3 to 3+N-1 pass into the container's process.
    pub preserve_fds: i32,
    /// Tells the runtime the init is ready, then waits until `start` opens
    /// `exec.fifo`.
    pub wait_for_start: &'a dyn Fn() -> Result<()>,
}

/// The init, step by step (the numbers are those of the list above). It returns only
/// with the error that stopped it: after the last step, the init is the container's
/// program.
pub fn run(k: &dyn Kernel, c: &Context) -> Result<Infallible> {
    let spec = c.spec;
    let own_mounts = has_namespace(spec, LinuxNamespaceType::Mount);
    let entered = std::cell::Cell::new(false);
    let enter_cgroup = || if entered.replace(true) { Ok(()) } else { (c.enter_cgroup)() };
    // 1. Not dumpable.
    k.set_dumpable(false)?;
    if own_mounts {
        // 2. No mount of ours reaches the host.
        mounts::stop_propagation(k)?;
        // 3. The rootfs and config.json's mounts (the cgroups entered on the way).
        mounts::mount_rootfs(k, c, &enter_cgroup)?;
        // 4. /dev.
        devices::make_dev(k, spec, c.rootfs)?;
    }
    // 3, end: in its cgroups now, if no cgroup mount needed them earlier.
    enter_cgroup()?;
    // 5. createRuntime and createContainer hooks.
    run_create_hooks(c)?;
    // 6. Into the root: pivot_root, or chroot without a mount namespace (the host's
    // mount table is the container's then, so nothing can be pivoted; `refuse.rs` has
    // said that config.json's mounts are not made).
    if own_mounts {
        mounts::pivot_into_rootfs(k, c)?;
    } else {
        chroot_and_pivot::chroot_into(k, &c.rootfs.to_string_lossy())?;
    }
    // 7. Hostname, domainname, sysctls.
    set_names_and_sysctls(k, spec)?;
    // 8. Masked and read-only paths, a read-only root.
    if own_mounts {
        mounts::protect_paths(k, spec)?;
    }
    // 9. Loopback, rlimits, oom_score_adj, I/O priority.
    bring_up_loopback(k, spec)?;
    process_limits::apply(k, &spec.process().clone().unwrap_or_default())?;
    // 10. The terminal.
    if let Some(socket) = c.console {
        console::attach(k, socket)?;
    }
    // 11 and 12. Fds, AppArmor, cwd, no_new_privs, seccomp; user and capabilities.
    let pending = drop_privileges(k, spec, c.preserve_fds)?;
    // 13. The program (no process at all: `create` may still succeed; `start` is what
    // fails, as the spec says), then the wait for `start`, then startContainer hooks.
    let program = spec.process().as_ref().map(|_| program_of(spec, None)).transpose()?;
    (c.wait_for_start)()?;
    run_hooks(spec.hooks().clone().unwrap_or_default().start_container(), &(c.hook_state)("created"))?;
    // 14. The last seccomp filters, and execve.
    match program {
        Some(program) => Err(exec_program(k, pending, program)),
        None => Err(Error::Child("config.json has no process to start".into())),
    }
}

/// Steps 11 to 14 at once (`learnctr exec`, which has no `start` to wait for).
pub fn finish(k: &dyn Kernel, spec: &Spec, command: Option<&[String]>, preserve_fds: i32) -> Result<Error> {
    let pending = drop_privileges(k, spec, preserve_fds)?;
    let program = program_of(spec, command)?;
    Ok(exec_program(k, pending, program))
}

/// Steps 11 and 12, before the wait for `start`, as runc does: after them, the waiting
/// init already has the container's user, capabilities and working directory.
/// `preserve_fds` fds after stdio stay open for the program (`--preserve-fds`).
fn drop_privileges(k: &dyn Kernel, spec: &Spec, preserve_fds: i32) -> Result<Pending> {
    // Without a process, `create` may still succeed; `start` is what must fail.
    let Some(process) = spec.process().clone() else { return Ok(Pending(Vec::new())) };
    let nnp = process.no_new_privileges().unwrap_or(false);
    // 11.
    privileges::set_apparmor_profile(k, &process)?;
    privileges::close_on_exec_from(k, 3 + preserve_fds.max(0) as u32);
    let profile = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().clone())
        .map(|s| super::seccomp_profile::compile(&s))
        .transpose()?
        .unwrap_or_default();
    let cwd = process.cwd().display().to_string();
    let entered = privileges::enter_cwd_as_root(k, &cwd)?;
    if nnp {
        k.no_new_privs()?;
    } else {
        for p in &profile {
            seccomp::install(k, p)?;
        }
    }
    // 12.
    privileges::switch_user_and_capabilities(k, &process)?;
    if let Some(mask) = process.user().umask() {
        k.umask(mask)?;
    }
    if !entered {
        privileges::enter_cwd(k, &cwd)?;
    }
    Ok(Pending(if nnp { profile } else { Vec::new() }))
}

/// Step 5: the runtime's createRuntime hooks (in its namespaces), then the
/// createContainer hooks, here in the container's namespaces, before pivot_root.
fn run_create_hooks(c: &Context) -> Result<()> {
    (c.runtime_hooks)()?;
    run_hooks(c.spec.hooks().clone().unwrap_or_default().create_container(), &(c.hook_state)("creating"))
}

fn run_hooks(list: &Option<Vec<oci_spec::runtime::Hook>>, state: &str) -> Result<()> {
    let hooks = hooks::from_spec(list).map_err(Error::Child)?;
    hooks::run_all(&hooks, state).map_err(Error::Child)
}

/// Step 7: hostname, domainname, sysctls, before /proc/sys becomes read-only (runc's
/// order). refuse.rs has checked that each belongs to a namespace of the container.
fn set_names_and_sysctls(k: &dyn Kernel, spec: &Spec) -> Result<()> {
    if has_namespace(spec, LinuxNamespaceType::Uts) {
        if let Some(name) = spec.hostname() {
            k.sethostname(name)?;
        }
        if let Some(name) = spec.domainname() {
            k.setdomainname(name)?;
        }
    }
    let linux = spec.linux().clone().unwrap_or_default();
    let mut sysctls: Vec<(String, String)> = linux.sysctl().clone().unwrap_or_default().into_iter().collect();
    sysctls.sort();
    for (key, value) in sysctls {
        k.write_file(&super::sysctl::file_of(&key), &value)?;
    }
    Ok(())
}

/// Step 9: loopback up in a new network namespace (runc does it too: a new namespace
/// has only `lo`, and down).
fn bring_up_loopback(k: &dyn Kernel, spec: &Spec) -> Result<()> {
    if new_namespace(spec, LinuxNamespaceType::Network) {
        crate::primitives::netlink::Netlink::open()?.up(k, "lo")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::cgroups::{Cgroup, Hierarchy, Mode};
    use crate::primitives::Fake;

    /// The init's order, pinned on the recording kernel (youki freezes its init this
    /// way): every call the steps above name, in the order they name them.
    #[test]
    fn the_init_follows_runcs_order() {
        let rootfs = tempfile::tempdir().unwrap();
        let mut json = serde_json::to_value(super::super::spec::default_spec(false).unwrap()).unwrap();
        // No network namespace: bringing `lo` up would open a real netlink socket.
        json["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "network");
        json["linux"]["sysctl"] = serde_json::json!({"kernel.shmmax": "1000"});
        json["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
        let spec: Spec = serde_json::from_value(json).unwrap();
        let cgroup = Cgroup::new(Hierarchy::at(Mode::Unified, rootfs.path()), "t", &[]);
        let entered = std::cell::Cell::new(0);
        let hooks_ran = std::cell::Cell::new(0);
        let enter = || {
            entered.set(entered.get() + 1);
            Ok(())
        };
        let runtime_hooks = || {
            hooks_ran.set(hooks_ran.get() + 1);
            Ok(())
        };
        let started = std::cell::Cell::new(0);
        let wait_for_start = || {
            started.set(started.get() + 1);
            Ok(())
        };
        let c = Context {
            spec: &spec,
            rootfs: rootfs.path(),
            cgroup: &cgroup,
            new_cgroup_ns: false,
            enter_cgroup: &enter,
            runtime_hooks: &runtime_hooks,
            hook_state: &|_| String::new(),
            console: None,
            preserve_fds: 0,
            wait_for_start: &wait_for_start,
        };
        let fake = Fake::new();
        // The recording kernel's execve "returns": the init went through every step.
        let stopped = run(&fake, &c).unwrap_err();
        assert!(stopped.to_string().contains("execve returned"), "{stopped}");
        assert_eq!((entered.get(), hooks_ran.get(), started.get()), (1, 1, 1));
        let calls = fake.calls();
        let order = [
            "prctl(PR_SET_DUMPABLE, 0)",
            "mount(NULL, \"/\", NULL, MS_REC|MS_SLAVE, NULL)",
            "mount(\"proc\"",
            "pivot_root(",
            "sethostname(\"runc\"",
            "write(\"/proc/sys/kernel/shmmax\", \"1000\")",
            "mount(\"/dev/null\", \"/proc/",
            "mount(\"/proc/sys\", \"/proc/sys\", NULL, MS_RDONLY|MS_REMOUNT",
            "close_range(3",
            "chdir(\"/\")",
            "getcwd(",
            "prctl(PR_SET_NO_NEW_PRIVS",
            "prctl(PR_CAPBSET_DROP",
            "prctl(PR_SET_KEEPCAPS, 1)",
            "setresgid(1000",
            "setresuid(1000",
            "capset(",
        ];
        // Each call is looked for after the one before it.
        let mut from = 0;
        for prefix in order {
            match calls[from..].iter().position(|c| c.starts_with(prefix)) {
                Some(i) => from += i + 1,
                None => panic!("no {prefix} after call {from}:\n{calls:#?}"),
            }
        }
    }
}
