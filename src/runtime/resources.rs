//! `linux.resources` and `linux.cgroupsPath`: the container's cgroup and its limits.
//!
//! Every field of `linux.resources` becomes a [`Limit`] (the file each one is written
//! to, on v1 and on v2, is `primitives/cgroups/files.rs`). A limit the host has no
//! file for is an error when it is written, never skipped; the two fields Linux has
//! dropped (kernel memory limits) are announced as not applied, as runc does.

use super::devices::node_of;
use super::{Rt, RtError};
use crate::primitives::cgroups::files::Throttle;
use crate::primitives::cgroups::{Cgroup, Hierarchy, Limit, Mode};
use crate::primitives::devices::DEVICES;
use oci_spec::runtime::Spec;

/// The controllers a container's cgroup joins, when this machine has them: on v1
/// every mounted hierarchy (as runc joins them all), on v2 every delegated controller.
const CONTROLLERS: [&str; 16] = [
    "memory",
    "cpu",
    "cpuacct",
    "pids",
    "cpuset",
    "devices",
    "freezer",
    "blkio",
    "io",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
    "systemd",
];

/// The cgroup of a container: `linux.cgroupsPath` (`..` cannot climb above the
/// root), else `learnctr/ID`. With `--systemd-cgroup` the path is systemd's
/// `slice:prefix:name`, made the cgroupfs path systemd would use (learnctr does not
/// ask systemd for a transient scope: it says so in one line).
pub fn cgroup_of(spec: &Spec, id: &str, systemd: bool) -> Rt<Cgroup> {
    let (hierarchy, wanted) = hierarchy_and_controllers();
    let path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone()).map(|p| p.display().to_string());
    Ok(match (path, systemd) {
        (Some(path), true) => {
            let fs_path = systemd_path(&path).ok_or_else(|| {
                RtError(format!("cgroupsPath \"{path}\" is not systemd's slice:prefix:name (--systemd-cgroup)"))
            })?;
            super::log::warn(&format!("--systemd-cgroup: no transient systemd scope is made; the cgroup is {fs_path}"));
            Cgroup::at_path(hierarchy, &fs_path, &wanted)
        }
        (Some(path), false) => Cgroup::at_path(hierarchy, &path, &wanted),
        (None, _) => Cgroup::new(hierarchy, id, &wanted),
    })
}

/// The hierarchy of this machine and the controllers a container joins in it.
fn hierarchy_and_controllers() -> (Hierarchy, Vec<&'static str>) {
    let hierarchy = Hierarchy::system();
    let mut usable = hierarchy.usable_controllers();
    // systemd's named hierarchy is no controller, so /proc/cgroups does not list it.
    if hierarchy.mode != Mode::Unified && hierarchy.root.join("systemd").is_dir() {
        usable.push("systemd".into());
    }
    let wanted = CONTROLLERS.into_iter().filter(|c| usable.iter().any(|u| u == c)).collect();
    (hierarchy, wanted)
}

/// The cgroup of an existing container, at the path its state names (`update`).
pub fn cgroup_at(path: &str) -> Cgroup {
    let (hierarchy, wanted) = hierarchy_and_controllers();
    Cgroup::at_path(hierarchy, path, &wanted)
}

/// systemd's `slice:prefix:name` as a cgroupfs path: `system.slice:docker:abc` is
/// `system.slice/docker-abc.scope`, and a nested slice `a-b.slice` lives in
/// `a.slice/a-b.slice` (systemd.slice(5)).
pub fn systemd_path(path: &str) -> Option<String> {
    let mut parts = path.split(':');
    let (slice, prefix, name) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || name.is_empty() || [slice, prefix, name].iter().any(|p| p.contains('/')) {
        return None;
    }
    let slice = if slice.is_empty() { "system.slice" } else { slice };
    let stem = slice.strip_suffix(".slice")?;
    let mut dirs = Vec::new();
    if stem != "-" {
        let words: Vec<&str> = stem.split('-').collect();
        if words.iter().any(|w| w.is_empty()) {
            return None;
        }
        for n in 1..=words.len() {
            dirs.push(format!("{}.slice", words[..n].join("-")));
        }
    }
    if name.ends_with(".slice") {
        dirs.push(name.to_string());
    } else if prefix.is_empty() {
        dirs.push(format!("{name}.scope"));
    } else {
        dirs.push(format!("{prefix}-{name}.scope"));
    }
    Some(dirs.join("/"))
}

/// The limits of `linux.resources`, in the order they are written, and the sentences
/// of what was asked but is not applied (kernel memory limits, which Linux removed).
pub fn limits(spec: &Spec) -> Rt<(Vec<Limit>, Vec<String>)> {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().clone()) else { return Ok((out, notes)) };
    if let Some(m) = r.memory() {
        let limit = m.limit().filter(|l| *l != 0);
        if let Some(limit) = limit {
            out.push(Limit::MemoryMax(limit));
        }
        if let Some(swap) = m.swap().filter(|s| *s != 0) {
            match limit {
                None if swap > 0 => {
                    return Err(RtError("memory.swap needs memory.limit too: swap counts memory plus swap".into()))
                }
                Some(l) if l > 0 && swap > 0 && swap < l => {
                    return Err(RtError(format!(
                        "memory.swap ({swap}) is memory plus swap and cannot be below memory.limit ({l})"
                    )))
                }
                _ => out.push(Limit::MemorySwap { memory: limit.unwrap_or(0), swap }),
            }
        }
        if let Some(reservation) = m.reservation().filter(|r| *r != 0) {
            out.push(Limit::MemoryReservation(reservation));
        }
        if let Some(swappiness) = m.swappiness() {
            if swappiness > 100 {
                return Err(RtError(format!("memory.swappiness is {swappiness}: it goes from 0 to 100")));
            }
            out.push(Limit::Swappiness(swappiness));
        }
        if m.disable_oom_killer() == Some(true) {
            out.push(Limit::OomKillDisable);
        }
        // Kernel memory limits are gone from Linux (5.16 made memory.kmem.limit_in_bytes
        // a file that accepts and ignores every value); only v1's TCP buffer limit
        // still works.
        if m.kernel().is_some() {
            notes.push(
                "memory.kernel is not applied: Linux no longer limits kernel memory (runc ignores it too)".into(),
            );
        }
        if let Some(tcp) = m.kernel_tcp() {
            if crate::primitives::cgroups::hierarchy::detect_mode() == Mode::Unified {
                notes.push(
                    "memory.kernelTCP is not applied: cgroup v2 has no TCP buffer limit (runc ignores it too)".into(),
                );
            } else {
                out.push(Limit::KernelTcp(tcp));
            }
        }
    }
    if let Some(cpu) = r.cpu() {
        if let Some(shares) = cpu.shares().filter(|s| *s > 0) {
            out.push(Limit::CpuShares(shares));
        }
        // As in runc, 0 means "not set" in every cpu field (Docker's `update` sends
        // all of them, zeros included).
        let period = cpu.period().filter(|p| *p != 0);
        if cpu.quota().is_some_and(|q| q != 0) || period.is_some() {
            out.push(Limit::CpuQuota {
                quota: cpu.quota().filter(|q| *q != 0).unwrap_or(-1),
                period: period.unwrap_or(100_000),
            });
        }
        if let Some(burst) = cpu.burst() {
            out.push(Limit::CpuBurst(burst));
        }
        let (rt_runtime, rt_period) =
            (cpu.realtime_runtime().filter(|r| *r != 0), cpu.realtime_period().filter(|p| *p != 0));
        if rt_runtime.is_some() || rt_period.is_some() {
            out.push(Limit::CpuRealtime { runtime: rt_runtime.unwrap_or(0), period: rt_period.unwrap_or(1_000_000) });
        }
        if let Some(cpus) = cpu.cpus().clone().filter(|c| !c.is_empty()) {
            out.push(Limit::Cpus(cpus));
        }
        if let Some(mems) = cpu.mems().clone().filter(|m| !m.is_empty()) {
            out.push(Limit::Mems(mems));
        }
        if let Some(idle) = cpu.idle() {
            out.push(Limit::CpuIdle(idle));
        }
    }
    // pids.limit 0 is "not set" too (runc); -1 is no limit.
    if let Some(pids) = r.pids().filter(|p| p.limit() != 0) {
        out.push(Limit::Pids(pids.limit()));
    }
    if let Some(io) = r.block_io() {
        // 0 means "not set" (runc's rule; Docker writes `"weight": 0` unless asked).
        if let Some(weight) = io.weight().filter(|w| *w != 0) {
            out.push(Limit::BlkioWeight(weight));
        }
        if let Some(weight) = io.leaf_weight().filter(|w| *w != 0) {
            out.push(Limit::BlkioLeafWeight(weight));
        }
        for d in io.weight_device().as_deref().unwrap_or(&[]) {
            if d.leaf_weight().is_some() {
                return Err(RtError("blockIO.weightDevice[].leafWeight is not supported by learnctr".into()));
            }
            if let Some(weight) = d.weight() {
                out.push(Limit::BlkioDeviceWeight { major: d.major(), minor: d.minor(), weight });
            }
        }
        let lists = [
            (Throttle::ReadBps, io.throttle_read_bps_device()),
            (Throttle::WriteBps, io.throttle_write_bps_device()),
            (Throttle::ReadIops, io.throttle_read_iops_device()),
            (Throttle::WriteIops, io.throttle_write_iops_device()),
        ];
        for (kind, list) in lists {
            for d in list.as_deref().unwrap_or(&[]) {
                out.push(Limit::BlkioThrottle { kind, major: d.major(), minor: d.minor(), rate: d.rate() });
            }
        }
    }
    for h in r.hugepage_limits().as_deref().unwrap_or(&[]) {
        let size = h.page_size();
        if size.is_empty() || !size.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(RtError(format!("hugepageLimits: \"{size}\" is not a page size such as 2MB")));
        }
        out.push(Limit::Hugetlb { page_size: size.clone(), limit: h.limit().max(0) as u64 });
    }
    if let Some(net) = r.network() {
        if let Some(id) = net.class_id() {
            out.push(Limit::NetClassId(id));
        }
        for p in net.priorities().as_deref().unwrap_or(&[]) {
            out.push(Limit::NetPriority { interface: p.name().clone(), priority: p.priority() });
        }
    }
    let mut rdma: Vec<_> = r.rdma().clone().unwrap_or_default().into_iter().collect();
    rdma.sort_by(|a, b| a.0.cmp(&b.0));
    for (device, l) in rdma {
        out.push(Limit::Rdma { device, handles: l.hca_handles(), objects: l.hca_objects() });
    }
    let mut unified: Vec<_> = r.unified().clone().unwrap_or_default().into_iter().collect();
    unified.sort();
    for (file, value) in unified {
        if file.contains('/') || file.starts_with("cgroup.") || !file.contains('.') {
            return Err(RtError(format!(
                "linux.resources.unified: \"{file}\" is not a resource file of a cgroup v2 directory"
            )));
        }
        out.push(Limit::Unified { file, value });
    }
    out.extend(device_rules(spec));
    Ok((out, notes))
}

/// The devices every container needs, allowed after the bundle's rules as runc
/// allows them: each default device of /dev (`primitives::devices::DEVICES`: null,
/// zero, full, random, urandom, tty), then the terminals.
fn default_device_rules() -> impl Iterator<Item = String> {
    let nodes = DEVICES.iter().map(|d| rule(d.typ.letter(), d.major, d.minor, "rwm"));
    nodes.chain(TERMINALS.iter().map(|t| t.to_string()))
}

/// The terminals, allowed beside the default devices but made by no mknod in /dev:
/// /dev/console (5:1, as runc allows it), ptmx (5:2) and the pseudo-terminals
/// (136:*) are nodes of the container's own devpts (`/dev/ptmx` is a link to
/// `pts/ptmx`), which `process.terminal` needs.
const TERMINALS: [&str; 3] = ["c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"];

/// A cgroup device rule, as devices.allow reads it: `c 1:3 rwm`.
fn rule(typ: &str, major: impl std::fmt::Display, minor: impl std::fmt::Display, access: &str) -> String {
    format!("{typ} {major}:{minor} {access}")
}

/// `linux.resources.devices` in the order given, then the default devices and the
/// nodes `linux.devices` asks to create. No rules at all: no device control (as runc).
fn device_rules(spec: &Spec) -> Vec<Limit> {
    let mut out = Vec::new();
    let Some(rules) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()).and_then(|r| r.devices().clone())
    else {
        return out;
    };
    for d in rules {
        // A rule's type is written as config.json spells it (`a`, `b`, `c`).
        let typ = d.typ().map(|t| t.as_str().to_string()).unwrap_or_else(|| "a".into());
        let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_else(|| "*".into());
        let access = d.access().clone().unwrap_or_else(|| "rwm".into());
        out.push(Limit::Device { allow: d.allow(), rule: rule(&typ, num(d.major()), num(d.minor()), &access) });
    }
    for rule in default_device_rules() {
        out.push(Limit::Device { allow: true, rule });
    }
    for d in spec.linux().as_ref().and_then(|l| l.devices().clone()).unwrap_or_default() {
        let typ = node_of(d.typ()).rule_type().letter();
        out.push(Limit::Device { allow: true, rule: rule(typ, d.major(), d.minor(), "rwm") });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(resources: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({"ociVersion": "1.0.2", "linux": {"resources": resources}})).unwrap()
    }

    #[test]
    fn every_field_becomes_a_limit() {
        let spec = spec_with(serde_json::json!({
            "memory": {"limit": 100, "swap": 300, "reservation": 50, "swappiness": 10, "disableOOMKiller": true, "kernel": 1},
            "cpu": {"shares": 512, "quota": 20000, "period": 100000, "realtimeRuntime": 5, "cpus": "0", "idle": 1},
            "pids": {"limit": 20},
            "blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1024}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 1048576}],
            "network": {"classID": 7, "priorities": [{"name": "eth0", "priority": 3}]},
            "unified": {"memory.high": "1000"},
            "devices": [{"allow": false, "access": "rwm"}]
        }));
        let (limits, notes) = limits(&spec).unwrap();
        for expected in [
            Limit::MemoryMax(100),
            Limit::MemorySwap { memory: 100, swap: 300 },
            Limit::MemoryReservation(50),
            Limit::Swappiness(10),
            Limit::OomKillDisable,
            Limit::CpuShares(512),
            Limit::CpuQuota { quota: 20000, period: 100000 },
            Limit::CpuRealtime { runtime: 5, period: 1_000_000 },
            Limit::Cpus("0".into()),
            Limit::CpuIdle(1),
            Limit::Pids(20),
            Limit::BlkioWeight(500),
            Limit::BlkioThrottle { kind: Throttle::ReadBps, major: 8, minor: 0, rate: 1024 },
            Limit::Hugetlb { page_size: "2MB".into(), limit: 1048576 },
            Limit::NetClassId(7),
            Limit::NetPriority { interface: "eth0".into(), priority: 3 },
            Limit::Unified { file: "memory.high".into(), value: "1000".into() },
            Limit::Device { allow: false, rule: "a *:* rwm".into() },
            Limit::Device { allow: true, rule: "c 136:* rwm".into() },
        ] {
            assert!(limits.contains(&expected), "{expected:?} missing from {limits:?}");
        }
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn impossible_combinations_are_refused() {
        for bad in [
            serde_json::json!({"memory": {"swap": 300}}),
            serde_json::json!({"memory": {"limit": 300, "swap": 100}}),
            serde_json::json!({"memory": {"swappiness": 101}}),
            serde_json::json!({"unified": {"cgroup.procs": "1"}}),
            serde_json::json!({"unified": {"../memory.max": "1"}}),
            serde_json::json!({"hugepageLimits": [{"pageSize": "../x", "limit": 1}]}),
        ] {
            assert!(limits(&spec_with(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn systemd_paths_become_cgroupfs_paths() {
        assert_eq!(systemd_path("system.slice:docker:abc").as_deref(), Some("system.slice/docker-abc.scope"));
        assert_eq!(
            systemd_path("machine-libpod.slice:libpod:1").as_deref(),
            Some("machine.slice/machine-libpod.slice/libpod-1.scope")
        );
        assert_eq!(systemd_path(":crio:x").as_deref(), Some("system.slice/crio-x.scope"));
        for bad in ["/a/b", "a.slice:x", "a:b:c", "a.slice:../..:x", "a--b.slice:p:n"] {
            assert_eq!(systemd_path(bad), None, "{bad}");
        }
    }

    /// The rules written, in order: the bundle's, the default devices, the terminals,
    /// then one per `linux.devices` node (a FIFO's says `c`, as it always has).
    #[test]
    fn device_rules_are_the_bundles_then_the_defaults_then_the_nodes() {
        let spec: Spec = serde_json::from_value(serde_json::json!({"ociVersion": "1.0.2", "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "b", "major": 8, "access": "r"}]},
            "devices": [
                {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0},
                {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229},
                {"path": "/dev/u", "type": "u", "major": 4, "minor": 1},
                {"path": "/dev/pipe", "type": "p", "major": 0, "minor": 0}
            ]}})).unwrap();
        let rules: Vec<String> = device_rules(&spec)
            .into_iter()
            .map(|l| match l {
                Limit::Device { allow, rule } => format!("{} {rule}", if allow { "allow" } else { "deny" }),
                other => panic!("{other:?}"),
            })
            .collect();
        let expected = [
            "deny a *:* rwm",
            "allow b 8:* r",
            "allow c 1:3 rwm",
            "allow c 1:5 rwm",
            "allow c 1:7 rwm",
            "allow c 1:8 rwm",
            "allow c 1:9 rwm",
            "allow c 5:0 rwm",
            "allow c 5:1 rwm",
            "allow c 5:2 rwm",
            "allow c 136:* rwm",
            "allow b 8:0 rwm",
            "allow c 10:229 rwm",
            "allow c 4:1 rwm",
            "allow c 0:0 rwm",
        ];
        assert_eq!(rules, expected);
    }

    #[test]
    fn no_device_rules_means_no_device_control() {
        let (limits, _) = limits(&spec_with(serde_json::json!({"pids": {"limit": 5}}))).unwrap();
        assert!(!limits.iter().any(|l| matches!(l, Limit::Device { .. })));
    }
}
