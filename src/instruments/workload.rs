//! Small workloads that run inside a cgroup to show its limits at work: allocate
//! memory, burn CPU, fork until refused. Each runs in a child of the isolated
//! process, so that the limit hits the child and the isolated process can report.

use crate::primitives::error::{errno_name, Error, Result};
use crate::primitives::untraced;
use crate::primitives::Kernel;
use std::time::{Duration, Instant};

/// The outcome of a workload child.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// Exit code, or 128 + signal (137 = killed by SIGKILL, as the OOM killer does).
    pub status: i32,
    /// CPU time the child used, in microseconds (user + system, from wait4).
    pub cpu_us: u64,
    /// Wall time from fork to exit, in microseconds.
    pub wall_us: u64,
    /// Forks that succeeded, and the errno name of the one refused (fork bomb only).
    pub forks: u32,
    pub refused: String,
}

/// Fork a child that runs `work`, wait for it, and measure it.
fn measured(k: &dyn Kernel, work: impl FnOnce() -> i32) -> Result<Outcome> {
    let start = Instant::now();
    match k.fork()? {
        None => std::process::exit(work()),
        Some(pid) => {
            let (status, cpu_us) = wait4(pid)?;
            Ok(Outcome {
                status,
                cpu_us,
                wall_us: start.elapsed().as_micros() as u64,
                forks: 0,
                refused: String::new(),
            })
        }
    }
}

/// Wait for a child and read its resource usage (`wait4(2)`, not traced: see
/// `primitives/untraced.rs`).
fn wait4(pid: i32) -> Result<(i32, u64)> {
    untraced::wait4_with_usage(pid).map_err(|errno| Error::Sys { call: format!("wait4({pid})"), errno })
}

/// Allocate `bytes` and touch every page, so that the memory is really used (an
/// untouched allocation costs nothing until it is written).
pub fn allocate(k: &dyn Kernel, bytes: u64) -> Result<Outcome> {
    measured(k, move || {
        let mut memory: Vec<u8> = Vec::new();
        let step = 4096;
        let mut used: u64 = 0;
        while used < bytes {
            memory.resize(memory.len() + step, 1);
            used += step as u64;
        }
        std::hint::black_box(&memory);
        0
    })
}

/// Spin on the CPU for `millis` of wall time.
pub fn burn_cpu(k: &dyn Kernel, millis: u64) -> Result<Outcome> {
    measured(k, move || {
        let end = Instant::now() + Duration::from_millis(millis);
        let mut x: u64 = 0;
        while Instant::now() < end {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        0
    })
}

/// A fork bomb with a fuse: fork children that only sleep, until the kernel refuses
/// (or `max` is reached), then report and kill them all.
pub fn fork_until_refused(k: &dyn Kernel, max: u32) -> Result<Outcome> {
    let (read_end, write_end) = nix::unistd::pipe().map_err(|errno| Error::Sys { call: "pipe()".into(), errno })?;
    let report = &write_end;
    let mut outcome = measured(k, move || {
        // Our own process group, so one kill reaches every child.
        let _ = nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0));
        let mut forks = 0u32;
        let mut refused = String::new();
        while forks < max {
            match k.fork() {
                Ok(None) => loop {
                    // A child of the bomb: it only waits to be killed.
                    std::thread::sleep(Duration::from_secs(3600));
                },
                Ok(Some(_)) => forks += 1,
                Err(e) => {
                    refused = e.errno().map(errno_name).unwrap_or_default();
                    break;
                }
            }
        }
        // The pipe's write end is open in this child (inherited over fork).
        let _ = nix::unistd::write(report, format!("{forks} {refused}").as_bytes());
        let _ = k.kill(0, libc::SIGKILL);
        0
    })?;
    drop(write_end);
    let mut text = String::new();
    let mut buf = [0u8; 64];
    while let Ok(n) = nix::unistd::read(&read_end, &mut buf) {
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let mut words = text.split_whitespace();
    outcome.forks = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    outcome.refused = words.next().unwrap_or("").to_string();
    Ok(outcome)
}
