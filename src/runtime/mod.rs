//! learnctr's OCI runtime: `create`, `start`, `state`, `kill`, `delete`, `list`,
//! `run`, `exec`, as runc names them, built from the same primitives as the lessons.
//!
//! Read in this order:
//! - `spec.rs`: config.json (oci-spec), written like `runc spec`, read and checked;
//! - `spec_error.rs`: what can be wrong in config.json, said in English or in a lesson's words;
//! - `refuse.rs`: every config.json field learnctr cannot apply, refused in one sentence;
//! - `sysctl.rs`: which sysctls a container may set (those its namespaces isolate);
//! - `resources.rs`: `linux.resources` turned into cgroup limits, and the cgroup's path;
//! - `create.rs`: `create`, from the bundle to an init waiting for `start`, in five steps;
//! - `spawn.rs`: the runtime's side of the birth: the child forked into its cgroups,
//!   answered over a socket until the init is ready;
//! - `child.rs`: the child's side: the namespaces, the fork of the init;
//! - `init_protocol.rs`: what the runtime, the child and the init say to each other;
//! - `init.rs`: the container's init; `run`, at its top, is the order of its steps, one
//!   line each;
//! - `mounts.rs`: the init's mounts: `/` a slave, the rootfs and config.json's mounts
//!   (the cgroup filesystems too), `pivot_root`, masked and read-only paths;
//! - `devices.rs`: `/dev` inside (default devices, `linux.devices`, symlinks), and what a
//!   device type of config.json is;
//! - `process_limits.rs`: rlimits, oom_score_adj and I/O priority (the init's, an exec's);
//! - `privileges.rs`: what the init gives up: fds close-on-exec, AppArmor, a cwd proved
//!   inside, the user and the capabilities;
//! - `program.rs`: the program, found in PATH at `create`, executed after `start`;
//! - `hooks.rs`: the hooks, when each runs, and how;
//! - `seccomp_profile.rs`: `linux.seccomp` compiled into filters;
//! - `lifecycle.rs`: `start`, `state`, `kill`, `delete`, `run`, `list`, `ps`,
//!   `pause`, `resume`;
//! - `exec.rs`: `exec`, a process entering a running container;
//! - `update.rs`: `update`, new limits for a running container;
//! - `features.rs`: `features`, what this runtime implements, as JSON;
//! - `sealed.rs`: learnctr re-executes itself from a read-only copy (CVE-2019-5736);
//! - `state.rs`: `ROOT/ID/state.json` and the OCI state;
//! - `log.rs`: `--log` and `--log-format`, as runc writes them;
//! - `timing.rs`: `LEARNCTR_TIMING=1` marks, for `make bench`.
//!
//! How `create` works: learnctr writes `ROOT/ID/state.json` with the status
//! `creating` (so a learnctr killed at any moment leaves a container `delete --force`
//! can remove), forks a child into the container's cgroups (born there on v2, moved
//! there on v1) while the child unshares its namespaces; the child forks the init
//! (PID 1 of the new pid namespace), which mounts its root filesystem, unshares its
//! cgroup namespace once it is in its cgroups, pivots, and switches to the container's
//! user and capabilities.
//!
//! How `create` and `start` meet: the init has done everything up to the user's
//! program, then opens `ROOT/ID/exec.fifo` for writing, which blocks until `start`
//! opens it for reading. `create` has exited by then; the init waits alone. `start`
//! returns once the init has become the container's program (`execve`).

pub mod child;
pub mod create;
pub mod devices;
pub mod exec;
pub mod features;
pub mod hooks;
pub mod init;
pub mod init_protocol;
pub mod lifecycle;
pub mod log;
pub mod mounts;
pub mod privileges;
pub mod process_limits;
pub mod program;
pub mod refuse;
pub mod resources;
pub mod sealed;
pub mod seccomp_profile;
pub mod spawn;
pub mod spec;
pub mod spec_error;
pub mod state;
pub mod sysctl;
pub mod timing;
pub mod update;

pub use create::{create, CreateOptions};
pub use exec::exec;
pub use lifecycle::{delete, kill, list, run, start, state_json, wait_for_exec};

use crate::i18n::tf;
use crate::primitives::Error;

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

impl From<spec_error::SpecError> for RtError {
    fn from(e: spec_error::SpecError) -> RtError {
        RtError(e.to_string())
    }
}

impl From<std::io::Error> for RtError {
    fn from(e: std::io::Error) -> RtError {
        RtError(e.to_string())
    }
}

pub type Rt<T> = std::result::Result<T, RtError>;

/// Refuse an id that is not a container's name, in every command: an id is a file
/// name in the state root, so `..` or `/` would reach a `state.json` elsewhere.
pub fn check_id(id: &str) -> Rt<()> {
    if state::valid_id(id) {
        Ok(())
    } else {
        Err(RtError(tf("runtime.bad_id", &[("id", &id)])))
    }
}

/// The container `id` under `root`, or the sentence engines match on.
pub fn load(root: &std::path::Path, id: &str) -> Rt<state::Container> {
    check_id(id)?;
    state::Container::load(root, id).ok_or_else(|| no_container(id))
}

/// "container ID does not exist": the sentence engines look for (in English, which the
/// runtime's commands speak unless `--lang` says otherwise).
pub fn no_container(id: &str) -> RtError {
    RtError(tf("runtime.no_container", &[("id", &id)]))
}

/// Write a pid file whole or not at all: a temporary file, then rename (engines read
/// it the moment the runtime returns).
pub fn write_pid_file(path: &std::path::Path, pid: i32) -> Rt<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, pid.to_string())
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| RtError(format!("cannot write {}: {e}", path.display())))
}
