//! Every system call learnctr makes, in one place, and how each is recorded.
//!
//! A primitive never calls `libc` or `nix` itself. It takes a `&dyn Kernel` and calls
//! one of the wrappers below (`k.unshare(…)`, `k.mount(…)`, `k.pivot_root(…)`), which
//! build a [`Call`] and hand it to [`Kernel::invoke`]. There are two kernels:
//! - [`Linux`] makes the call and records it in the trace (`trace.rs`) with what the
//!   kernel answered: the trace the learner reads is made here, by construction;
//! - `Fake` (unit tests only) records the call, so unit tests check the order of calls without
//!   root (the model is youki's `Syscall` trait).
//!
//! Read on in this order:
//! - `call.rs`: the [`Call`] enum, one variant per call, grouped by topic;
//! - `describe.rs`: each call in C notation, as `strace` writes it;
//! - `wrappers.rs`: one method per call, what primitives use;
//! - `perform.rs`: making each call; with `../untraced.rs` (the calls the trace leaves
//!   out), the only code with `unsafe` blocks;
//! - `abi.rs`: the kernel's C structures that `libc` lacks.

mod abi;
mod call;
mod describe;
mod perform;
mod wrappers;

pub use call::{BpfInsn, Call, TerminalIoctl};

use super::error::{errno_name, Error, Result};
use super::trace;

/// The kernel interface every primitive uses.
pub trait Kernel {
    /// Make (or, in a fake, pretend to make) one call and record it in the trace.
    fn invoke(&self, call: Call) -> Result<i64>;
}

/// The real kernel: performs each call, then records it with its result.
pub struct Linux;

impl Kernel for Linux {
    fn invoke(&self, call: Call) -> Result<i64> {
        let text = call.describe();
        // execve replaces this process when it succeeds: it is recorded before, as
        // strace shows it, and again only if it comes back with an error.
        if matches!(call, Call::Execve { .. } | Call::Execveat { .. }) {
            trace::record(text.clone(), "<unfinished ...>".to_string());
        }
        let answer = call.perform();
        if matches!(call, Call::Fork | Call::ForkIntoCgroup { .. }) && answer == Ok(0) {
            // In the new child: the parent records this fork, not the child.
            return Ok(0);
        }
        match answer {
            Ok(value) => {
                trace::record(text, value.to_string());
                Ok(value)
            }
            Err(errno) => {
                trace::record(text.clone(), format!("-1 {} ({})", errno_name(errno), errno.desc()));
                Err(Error::Sys { call: text, errno })
            }
        }
    }
}

/// A kernel that makes no call: it keeps the C notation of each call in order, for
/// unit tests that check what a primitive would do.
#[cfg(test)]
#[derive(Default)]
pub struct Fake {
    calls: std::cell::RefCell<Vec<String>>,
    /// Calls whose name starts with this prefix fail with this errno.
    failing: std::cell::RefCell<Vec<(String, nix::errno::Errno)>>,
}

#[cfg(test)]
impl Fake {
    pub fn new() -> Fake {
        Fake::default()
    }

    /// Make every call whose C notation starts with `prefix` fail with `errno`.
    pub fn fail(&self, prefix: &str, errno: nix::errno::Errno) {
        self.failing.borrow_mut().push((prefix.to_string(), errno));
    }

    /// The calls made so far, in C notation.
    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
}

#[cfg(test)]
impl Kernel for Fake {
    fn invoke(&self, call: Call) -> Result<i64> {
        let text = call.describe();
        self.calls.borrow_mut().push(text.clone());
        for (prefix, errno) in self.failing.borrow().iter() {
            if text.starts_with(prefix.as_str()) {
                return Err(Error::Sys { call: text, errno: *errno });
            }
        }
        // Pretend fds and pids are 3 and 4242; fork pretends we are the parent.
        Ok(match call {
            Call::Open { .. } | Call::OpenPath { .. } | Call::OpenTreeClone { .. } | Call::MemfdCreate { .. } => 3,
            Call::Fork | Call::ForkIntoCgroup { .. } => 4242,
            _ => 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;
    use nix::mount::{MntFlags, MsFlags};
    use nix::sched::CloneFlags;

    #[test]
    fn calls_are_written_in_c_notation() {
        let fake = Fake::new();
        let k: &dyn Kernel = &fake;
        k.unshare(CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWPID).unwrap();
        k.mount(None, "/", None, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None).unwrap();
        k.umount2(".", MntFlags::MNT_DETACH).unwrap();
        k.sethostname("learnctr").unwrap();
        k.set_parent_death_signal(libc::SIGKILL).unwrap();
        k.shmget(0x1ea4, 4096, 0o600).unwrap();
        k.terminal_ioctl(5, TerminalIoctl::GetPtyNumber).unwrap();
        k.mknod("/dev/null", false, 0o666, 1, 3).unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                "unshare(CLONE_NEWUTS|CLONE_NEWPID)",
                "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL)",
                "umount2(\".\", MNT_DETACH)",
                "sethostname(\"learnctr\", 8)",
                "prctl(PR_SET_PDEATHSIG, SIGKILL)",
                "shmget(0x1ea4, 4096, IPC_CREAT|0600)",
                "ioctl(5, TIOCGPTN, 0)",
                "mknod(\"/dev/null\", S_IFCHR|0666, makedev(1, 3))",
            ]
        );
    }

    #[test]
    fn the_fake_fails_when_told() {
        let fake = Fake::new();
        fake.fail("sethostname", Errno::EPERM);
        let k: &dyn Kernel = &fake;
        let err = k.sethostname("x").unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EPERM));
        assert!(err.to_string().contains("EPERM"));
    }

    #[test]
    fn the_real_kernel_records_errors_with_errno() {
        trace::take();
        let k: &dyn Kernel = &Linux;
        let err = k.open("/nonexistent/learnctr-test").unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENOENT));
        let events = trace::take();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].call, "openat(AT_FDCWD, \"/nonexistent/learnctr-test\", O_RDONLY|O_CLOEXEC)");
        assert_eq!(events[0].result, "-1 ENOENT (No such file or directory)");
    }
}
