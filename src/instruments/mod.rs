//! The course's measuring tools: what runs inside a lesson's container and reports
//! what it sees from there. The runtime (`src/runtime/`) never uses them; a container
//! made by `learnctr run` has none of this inside.
//!
//! The attempts and the workloads' forks go through `primitives/kernel/`, so the
//! trace shows them; the readings and the other actions (`probe.rs` says which) call
//! `std` and `nix` directly, so it does not.
//!
//! Read these files in this order:
//! - `inside.rs`: a process in its own namespaces (`primitives/isolate.rs`) that
//!   answers questions from inside, and the questions and replies on its socket;
//! - `probe.rs`: the questions (readings such as the hostname or a file, and actions
//!   such as a write attempt) and how each is answered, the same way for the host
//!   and for the inside;
//! - `attempts.rs`: privileged operations tried inside, each a real call that the
//!   trace shows with the kernel's answer (lesson 6);
//! - `workload.rs`: memory, CPU and forks spent inside a cgroup, to meet its limits
//!   (lesson 5).

pub mod attempts;
pub mod inside;
pub mod probe;
pub mod workload;
