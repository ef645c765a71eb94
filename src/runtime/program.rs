//! The program the init becomes: found in the container's PATH while `create` can
//! still report it (step 13 of `init.rs`), then run after `start` (step 14), with the
//! seccomp filters that had to wait until the very end.
//!
//! The errors use runc's words, which engines turn into exit codes: 127 for a program
//! that is not there, 126 for one that cannot be run.

use crate::primitives::{seccomp, Error, Kernel, Result};
use oci_spec::runtime::Spec;
use std::path::Path;

/// The seccomp filters still to install right before `execve` (with no_new_privs).
pub struct Pending(pub(super) Vec<seccomp::Profile>);

/// A program as `execve` needs it: its path, its arguments, its environment.
pub struct Program {
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
}

/// The program to run, as `execve` needs it: found in the container's PATH now, so
/// that a name that is not there fails `create`, as with runc, not a `start` that
/// nobody would hear.
pub fn program_of(spec: &Spec, command: Option<&[String]>) -> Result<Program> {
    let process = spec.process().clone().ok_or_else(|| Error::Child("config.json has no process to start".into()))?;
    let env: Vec<String> = process.env().clone().unwrap_or_default();
    let args: Vec<String> = command.map(|c| c.to_vec()).unwrap_or_else(|| process.args().clone().unwrap_or_default());
    let program = args.first().ok_or_else(|| Error::Child("process.args is empty".into()))?;
    let path = resolve(program, &env).ok_or_else(|| not_found(program))?;
    check_executable(&path)?;
    Ok(Program { path, args, env })
}

/// Step 14, after `start`: seccomp as late as possible (it may forbid what the init
/// still needs), then the program. Returns only if `execve` fails.
pub fn exec_program(k: &dyn Kernel, pending: Pending, program: Program) -> Error {
    super::timing::mark("init: released by start");
    for p in &pending.0 {
        if let Err(e) = seccomp::install(k, p) {
            return e;
        }
    }
    super::timing::mark("init: execve");
    k.execve_program(&program.path, &program.args, &program.env)
}

/// runc's words for a missing program, which engines turn into exit code 127
/// ("executable file not found", "no such file or directory").
fn not_found(program: &str) -> Error {
    if program.contains('/') {
        Error::Child(format!("exec: \"{program}\": stat {program}: no such file or directory"))
    } else {
        Error::Child(format!("exec: \"{program}\": executable file not found in $PATH"))
    }
}

/// A program that exists but cannot be run is "permission denied" (exit code 126 in
/// Docker and Podman), said before `start` rather than by a failing `execve`.
fn check_executable(path: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Err(_) => Err(not_found(path)),
        Ok(m) if m.is_dir() || m.permissions().mode() & 0o111 == 0 => {
            Err(Error::Child(format!("exec: \"{path}\": permission denied")))
        }
        Ok(_) => Ok(()),
    }
}

/// `args[0]` as execvp would find it, with the container's PATH.
fn resolve(program: &str, env: &[String]) -> Option<String> {
    if program.contains('/') {
        return Some(program.to_string());
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':').map(|dir| format!("{dir}/{program}")).find(|p| Path::new(p).is_file())
}
