//! What `create` (the host side, in the runtime's process) and the container's init
//! say to each other over their socket (`primitives/channel.rs`), and what an `exec`'d
//! process tells `learnctr exec` before it runs its program.
//!
//! The order, in `create`: the child asks for its id maps (with a new user
//! namespace), the init's host pid arrives and the runtime moves it into its cgroups,
//! the init asks for the createRuntime hooks, then says it is ready (prestart hooks run
//! later, at `start`).

use crate::primitives::trace::Event;
use serde::{Deserialize, Serialize};

/// What the init (or the child that forks it) tells the runtime.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToHost {
    /// A system call the child made (sent only when the trace is on: `--trace`).
    Trace(Event),
    /// "I have unshared a user namespace: write my uid_map and gid_map now."
    NeedIdMap,
    /// The init's pid on the host (PID 1 inside a new pid namespace).
    InitPid(i32),
    /// "Run the createRuntime hooks now" (they run in the runtime's
    /// namespaces, after the container's namespaces exist).
    RunRuntimeHooks,
    /// Everything up to the container's program is done: `create` may return.
    Ready,
    /// Why the init (or the child) gives up, in one sentence.
    Failed(String),
}

impl From<Event> for ToHost {
    fn from(event: Event) -> ToHost {
        ToHost::Trace(event)
    }
}

/// What the runtime tells the init.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToChild {
    /// The answer to `NeedIdMap`.
    IdMapWritten,
    /// The runtime has moved the init into the container's cgroups.
    CgroupJoined,
    /// The answer to `RunRuntimeHooks`: did every hook succeed?
    RuntimeHooksRan { ok: bool },
}
