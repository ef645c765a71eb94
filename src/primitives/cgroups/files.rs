//! Which file holds which setting, on cgroup v2 and on v1.
//!
//! The same limit has different names in the two versions, and some values mean
//! different things. This table is the whole difference; everything else in learnctr
//! is the same code for both.
//!
//! | setting         | v2 (one tree)                   | v1 (one tree per controller)                      |
//! |-----------------|---------------------------------|---------------------------------------------------|
//! | memory limit    | `memory.max`                    | `memory/…/memory.limit_in_bytes`                  |
//! | no swap         | `memory.swap.max` = 0           | `memory/…/memory.memsw.limit_in_bytes` = limit    |
//! | CPU quota       | `cpu.max` = "QUOTA PERIOD"      | `cpu/…/cpu.cfs_quota_us`, `cpu.cfs_period_us`     |
//! | CPU weight      | `cpu.weight` (1–10000)          | `cpu/…/cpu.shares` (2–262144)                     |
//! | process limit   | `pids.max`                      | `pids/…/pids.max`                                 |
//! | join            | `cgroup.procs`                  | `cgroup.procs` in each tree (`tasks` = threads)   |

use super::layout::Mode;

/// One value to write into one file of one controller's cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The controller whose tree holds the file (v1); on v2 every file is in one dir.
    pub controller: &'static str,
    pub file: &'static str,
    pub value: String,
}

/// A limit, in the words of the OCI runtime spec (`linux.resources`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Bytes of memory; the process is OOM-killed beyond it. Swap is not allowed.
    Memory(u64),
    /// At most `quota` microseconds of CPU time every `period` microseconds.
    CpuQuota { quota: u64, period: u64 },
    /// A relative share of the CPU when it is contended (v1 `cpu.shares`).
    CpuShares(u64),
    /// At most this many processes and threads; 0 or less means no limit (OCI).
    Pids(i64),
    /// The CPUs the processes may run on (`0-1`, `0,2`).
    Cpus(String),
    /// The memory nodes they may allocate from.
    Mems(String),
    /// One device rule, in the order given: `allow` or deny `c 10:229 rwm`. The
    /// devices controller of v1 takes it as text; v2 has no file for it (runc loads a
    /// BPF program instead), so on v2 this writes nothing.
    Device { allow: bool, rule: String },
}

fn w(controller: &'static str, file: &'static str, value: impl ToString) -> Write {
    Write { controller, file, value: value.to_string() }
}

/// The writes that set `limit` on a cgroup of this mode.
pub fn writes(mode: Mode, limit: &Limit) -> Vec<Write> {
    let v2 = mode == Mode::Unified;
    match limit {
        Limit::Memory(bytes) if v2 => vec![w("memory", "memory.max", bytes), w("memory", "memory.swap.max", 0)],
        Limit::Memory(bytes) => vec![w("memory", "memory.limit_in_bytes", bytes)],
        Limit::CpuQuota { quota, period } if v2 => vec![w("cpu", "cpu.max", format!("{quota} {period}"))],
        // The period first: a quota larger than the old period could be refused.
        Limit::CpuQuota { quota, period } => {
            vec![w("cpu", "cpu.cfs_period_us", period), w("cpu", "cpu.cfs_quota_us", quota)]
        }
        Limit::CpuShares(shares) if v2 => vec![w("cpu", "cpu.weight", shares_to_weight(*shares))],
        Limit::CpuShares(shares) => vec![w("cpu", "cpu.shares", shares)],
        Limit::Pids(n) => vec![w("pids", "pids.max", pids_value(*n))],
        // The same names in both versions.
        Limit::Cpus(list) => vec![w("cpuset", "cpuset.cpus", list)],
        Limit::Mems(list) => vec![w("cpuset", "cpuset.mems", list)],
        Limit::Device { .. } if v2 => Vec::new(),
        Limit::Device { allow, rule } => {
            vec![w("devices", if *allow { "devices.allow" } else { "devices.deny" }, rule)]
        }
    }
}

/// v1 `cpu.shares` (2–262144, default 1024) to v2 `cpu.weight` (1–10000, default
/// 100), with the formula runc and crun use: a linear map of one range onto the other.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// The value of `pids.max`: the OCI spec says 0 or less is "no limit", which the file
/// spells `max` (writing 0 would forbid every fork).
pub fn pids_value(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".to_string()
    }
}

/// The file that lists the member processes (the same name in both versions).
pub const PROCS: &str = "cgroup.procs";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_names_differ() {
        assert_eq!(
            writes(Mode::Unified, &Limit::Memory(32 << 20)),
            vec![w("memory", "memory.max", 33554432), w("memory", "memory.swap.max", 0)]
        );
        assert_eq!(
            writes(Mode::Hybrid, &Limit::Memory(32 << 20)),
            vec![w("memory", "memory.limit_in_bytes", 33554432)]
        );
    }

    #[test]
    fn cpu_quota_is_one_file_on_v2_and_two_on_v1() {
        let q = Limit::CpuQuota { quota: 20_000, period: 100_000 };
        assert_eq!(writes(Mode::Unified, &q), vec![w("cpu", "cpu.max", "20000 100000")]);
        assert_eq!(
            writes(Mode::Legacy, &q),
            vec![w("cpu", "cpu.cfs_period_us", 100000), w("cpu", "cpu.cfs_quota_us", 20000)]
        );
    }

    #[test]
    fn shares_become_weight() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(0), 100);
        assert_eq!(writes(Mode::Unified, &Limit::CpuShares(512)), vec![w("cpu", "cpu.weight", 20)]);
        assert_eq!(writes(Mode::Hybrid, &Limit::CpuShares(512)), vec![w("cpu", "cpu.shares", 512)]);
    }

    #[test]
    fn pids_zero_means_no_limit() {
        assert_eq!(pids_value(20), "20");
        assert_eq!(pids_value(0), "max");
        assert_eq!(pids_value(-1), "max");
        assert_eq!(writes(Mode::Unified, &Limit::Pids(0)), vec![w("pids", "pids.max", "max")]);
    }
}
