//! The isolation primitives: what a container runtime needs from the kernel, and the
//! one layer of learnctr that makes system calls (`kernel/`).
//!
//! Lessons, the runtime and the finale never call `libc` or `nix` to change the
//! system: they call these functions, which call the kernel through `kernel/`, so
//! every call is recorded and can be shown to the learner. (The course's measuring
//! tools, which only read, are in `src/instruments/`.)
//!
//! Where to look first:
//! - **where the trace is recorded:** `kernel/mod.rs`, `Linux::invoke` (each call is
//!   made, then `trace::record` keeps it with the kernel's answer);
//! - **the pivot_root sequence:** `chroot_and_pivot.rs`, `pivot_into`;
//! - **the cgroup writes:** `cgroups/mod.rs`, `Cgroup::set` and `Cgroup::apply` (which
//!   file each limit is written to is `cgroups/files.rs`);
//! - **the init's order:** not here but in `src/runtime/init.rs`, `run`: one line
//!   per step, each a call into these files.
//!
//! Every module, in reading order:
//! 1. `kernel/`: every system call, as data ([`kernel::Call`]), described in C
//!    notation, performed, and recorded; its `mod.rs` gives its own reading order;
//! 2. `trace.rs`: the recorded calls, kept in memory or sent to the parent by a child;
//! 3. `error.rs`: which call failed and the errno the kernel answered;
//! 4. `namespaces.rs`: the seven namespace kinds and how to see them in `/proc`;
//! 5. `channel.rs`: the socket between learnctr and a process it forked (transport only);
//! 6. `isolate.rs`: a child in new (or joined) namespaces, kept alive for the host;
//! 7. `idmap.rs`: a user namespace's uid and gid maps;
//! 8. `ipc.rs`: System V shared memory, to show an ipc namespace;
//! 9. `mountinfo.rs`: reading `/proc/PID/mountinfo`;
//! 10. `mounts.rs`: mounts by hand, the calls `mount(8)` makes (overlay too);
//! 11. `chroot_and_pivot.rs`: `chroot`, its escape, and `pivot_root`;
//! 12. `devices.rs`: the default devices and a minimal `/dev`;
//! 13. `masked_paths.rs`: runc's masked and read-only paths under `/proc` and `/sys`;
//! 14. `cgroups/`: control groups — `hierarchy.rs` (v2, hybrid or v1), `files.rs`
//!     (which file holds which setting), `mod.rs` (`Cgroup`), `freezer.rs`,
//!     `devices_bpf.rs` (the v2 device filter) and `remove.rs`;
//! 15. `capability_mask.rs`: a 64-bit set of capabilities, as the kernel shows it;
//! 16. `capabilities.rs`: the five sets and how runc narrows them;
//! 17. `seccomp.rs`: system call filters, compiled to BPF;
//! 18. `console.rs`: a pseudo-terminal for the container, sent to whoever asked;
//! 19. `netlink.rs`: network configuration, the messages `ip` sends;
//! 20. `netns.rs`: named network namespaces and host interfaces;
//! 21. `subnet.rs`: addresses this host does not use yet;
//! 22. `net_client.rs`: the ping and the HTTP GET lesson 7 sends from the host;
//! 23. `process.rs`: processes seen from the host: alive, stopped, waited for;
//! 24. `signals.rs`: Ctrl-C and SIGTERM never stop learnctr in the middle of a step;
//! 25. `untraced.rs`: the few calls the trace leaves out, and why (with `kernel/perform.rs`,
//!     the only file with `unsafe` code).
//!
//! `rerun.rs` (unit tests only) runs a test again in a namespace of its own.

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
#[cfg(test)]
pub mod rerun;
pub mod seccomp;
pub mod signals;
pub mod subnet;
pub mod trace;
pub mod untraced;

pub use error::{Error, Result};
#[cfg(test)]
pub use kernel::Fake;
pub use kernel::{Kernel, Linux};
