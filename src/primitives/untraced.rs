//! The system calls learnctr makes without recording them in the trace, and why.
//!
//! With `kernel/perform.rs`, this is the only file of learnctr with `unsafe` code,
//! so the two are audited together. It depends on nothing else in `primitives/`, so
//! the modules the kernel layer itself uses (the trace, the channel, the signals) can
//! use it without a cycle. None of them is a step of making a container; each is part of
//! learnctr's own housekeeping, and recording it would put noise between the steps
//! the learner is reading (or, in a forked child just before `exec`, could not be
//! recorded at all):
//! - signal dispositions (`sigaction`): learnctr's own Ctrl-C handling;
//! - code that runs between `fork` and `exec` in `std::process::Command`
//!   (`pre_exec`): nothing may allocate there, so nothing can be recorded;
//! - waiting for children (`wait4` with its resource usage, `pidfd_open`);
//! - reading a reply from a socket (`recv`): the request that caused it is traced.
//!
//! Outside this module, learnctr calls the kernel without the trace only through
//! crates that wrap the calls safely, and only to read state or to talk to its own
//! processes, never to change what a container is:
//! - reading ids and names: `getpid`, `getuid`, `geteuid`, `getresuid`, `getsid`,
//!   `gethostname`… (`nix::unistd`), and files under `/proc` and `/sys` (`std::fs`);
//! - waiting for a child's exit (`waitpid`, `process.rs`);
//! - the socket pair between learnctr and its children (`channel.rs`) and the pipe
//!   a fork bomb reports through (`instruments/workload.rs`);
//! - the terminal given back after a shell (`tcsetpgrp`, `signals.rs`);
//! - asking a link's index (`RTM_GETLINK` on a `netlink-sys` socket, `netlink.rs`)
//!   and lesson 7's HTTP client (`std::net`, `net_client.rs`).
//!
//! The trace is kept per thread: a namespace entered on a thread of its own goes
//! through `trace::on_a_thread`, which hands the thread's calls back to its caller.

use nix::errno::Errno;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;

/// Install a handler for `signal`, or `SIG_DFL`/`SIG_IGN`; the previous action.
///
/// A handler must only do async-signal-safe things (learnctr's stores to an atomic).
pub fn set_signal_action(signal: Signal, handler: SigHandler) -> nix::Result<SigAction> {
    let action = SigAction::new(handler, SaFlags::empty(), SigSet::empty());
    // SAFETY: learnctr's only handler stores to an atomic, which is async-signal-safe;
    // SIG_DFL and SIG_IGN install no code.
    unsafe { sigaction(signal, &action) }
}

/// Put back an action that [`set_signal_action`] returned.
pub fn restore_signal_action(signal: Signal, previous: &SigAction) {
    // SAFETY: restoring the action that was installed before.
    let _ = unsafe { sigaction(signal, previous) };
}

/// In the child of `command`, just before `exec`: ask for SIGKILL when our parent
/// dies (`PR_SET_PDEATHSIG`), so a hook dies with the runtime that runs it.
pub fn die_with_parent(command: &mut std::process::Command) {
    // SAFETY: prctl(2) is async-signal-safe and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            Ok(())
        });
    }
}

/// In the child of `command`, just before `exec`: run `reset`, which must only call
/// `sigaction` (async-signal-safe), e.g. to give a shell the default Ctrl-C back.
pub fn before_exec_reset_signals(command: &mut std::process::Command, reset: fn()) {
    // SAFETY: `reset` only calls sigaction(2), which is async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            reset();
            Ok(())
        });
    }
}

/// Wait for child `pid` to end (`wait4(2)`): its exit code (128 + N when killed by
/// signal N) and the CPU time it used, user and system, in microseconds.
pub fn wait4_with_usage(pid: i32) -> Result<(i32, u64), Errno> {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4(2) with valid pointers to our locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let errno = Errno::last();
        if errno != Errno::EINTR {
            return Err(errno);
        }
    }
    let code = if libc::WIFSIGNALED(status) { 128 + libc::WTERMSIG(status) } else { libc::WEXITSTATUS(status) };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Ok((code, micros(usage.ru_utime) + micros(usage.ru_stime)))
}

/// A pidfd for child `pid` (`pidfd_open(2)`, Linux 5.3): readable once it has ended.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open(2) takes a pid and flags; it returns a new fd or -1.
    let fd = Errno::result(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// One `recv(2)` into `buf`: the number of bytes, 0 at the end, or the errno
/// (EAGAIN when a receive timeout passed).
pub fn recv(fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: recv(2) writes at most buf.len() bytes into buf.
    Errno::result(unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) }).map(|n| n as usize)
}
