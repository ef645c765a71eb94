//! Ctrl-C, SIGTERM and SIGHUP: never die in the middle of a step.
//!
//! The handler only raises a flag. Because it is installed without `SA_RESTART`, a
//! blocking wait (on a child's socket, on `waitpid`) returns `EINTR`; the waiting code
//! sees the flag and returns `Error::Interrupted`. That error travels up like any other,
//! and on the way the guards of every object the step made remove them (the isolated
//! processes are killed, the journal is emptied). Then learnctr exits with 130.

use super::untraced::{restore_signal_action, set_signal_action};
use nix::sys::signal::{SigAction, SigHandler, Signal};
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn raise_flag(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

const STOPPING: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// Install the handler in the learnctr process.
pub fn install() {
    for sig in STOPPING {
        let _ = set_signal_action(sig, SigHandler::Handler(raise_flag));
    }
}

/// Whether a stopping signal has arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// In a new child: the default actions again, so the child dies of Ctrl-C like any
/// process (its parent cleans up after it).
pub fn reset_to_default() {
    set_all(SigHandler::SigDfl);
}

/// While the learner is in a shell inside, Ctrl-C belongs to that shell: the processes
/// waiting for it ignore the stopping signals until the guard is dropped.
pub struct IgnoreWhileShellRuns {
    previous: Vec<(Signal, SigAction)>,
}

impl IgnoreWhileShellRuns {
    pub fn new() -> IgnoreWhileShellRuns {
        let mut previous = Vec::new();
        for sig in [Signal::SIGINT, Signal::SIGQUIT, Signal::SIGTSTP] {
            if let Ok(old) = set_signal_action(sig, SigHandler::SigIgn) {
                previous.push((sig, old));
            }
        }
        IgnoreWhileShellRuns { previous }
    }
}

impl Default for IgnoreWhileShellRuns {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for IgnoreWhileShellRuns {
    fn drop(&mut self) {
        for (sig, old) in self.previous.drain(..) {
            restore_signal_action(sig, &old);
        }
    }
}

fn set_all(handler: SigHandler) {
    for sig in STOPPING.iter().chain([Signal::SIGQUIT, Signal::SIGTSTP].iter()) {
        let _ = set_signal_action(*sig, handler);
    }
}

/// Make our process group the terminal's foreground group again, after a shell that
/// ran inside a pid namespace has exited. Such a shell took the terminal for its own
/// process group (job control), but could not give it back: the group that had it
/// before is invisible from inside its pid namespace (`tcgetpgrp` answered 0). Without
/// this, learnctr would be a background process of its own terminal, and its next read
/// would fail with EIO. SIGTTOU is ignored meanwhile: a background process that calls
/// `tcsetpgrp` gets it.
pub fn reclaim_terminal() {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return;
    }
    let Ok(old) = set_signal_action(Signal::SIGTTOU, SigHandler::SigIgn) else { return };
    let _ = nix::unistd::tcsetpgrp(std::io::stdin(), nix::unistd::getpgrp());
    restore_signal_action(Signal::SIGTTOU, &old);
}
