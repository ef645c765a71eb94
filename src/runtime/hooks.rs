//! Hooks: programs the runtime runs at points of the container's life, each given the
//! container's state as JSON on its stdin (OCI runtime spec, "POSIX-platform Hooks").
//!
//! In the order they run (the steps are those of `init.rs`):
//!
//! | hook            | when                                                            | run by                         |
//! |-----------------|-----------------------------------------------------------------|--------------------------------|
//! | createRuntime   | `create`, after the mounts and /dev (step 5), before pivot_root | the runtime, asked by the init |
//! | createContainer | right after, in the container's namespaces, before pivot_root   | the init                       |
//! | prestart        | `start`, after pivot_root, before the init is released          | `start`                        |
//! | startContainer  | inside, after `start`, before the user's program (step 13)      | the init                       |
//! | poststart       | after the user's program started                                | `start`                        |
//! | poststop        | after the container is deleted                                  | `delete`                       |
//!
//! prestart runs where the runtime spec's words for it, as oci-spec documents the
//! field, put it ("after the `start` operation is called but before the
//! user-specified program command is executed"); `tests/runtime.rs` pins it there (the
//! hook reads the status `created`). runc runs it earlier: at `create`, just before
//! createRuntime, before pivot_root.
//!
//! A failing prestart, createRuntime, createContainer or startContainer hook stops the
//! container; a failing poststart or poststop hook only warns.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hook {
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<u64>,
}

impl TryFrom<&oci_spec::runtime::Hook> for Hook {
    type Error = String;

    /// A hook of config.json; its timeout must be more than zero seconds (runtime spec).
    fn try_from(h: &oci_spec::runtime::Hook) -> Result<Hook, String> {
        let path = h.path().display().to_string();
        let timeout = match h.timeout() {
            Some(t) if t <= 0 => {
                return Err(format!("the hook {path} has timeout {t}: a timeout is more than 0 seconds"))
            }
            t => t.map(|t| t as u64),
        };
        Ok(Hook { path, args: h.args().clone().unwrap_or_default(), env: h.env().clone().unwrap_or_default(), timeout })
    }
}

pub fn from_spec(list: &Option<Vec<oci_spec::runtime::Hook>>) -> Result<Vec<Hook>, String> {
    list.as_ref().map(|l| l.iter().map(Hook::try_from).collect()).unwrap_or(Ok(Vec::new()))
}

/// poststart and poststop: every hook runs; a failure is only a warning (runtime
/// spec, "Lifecycle").
pub fn run_all_warning(hooks: &[Hook], state: &str) {
    for hook in hooks {
        if let Err(e) = run(hook, state) {
            super::log::warn(&e);
        }
    }
}

/// Run hooks in order, each with `state` on stdin; the first failure stops.
pub fn run_all(hooks: &[Hook], state: &str) -> Result<(), String> {
    for hook in hooks {
        run(hook, state)?;
    }
    Ok(())
}

fn run(hook: &Hook, state: &str) -> Result<(), String> {
    let mut cmd = Command::new(&hook.path);
    // args[0] is the program's name as it will see it (argv[0]).
    if let Some((first, rest)) = hook.args.split_first() {
        use std::os::unix::process::CommandExt;
        cmd.arg0(first).args(rest);
    }
    cmd.env_clear();
    // A hook dies with the learnctr that runs it: a runtime killed by SIGKILL leaves
    // no hook behind on the host.
    crate::primitives::untraced::die_with_parent(&mut cmd);
    for pair in &hook.env {
        if let Some((k, v)) = pair.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::null()).spawn().map_err(|e| format!("hook {}: {e}", hook.path))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading: a broken pipe is not the hook's failure.
        let _ = stdin.write_all(state.as_bytes());
    }
    // A timeout too large for the clock is no deadline at all.
    let deadline = hook.timeout.and_then(|s| Instant::now().checked_add(Duration::from_secs(s)));
    loop {
        match child.try_wait().map_err(|e| format!("hook {}: {e}", hook.path))? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => return Err(format!("hook {} failed ({status})", hook.path)),
            None if deadline.is_some_and(|d| Instant::now() > d) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("hook {} timed out after {} s", hook.path, hook.timeout.unwrap_or(0)));
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}
