//! The isolation primitives: the only code in learnctr that talks to the kernel.
//!
//! Read these files in this order:
//! - `kernel.rs`: every system call learnctr makes, one enum variant each, with the
//!   C notation that the trace prints (the same notation `strace` uses);
//! - `trace.rs`: how each call is recorded as it is made, also in child processes;
//! - `namespaces.rs`: the seven namespace kinds and how to look them up in `/proc`;
//! - `channel.rs`: the socket between learnctr and a process it forked;
//! - `isolate.rs`: a child process that enters new (or existing) namespaces and stays
//!   there for as long as the host needs it (the course's instruments, in
//!   `src/instruments/`, ask it questions from inside);
//! - `mounts.rs`, `ipc.rs`, `idmap.rs`: the small actions the lessons perform inside.
//!
//! Lessons never call `libc` or `nix` themselves: they call these functions, so that
//! every call they make is recorded and shown to the learner.

pub mod capabilities;
pub mod capability_mask;
pub mod cgroups;
pub mod channel;
pub mod chroot_and_pivot;
pub mod console;
pub mod devices;
pub mod error;
pub mod idmap;
pub mod ipc;
pub mod isolate;
pub mod kernel;
pub mod masked_paths;
pub mod mountinfo;
pub mod mounts;
pub mod namespaces;
pub mod net_client;
pub mod netlink;
pub mod netns;
pub mod process;
pub mod seccomp;
pub mod signals;
pub mod subnet;
pub mod trace;

pub use error::{Error, Result};
#[cfg(test)]
pub use kernel::Fake;
pub use kernel::{Kernel, Linux};
