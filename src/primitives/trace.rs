//! The syscall trace, recorded by construction.
//!
//! Every call in `kernel/` ends in [`record`]: the call in C notation and what the
//! kernel answered. In the learnctr process the events are kept in memory until the
//! lesson engine shows them under the step. In a child process (after `fork`), they
//! are sent to the parent over the child's socket as they happen, so that even a child
//! that dies half-way has told what it did. Each protocol spoken on such a socket has
//! a message that carries an event (`From<Event>`); the child names it once, in
//! [`forward_to`]. Nothing here is ever typed by hand: if a
//! line is in the trace, the call was made.

use super::channel;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// One recorded system call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The pid of the caller, as the caller sees itself (`getpid()`): inside a new pid
    /// namespace the first process sees itself as 1.
    pub pid: i32,
    /// The same process's pid on the host, when it differs (PID 1 of a new pid
    /// namespace): two containers' PID 1 are two processes, and the trace says which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_pid: Option<i32>,
    /// The call in C notation: `unshare(CLONE_NEWUTS)`.
    pub call: String,
    /// What the kernel answered: `0`, `4242`, `-1 EPERM (Operation not permitted)`,
    /// or `<unfinished ...>` for an `execve` that replaces the process.
    pub result: String,
}

impl std::fmt::Display for Event {
    /// `[pid   4242] call = result`, or `[pid   4242 → 1]` for a process that is 4242
    /// on the host and 1 in its own pid namespace.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.host_pid {
            Some(host) => write!(f, "[pid {host:>6} → {}] {}", self.pid, self.call)?,
            None => write!(f, "[pid {:>6}] {}", self.pid, self.call)?,
        }
        if self.result.starts_with('<') {
            write!(f, " {}", self.result)
        } else {
            write!(f, " = {}", self.result)
        }
    }
}

thread_local! {
    static EVENTS: RefCell<Vec<Event>> = const { RefCell::new(Vec::new()) };
    /// In a child: how events reach the parent. `None` in the learnctr process itself.
    static FORWARD: Cell<Option<Forward>> = const { Cell::new(None) };
}

/// The socket to the parent, and the function that sends an event on it wrapped in
/// the message of the protocol spoken there.
#[derive(Clone, Copy)]
struct Forward {
    fd: RawFd,
    send: fn(RawFd, Event),
}

/// Whether anyone will read the trace. The lessons always show it; the runtime
/// commands (`learnctr run`, `create`, ...) turn it off unless asked for `--trace`,
/// because sending a hundred events from the container's init to the runtime costs
/// as much as a third of a container's start.
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Nobody will read the trace of this process (and of the children it forks later).
pub fn disable() {
    ENABLED.store(false, Ordering::Relaxed);
}

/// Record one call and its result.
pub fn record(call: String, result: String) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    keep(Event { pid: nix::unistd::getpid().as_raw(), host_pid: None, call, result });
}

fn keep(event: Event) {
    match FORWARD.with(|f| f.get()) {
        Some(forward) => (forward.send)(forward.fd, event),
        None => EVENTS.with(|e| e.borrow_mut().push(event)),
    }
}

/// Run `f` on a thread of its own (to enter a namespace that belongs to a thread, such
/// as a uts or network namespace, and leave the rest of learnctr where it is). The
/// events are kept per thread, so the calls `f` made are handed back to this one,
/// as if it had made them.
pub fn on_a_thread<T: Send>(f: impl FnOnce() -> T + Send) -> std::thread::Result<T> {
    let (outcome, events) = std::thread::scope(|s| s.spawn(move || (f(), take())).join())?;
    for event in events {
        keep(event);
    }
    Ok(outcome)
}

/// Called in a child right after `fork`: from now on, send events to the parent over
/// `fd`, each in the message `M` of the protocol spoken on it (a child whose protocol
/// changes half-way, as an isolated process's does once it is ready, calls this again).
/// The events the parent had recorded before the fork were copied into the child's
/// memory; they are dropped here so they are not shown twice.
pub fn forward_to<M: From<Event> + Serialize>(fd: RawFd) {
    EVENTS.with(|e| e.borrow_mut().clear());
    FORWARD.with(|f| f.set(Some(Forward { fd, send: send_as::<M> })));
}

fn send_as<M: From<Event> + Serialize>(fd: RawFd, event: Event) {
    // A failed send means the parent is gone; the child is about to die anyway.
    let _ = channel::send_raw(fd, &M::from(event));
}

/// The parent received an event from a child.
pub fn absorb(event: Event) {
    EVENTS.with(|e| e.borrow_mut().push(event));
}

/// The recorded events (without taking them): a step may check what the kernel
/// answered to a call it expected to fail.
pub fn recorded() -> Vec<Event> {
    EVENTS.with(|e| e.borrow().clone())
}

/// Drop the last event if it matches (a retried call that only says "not yet", such as
/// `rmdir` of a cgroup whose processes are still exiting, is shown once, not 50 times).
/// In a child the event has already been sent; there is nothing to drop.
pub fn take_last_if(pred: impl Fn(&Event) -> bool) {
    EVENTS.with(|e| {
        let mut events = e.borrow_mut();
        if events.last().is_some_and(pred) {
            events.pop();
        }
    });
}

/// Take every event recorded so far (the engine does this after each step).
pub fn take() -> Vec<Event> {
    EVENTS.with(|e| std::mem::take(&mut *e.borrow_mut()))
}

/// A string argument as strace prints it: quoted, escaped, cut after 64 bytes.
pub fn c_str(s: &str) -> String {
    let mut out = String::from("\"");
    for (i, ch) in s.chars().enumerate() {
        if i == 64 {
            out.push_str("\"...");
            return out;
        }
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\{:o}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An optional string argument: `NULL` when absent.
pub fn c_opt_str(s: Option<&str>) -> String {
    s.map(c_str).unwrap_or_else(|| "NULL".to_string())
}

/// A bit mask as the names of its flags joined by `|`: `MS_REC|MS_PRIVATE`.
/// Bits without a name are printed in hex so that nothing is hidden.
pub fn c_flags(bits: u64, names: &[(u64, &str)]) -> String {
    let mut parts = Vec::new();
    let mut rest = bits;
    for &(bit, name) in names {
        if bit != 0 && bits & bit == bit {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        "0".to_string()
    } else {
        parts.join("|")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_and_escaped() {
        assert_eq!(c_str("a\"b\n"), "\"a\\\"b\\n\"");
        assert_eq!(c_opt_str(None), "NULL");
        let long = "x".repeat(70);
        assert!(c_str(&long).ends_with("\"..."));
    }

    #[test]
    fn flags_are_named_and_unknown_bits_shown() {
        let names = [(1, "A"), (2, "B"), (8, "D")];
        assert_eq!(c_flags(0, &names), "0");
        assert_eq!(c_flags(3, &names), "A|B");
        assert_eq!(c_flags(8 | 16, &names), "D|0x10");
    }

    #[test]
    fn events_render_like_strace() {
        let e = Event { pid: 7, host_pid: None, call: "unshare(CLONE_NEWUTS)".into(), result: "0".into() };
        assert_eq!(e.to_string(), "[pid      7] unshare(CLONE_NEWUTS) = 0");
        let x = Event { pid: 1, host_pid: None, call: "execve(\"/bin/sh\")".into(), result: "<unfinished ...>".into() };
        assert_eq!(x.to_string(), "[pid      1] execve(\"/bin/sh\") <unfinished ...>");
        let inside = Event { pid: 1, host_pid: Some(4242), call: "sethostname(\"a\", 1)".into(), result: "0".into() };
        assert_eq!(inside.to_string(), "[pid   4242 → 1] sethostname(\"a\", 1) = 0");
    }
}
