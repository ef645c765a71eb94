//! `learnctr exec`: a new process in a running container.

use super::state::Container;
use super::{init, load, spec, Rt, RtError};
use crate::primitives::kernel::Call;
use crate::primitives::namespaces::Namespace;
use crate::primitives::{process, Kernel};
use oci_spec::runtime::Spec;
use std::path::Path;

/// `learnctr exec ID CMD...`: enter the container's namespaces (as nsenter does:
/// open every `/proc/PID/ns/*` first, then `setns` each, the user namespace first and
/// the mount namespace last), join its cgroup, fork once more for the pid namespace,
/// apply the container's process settings, and run the command. Returns its exit code.
pub fn exec(k: &dyn Kernel, root: &Path, id: &str, argv: &[String]) -> Rt<i32> {
    let c = load(root, id)?;
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
    // Not dumpable, and (see sealed.rs) running from a read-only copy of learnctr: a
    // process of the container can neither read our memory nor write our binary.
    k.invoke(Call::SetDumpable { on: false })?;
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
