//! Where a container start spends its time, for `make bench`.
//!
//! With `LEARNCTR_TIMING=1` in the environment, each [`mark`] writes one line to
//! stderr: `learnctr-timing LABEL NANOSECONDS`, the time on the monotonic clock, which
//! is the same clock in every process (host, child, container init), so the bench can
//! put the runtime's and the init's marks on one line and say what dominates.

use std::sync::OnceLock;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("LEARNCTR_TIMING").is_some())
}

/// The moment `label` was reached (nothing at all unless LEARNCTR_TIMING is set).
pub fn mark(label: &str) {
    if enabled() {
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| t.tv_sec() as i128 * 1_000_000_000 + t.tv_nsec() as i128)
            .unwrap_or(0);
        // One write(2), so that lines from the runtime and the init never interleave.
        let line = format!("learnctr-timing {label} {now}\n");
        let _ = nix::unistd::write(std::io::stderr(), line.as_bytes());
    }
}
