//! Processes seen from the host: is it alive, stop it, wait for it.

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

/// The start time of a process (field 22 of `/proc/PID/stat`, in clock ticks since
/// boot). A pid can be reused after a process dies; pid + start time cannot, so the
/// journal stores both and never kills a stranger that got the same pid.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; the fields after it follow ")".
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the very process that had this pid and start time still runs. A zombie
/// (killed, not yet reaped by its parent) does not.
pub fn still_running(pid: i32, start: u64) -> bool {
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rfind(')').map(|at| stat[at + 1..].trim_start().starts_with('Z')))
        .unwrap_or(false);
    !zombie && start_time(pid) == Some(start)
}

/// SIGKILL a process and reap it if it is our child. Errors mean it is already gone.
pub fn kill_and_reap(pid: i32) {
    let pid = Pid::from_raw(pid);
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
}

/// Reap `pid` if it is our child (a zombie otherwise stays until we exit); nothing if
/// it is not (ECHILD at once).
pub fn reap_if_ours(pid: i32) {
    let _ = waitpid(Pid::from_raw(pid), None);
}

/// SIGKILL a process that is not our child (found in the journal after a crash).
pub fn kill_stranded(pid: i32) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
}

/// Wait for a child and return its exit code (128 + signal number if killed), the
/// way a shell reports it.
pub fn wait_exit_code(pid: i32) -> std::result::Result<i32, nix::errno::Errno> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Wait for a child like [`wait_exit_code`], but give up when Ctrl-C (or SIGTERM)
/// arrives: `None` then, and the child is still running. The flag may be raised just
/// before a blocking `waitpid` would start, so the wait is a `poll` on a pidfd (the
/// child's exit makes it readable) that looks at the flag at least every 50 ms.
pub fn wait_unless_interrupted(pid: i32) -> Option<std::result::Result<i32, nix::errno::Errno>> {
    use std::os::fd::AsFd;
    let Ok(pidfd) = super::untraced::pidfd_open(pid) else {
        // Before Linux 5.3: a plain wait (EINTR still ends it, mostly).
        return Some(wait_exit_code(pid));
    };
    loop {
        if super::signals::interrupted() {
            return None;
        }
        let mut fds = [nix::poll::PollFd::new(pidfd.as_fd(), nix::poll::PollFlags::POLLIN)];
        if let Ok(n) = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(50u8)) {
            if n > 0 {
                return Some(wait_exit_code(pid));
            }
        }
    }
}

/// Am I root (uid 0)? Most lessons need it.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// This process: its pid and start time (how the runtime names who is creating a
/// container, so a dead creator is recognised).
pub fn me() -> (i32, u64) {
    let pid = std::process::id() as i32;
    (pid, start_time(pid).unwrap_or(0))
}
