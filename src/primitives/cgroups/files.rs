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
//! | swap (OCI: memory + swap) | `memory.swap.max` = swap − memory | `memory.memsw.limit_in_bytes` = swap  |
//! | soft limit      | `memory.low`                    | `memory.soft_limit_in_bytes`                      |
//! | disk weight     | `io.weight` (1–10000)           | `blkio/…/blkio.weight` (10–1000)                  |
//! | disk throttle   | `io.max` = "8:0 rbps=N"         | `blkio.throttle.read_bps_device` = "8:0 N"        |
//! | huge pages      | `hugetlb.2MB.max`               | `hugetlb/…/hugetlb.2MB.limit_in_bytes`            |
//! | devices         | an eBPF program (`devices_bpf.rs`) | `devices/…/devices.allow`, `devices.deny`      |
//! | process limit   | `pids.max`                      | `pids/…/pids.max`                                 |
//! | join            | `cgroup.procs`                  | `cgroup.procs` in each tree (`tasks` = threads)   |

use super::hierarchy::Mode;

/// One value to write into one file of one controller's cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The controller whose tree holds the file (v1); on v2 every file is in one dir.
    pub controller: &'static str,
    pub file: String,
    pub value: String,
}

/// A limit, in the words of the OCI runtime spec (`linux.resources`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Bytes of memory; the process is OOM-killed beyond it. Swap is not allowed
    /// (the lessons' limit: what you set is what the process gets).
    Memory(u64),
    /// `memory.limit`: bytes, -1 for no limit (swap as the host has it).
    MemoryMax(i64),
    /// `memory.swap`: memory *plus* swap, as OCI and v1 count it; v2 counts swap alone.
    MemorySwap { memory: i64, swap: i64 },
    /// `memory.reservation`: a soft limit, reclaimed first under pressure.
    MemoryReservation(i64),
    /// `memory.kernelTCP`: bytes of TCP buffers (v1 only: `memory.kmem.tcp.*`).
    KernelTcp(i64),
    /// `memory.swappiness` (v1 only).
    Swappiness(u64),
    /// `memory.disableOOMKiller` (v1 only): the process waits instead of being killed.
    OomKillDisable,
    /// At most `quota` microseconds of CPU time every `period` (-1: no quota).
    CpuQuota { quota: i64, period: u64 },
    /// A relative share of the CPU when it is contended (v1 `cpu.shares`).
    CpuShares(u64),
    /// Real-time scheduling budget (v1 only).
    CpuRealtime { runtime: i64, period: u64 },
    /// `cpu.burst`: microseconds of unused quota a period may carry over.
    CpuBurst(u64),
    /// `cpu.idle`: 1 makes the cgroup's tasks run only when nothing else wants the CPU.
    CpuIdle(i64),
    /// At most this many processes and threads; 0 or less means no limit (OCI).
    Pids(i64),
    /// The CPUs the processes may run on (`0-1`, `0,2`).
    Cpus(String),
    /// The memory nodes they may allocate from.
    Mems(String),
    /// `blockIO.weight` (10–1000) for every disk.
    BlkioWeight(u16),
    /// `blockIO.leafWeight` (v1 with CFQ only).
    BlkioLeafWeight(u16),
    /// `blockIO.weightDevice`: a weight for one disk.
    BlkioDeviceWeight { major: i64, minor: i64, weight: u16 },
    /// `blockIO.throttle*Device`: bytes or operations per second on one disk.
    BlkioThrottle { kind: Throttle, major: i64, minor: i64, rate: u64 },
    /// `hugepageLimits`: bytes of huge pages of one size (`2MB`).
    Hugetlb { page_size: String, limit: u64 },
    /// `network.classID` (v1 net_cls only).
    NetClassId(u32),
    /// `network.priorities` (v1 net_prio only): one interface's priority.
    NetPriority { interface: String, priority: u32 },
    /// `rdma`: one device's handle and object limits.
    Rdma { device: String, handles: Option<u32>, objects: Option<u32> },
    /// `unified`: a file of the cgroup v2 directory, written as given (v2 only).
    Unified { file: String, value: String },
    /// One device rule, in the order given: `allow` or deny `c 10:229 rwm`. The
    /// devices controller of v1 takes it as text; v2 has no file for it (an eBPF
    /// program checks each open, see `devices_bpf.rs`), so on v2 this writes nothing.
    Device { allow: bool, rule: String },
}

/// A limit as config.json names it: `memory.limit = 1048576`.
impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::Memory(b) => write!(f, "memory {b} bytes without swap"),
            Limit::MemoryMax(b) => write!(f, "memory.limit = {b}"),
            Limit::MemorySwap { swap, .. } => write!(f, "memory.swap = {swap}"),
            Limit::MemoryReservation(b) => write!(f, "memory.reservation = {b}"),
            Limit::KernelTcp(b) => write!(f, "memory.kernelTCP = {b}"),
            Limit::Swappiness(n) => write!(f, "memory.swappiness = {n}"),
            Limit::OomKillDisable => write!(f, "memory.disableOOMKiller = true"),
            Limit::CpuQuota { quota, period } => write!(f, "cpu.quota = {quota}, cpu.period = {period}"),
            Limit::CpuShares(n) => write!(f, "cpu.shares = {n}"),
            Limit::CpuRealtime { runtime, period } => {
                write!(f, "cpu.realtimeRuntime = {runtime}, cpu.realtimePeriod = {period}")
            }
            Limit::CpuBurst(n) => write!(f, "cpu.burst = {n}"),
            Limit::CpuIdle(n) => write!(f, "cpu.idle = {n}"),
            Limit::Pids(n) => write!(f, "pids.limit = {n}"),
            Limit::Cpus(c) => write!(f, "cpu.cpus = {c}"),
            Limit::Mems(m) => write!(f, "cpu.mems = {m}"),
            Limit::BlkioWeight(w) => write!(f, "blockIO.weight = {w}"),
            Limit::BlkioLeafWeight(w) => write!(f, "blockIO.leafWeight = {w}"),
            Limit::BlkioDeviceWeight { major, minor, weight } => {
                write!(f, "blockIO.weightDevice {major}:{minor} = {weight}")
            }
            Limit::BlkioThrottle { kind, major, minor, rate } => {
                write!(f, "blockIO.{kind:?} {major}:{minor} = {rate}")
            }
            Limit::Hugetlb { page_size, limit } => write!(f, "hugepageLimits {page_size} = {limit}"),
            Limit::NetClassId(id) => write!(f, "network.classID = {id}"),
            Limit::NetPriority { interface, priority } => write!(f, "network.priorities {interface} = {priority}"),
            Limit::Rdma { device, .. } => write!(f, "rdma {device}"),
            Limit::Unified { file, value } => write!(f, "unified {file} = {value}"),
            Limit::Device { allow, rule } => write!(f, "devices {} {rule}", if *allow { "allow" } else { "deny" }),
        }
    }
}

/// The four throttle lists of `blockIO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttle {
    ReadBps,
    WriteBps,
    ReadIops,
    WriteIops,
}

impl Throttle {
    fn v1_file(self) -> &'static str {
        match self {
            Throttle::ReadBps => "blkio.throttle.read_bps_device",
            Throttle::WriteBps => "blkio.throttle.write_bps_device",
            Throttle::ReadIops => "blkio.throttle.read_iops_device",
            Throttle::WriteIops => "blkio.throttle.write_iops_device",
        }
    }
    fn v2_key(self) -> &'static str {
        match self {
            Throttle::ReadBps => "rbps",
            Throttle::WriteBps => "wbps",
            Throttle::ReadIops => "riops",
            Throttle::WriteIops => "wiops",
        }
    }
}

fn w(controller: &'static str, file: impl Into<String>, value: impl ToString) -> Write {
    Write { controller, file: file.into(), value: value.to_string() }
}

/// -1 is "no limit": `max` on v2, -1 on v1.
fn max_or(v2: bool, value: i64) -> String {
    match (v2, value) {
        (true, v) if v < 0 => "max".into(),
        (_, v) => v.to_string(),
    }
}

/// The writes that set `limit` on a cgroup of this mode, or `None` when this cgroup
/// version has no file for it (the caller refuses the limit in one sentence).
pub fn writes(mode: Mode, limit: &Limit) -> Option<Vec<Write>> {
    let v2 = mode == Mode::Unified;
    Some(match limit {
        Limit::Memory(bytes) if v2 => vec![w("memory", "memory.max", bytes), w("memory", "memory.swap.max", 0)],
        // v1 counts memory + swap together: the same number allows no swap.
        Limit::Memory(bytes) => {
            vec![w("memory", "memory.limit_in_bytes", bytes), w("memory", "memory.memsw.limit_in_bytes", bytes)]
        }
        Limit::MemoryMax(bytes) if v2 => vec![w("memory", "memory.max", max_or(v2, *bytes))],
        Limit::MemoryMax(bytes) => vec![w("memory", "memory.limit_in_bytes", bytes)],
        Limit::MemorySwap { memory, swap } if v2 => vec![w("memory", "memory.swap.max", swap_v2(*memory, *swap))],
        Limit::MemorySwap { swap, .. } => vec![w("memory", "memory.memsw.limit_in_bytes", swap)],
        Limit::MemoryReservation(bytes) if v2 => vec![w("memory", "memory.low", max_or(v2, *bytes))],
        Limit::MemoryReservation(bytes) => vec![w("memory", "memory.soft_limit_in_bytes", bytes)],
        Limit::Swappiness(_) | Limit::OomKillDisable | Limit::KernelTcp(_) if v2 => return None,
        Limit::KernelTcp(bytes) => vec![w("memory", "memory.kmem.tcp.limit_in_bytes", bytes)],
        Limit::Swappiness(n) => vec![w("memory", "memory.swappiness", n)],
        Limit::OomKillDisable => vec![w("memory", "memory.oom_control", 1)],
        Limit::CpuQuota { quota, period } if v2 => {
            vec![w("cpu", "cpu.max", format!("{} {period}", max_or(v2, *quota)))]
        }
        // The period first: a quota larger than the old period could be refused.
        Limit::CpuQuota { quota, period } => {
            vec![w("cpu", "cpu.cfs_period_us", period), w("cpu", "cpu.cfs_quota_us", quota)]
        }
        Limit::CpuShares(shares) if v2 => vec![w("cpu", "cpu.weight", shares_to_weight(*shares))],
        Limit::CpuShares(shares) => vec![w("cpu", "cpu.shares", shares)],
        Limit::CpuRealtime { .. } if v2 => return None,
        Limit::CpuRealtime { runtime, period } => {
            vec![w("cpu", "cpu.rt_period_us", period), w("cpu", "cpu.rt_runtime_us", runtime)]
        }
        Limit::CpuIdle(idle) => vec![w("cpu", "cpu.idle", idle)],
        Limit::CpuBurst(us) if v2 => vec![w("cpu", "cpu.max.burst", us)],
        Limit::CpuBurst(us) => vec![w("cpu", "cpu.cfs_burst_us", us)],
        Limit::Pids(n) => vec![w("pids", "pids.max", pids_value(*n))],
        // The same names in both versions.
        Limit::Cpus(list) => vec![w("cpuset", "cpuset.cpus", list)],
        Limit::Mems(list) => vec![w("cpuset", "cpuset.mems", list)],
        Limit::BlkioWeight(weight) if v2 => {
            vec![w("io", "io.weight", format!("default {}", blkio_to_io_weight(*weight)))]
        }
        Limit::BlkioWeight(weight) => vec![w("blkio", "blkio.weight", weight)],
        Limit::BlkioLeafWeight(_) if v2 => return None,
        Limit::BlkioLeafWeight(weight) => vec![w("blkio", "blkio.leaf_weight", weight)],
        Limit::BlkioDeviceWeight { major, minor, weight } if v2 => {
            vec![w("io", "io.weight", format!("{major}:{minor} {}", blkio_to_io_weight(*weight)))]
        }
        Limit::BlkioDeviceWeight { major, minor, weight } => {
            vec![w("blkio", "blkio.weight_device", format!("{major}:{minor} {weight}"))]
        }
        Limit::BlkioThrottle { kind, major, minor, rate } if v2 => {
            vec![w("io", "io.max", format!("{major}:{minor} {}={rate}", kind.v2_key()))]
        }
        Limit::BlkioThrottle { kind, major, minor, rate } => {
            vec![w("blkio", kind.v1_file(), format!("{major}:{minor} {rate}"))]
        }
        Limit::Hugetlb { page_size, limit } if v2 => vec![w("hugetlb", format!("hugetlb.{page_size}.max"), limit)],
        Limit::Hugetlb { page_size, limit } => {
            vec![w("hugetlb", format!("hugetlb.{page_size}.limit_in_bytes"), limit)]
        }
        Limit::NetClassId(_) | Limit::NetPriority { .. } if v2 => return None,
        Limit::NetClassId(id) => vec![w("net_cls", "net_cls.classid", id)],
        Limit::NetPriority { interface, priority } => {
            vec![w("net_prio", "net_prio.ifpriomap", format!("{interface} {priority}"))]
        }
        Limit::Rdma { device, handles, objects } => {
            let mut value = device.clone();
            if let Some(h) = handles {
                value.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = objects {
                value.push_str(&format!(" hca_object={o}"));
            }
            vec![w("rdma", "rdma.max", value)]
        }
        Limit::Unified { file, value } if v2 => vec![w(unified_controller(file), file.clone(), value)],
        Limit::Unified { .. } => return None,
        Limit::Device { .. } if v2 => Vec::new(),
        Limit::Device { allow, rule } => {
            vec![w("devices", if *allow { "devices.allow" } else { "devices.deny" }, rule)]
        }
    })
}

/// The controller a v2 file belongs to: the part of its name before the first dot.
fn unified_controller(file: &str) -> &'static str {
    let prefix = file.split('.').next().unwrap_or("");
    ["memory", "cpu", "cpuset", "io", "pids", "hugetlb", "rdma", "misc"]
        .into_iter()
        .find(|c| *c == prefix)
        .unwrap_or("cgroup")
}

/// OCI's `swap` is memory + swap (as v1's memsw); v2's `memory.swap.max` is swap
/// alone, so it gets the difference (runc's and crun's conversion); -1 is `max`.
pub fn swap_v2(memory: i64, swap: i64) -> String {
    if swap < 0 {
        "max".into()
    } else {
        (swap - memory.max(0)).max(0).to_string()
    }
}

/// v1 `blkio.weight` (10–1000) to v2 `io.weight` (1–10000), as runc maps it.
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    let weight = u64::from(weight.clamp(10, 1000));
    1 + (weight - 10) * 9999 / 990
}

/// v1 `cpu.shares` (2–262144, default 1024) to v2 `cpu.weight` (1–10000, default
/// 100), with the formula of runc 1.3.2 and crun 1.23: a curve through 2 → 1,
/// 1024 → 100 and 262144 → 10000, so the default maps to the default (the older
/// linear map gave 1024 → 39). Shares are weights under contention, never a cap.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    let l = (shares.clamp(2, 262_144) as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    (10f64.powf(exponent).ceil() as u64).clamp(1, 10_000)
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
            Some(vec![w("memory", "memory.max", 33554432), w("memory", "memory.swap.max", 0)])
        );
        assert_eq!(
            writes(Mode::Hybrid, &Limit::Memory(32 << 20)),
            Some(vec![
                w("memory", "memory.limit_in_bytes", 33554432),
                w("memory", "memory.memsw.limit_in_bytes", 33554432)
            ])
        );
    }

    #[test]
    fn swap_is_memory_plus_swap_in_oci_and_v1_and_swap_alone_in_v2() {
        let s = Limit::MemorySwap { memory: 100, swap: 300 };
        assert_eq!(writes(Mode::Unified, &s), Some(vec![w("memory", "memory.swap.max", 200)]));
        assert_eq!(writes(Mode::Hybrid, &s), Some(vec![w("memory", "memory.memsw.limit_in_bytes", 300)]));
        assert_eq!(swap_v2(100, -1), "max");
        assert_eq!(writes(Mode::Unified, &Limit::MemoryMax(-1)), Some(vec![w("memory", "memory.max", "max")]));
        assert_eq!(writes(Mode::Unified, &Limit::MemoryReservation(5)), Some(vec![w("memory", "memory.low", 5)]));
    }

    #[test]
    fn what_a_version_lacks_is_none() {
        for limit in [
            Limit::Swappiness(10),
            Limit::OomKillDisable,
            Limit::CpuRealtime { runtime: 1, period: 2 },
            Limit::BlkioLeafWeight(100),
            Limit::NetClassId(1),
            Limit::NetPriority { interface: "eth0".into(), priority: 1 },
        ] {
            assert_eq!(writes(Mode::Unified, &limit), None, "{limit:?}");
            assert!(writes(Mode::Hybrid, &limit).is_some(), "{limit:?}");
        }
        let unified = Limit::Unified { file: "memory.high".into(), value: "1000000".into() };
        assert_eq!(writes(Mode::Hybrid, &unified), None);
        assert_eq!(writes(Mode::Unified, &unified), Some(vec![w("memory", "memory.high", "1000000")]));
    }

    #[test]
    fn block_io_maps_to_io_on_v2() {
        let t = Limit::BlkioThrottle { kind: Throttle::ReadBps, major: 8, minor: 0, rate: 1048576 };
        assert_eq!(writes(Mode::Unified, &t), Some(vec![w("io", "io.max", "8:0 rbps=1048576")]));
        assert_eq!(writes(Mode::Legacy, &t), Some(vec![w("blkio", "blkio.throttle.read_bps_device", "8:0 1048576")]));
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10000);
        assert_eq!(writes(Mode::Unified, &Limit::BlkioWeight(500)), Some(vec![w("io", "io.weight", "default 4950")]));
    }

    #[test]
    fn cpu_quota_is_one_file_on_v2_and_two_on_v1() {
        let q = Limit::CpuQuota { quota: 20_000, period: 100_000 };
        assert_eq!(writes(Mode::Unified, &q), Some(vec![w("cpu", "cpu.max", "20000 100000")]));
        assert_eq!(
            writes(Mode::Legacy, &q),
            Some(vec![w("cpu", "cpu.cfs_period_us", 100000), w("cpu", "cpu.cfs_quota_us", 20000)])
        );
        let unlimited = Limit::CpuQuota { quota: -1, period: 50_000 };
        assert_eq!(writes(Mode::Unified, &unlimited), Some(vec![w("cpu", "cpu.max", "max 50000")]));
    }

    #[test]
    fn shares_become_weight() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(512), 59);
        assert_eq!(shares_to_weight(0), 100);
        assert_eq!(writes(Mode::Unified, &Limit::CpuShares(512)), Some(vec![w("cpu", "cpu.weight", 59)]));
        assert_eq!(writes(Mode::Hybrid, &Limit::CpuShares(512)), Some(vec![w("cpu", "cpu.shares", 512)]));
    }

    #[test]
    fn pids_zero_means_no_limit() {
        assert_eq!(pids_value(20), "20");
        assert_eq!(pids_value(0), "max");
        assert_eq!(pids_value(-1), "max");
        assert_eq!(writes(Mode::Unified, &Limit::Pids(0)), Some(vec![w("pids", "pids.max", "max")]));
    }
}
