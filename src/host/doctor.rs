//! `learnctr doctor`: can this machine run the course? Each problem with its fix.
//!
//! It only reads (files under /proc and /sys, `statfs`); it changes nothing, and it
//! works without root, saying what it could not check.

use crate::i18n::{t, tf};
use crate::instruments::probe;
use crate::primitives::cgroups::hierarchy::{self as cgroupfs, Mode};
use crate::primitives::namespaces::Namespace;
use crate::primitives::process;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Works, but the learner should know (or a lesson will be limited).
    Note,
    Problem,
    /// Could not be checked (usually: not root).
    Unknown,
}

pub struct Finding {
    pub status: Status,
    pub label: String,
    pub detail: String,
    pub fix: Option<String>,
}

fn finding(status: Status, label_key: &str, detail: String, fix: Option<String>) -> Finding {
    Finding { status, label: t(label_key), detail, fix }
}

pub fn examine() -> Vec<Finding> {
    let mut out = Vec::new();
    out.push(if process::is_root() {
        finding(Status::Ok, "doctor.root", t("doctor.root.yes"), None)
    } else {
        finding(Status::Note, "doctor.root", t("doctor.root.no"), Some(t("doctor.root.fix")))
    });
    out.push(kernel());
    out.push(namespaces());
    out.extend(user_namespaces());
    out.push(cgroups());
    out.push(overlay());
    out.push(net_module("veth", "doctor.veth"));
    out.push(net_module("bridge", "doctor.bridge"));
    out.push(root_propagation());
    out.push(environment());
    out.push(rootfs_cache());
    out
}

fn kernel() -> Finding {
    let release = probe::kernel_release();
    let (major, minor) = parse_version(&release);
    if (major, minor) >= (5, 4) {
        finding(Status::Ok, "doctor.kernel", release, None)
    } else {
        finding(Status::Problem, "doctor.kernel", release, Some(t("doctor.kernel.fix")))
    }
}

pub fn parse_version(release: &str) -> (u32, u32) {
    let mut parts = release.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty());
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor)
}

fn namespaces() -> Finding {
    let missing: Vec<&str> = Namespace::ALL.iter().filter(|ns| !ns.supported()).map(|ns| ns.proc_name()).collect();
    let all: Vec<&str> = Namespace::ALL.iter().map(|ns| ns.proc_name()).collect();
    if missing.is_empty() {
        finding(Status::Ok, "doctor.namespaces", all.join(" "), None)
    } else {
        finding(
            Status::Problem,
            "doctor.namespaces",
            tf("doctor.namespaces.missing", &[("list", &missing.join(" "))]),
            Some(t("doctor.namespaces.fix")),
        )
    }
}

fn read_sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// The kernel settings that forbid user namespaces: to processes without
/// CAP_SYS_ADMIN (Debian's sysctl, Ubuntu's AppArmor switch) or to everyone (a zero
/// limit). Each: the sysctl, the value that forbids, and the value `doctor` suggests.
const USERNS_SWITCHES: [(&str, &str, &str); 3] = [
    ("user.max_user_namespaces", "0", "15000"),
    ("kernel.unprivileged_userns_clone", "0", "1"),
    ("kernel.apparmor_restrict_unprivileged_userns", "1", "0"),
];

fn read_switch(name: &str) -> Option<String> {
    read_sysctl(&format!("/proc/sys/{}", name.replace('.', "/")))
}

/// The first of those settings that forbids user namespaces on this machine, if any:
/// `kernel.unprivileged_userns_clone = 0`.
pub fn userns_restriction() -> Option<String> {
    USERNS_SWITCHES
        .iter()
        .find(|(name, forbids, _)| read_switch(name).as_deref() == Some(*forbids))
        .map(|(name, value, _)| format!("{name} = {value}"))
}

fn user_namespaces() -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, (name, forbids, allows)) in USERNS_SWITCHES.iter().enumerate() {
        let value = read_switch(name);
        let blocked = value.as_deref() == Some(*forbids);
        let fix = blocked.then(|| format!("sudo sysctl -w {name}={allows}"));
        // The limit concerns everyone (root too); the two switches only users without root.
        let everyone = i == 0;
        match value {
            None if everyone => out.push(finding(Status::Unknown, "doctor.userns", t("doctor.unreadable"), None)),
            None => {}
            Some(v) if everyone => {
                let status = if blocked { Status::Problem } else { Status::Ok };
                out.push(finding(status, "doctor.userns", format!("{name} = {v}"), fix));
            }
            Some(v) => out.push(Finding {
                status: if blocked { Status::Note } else { Status::Ok },
                label: name.to_string(),
                detail: format!("{v} — {}", t("doctor.userns.unprivileged")),
                fix,
            }),
        }
    }
    out
}

fn cgroups() -> Finding {
    let mode = cgroupfs::detect_mode();
    let controllers = cgroupfs::usable_controllers(mode);
    let list = controllers.join(" ");
    let needed = ["memory", "cpu", "pids"];
    let missing: Vec<&str> = needed.iter().copied().filter(|c| !controllers.iter().any(|have| have == c)).collect();
    let (mode_key, mut status) = match mode {
        Mode::Unified => ("doctor.cgroup.v2", Status::Ok),
        Mode::Hybrid => ("doctor.cgroup.hybrid", Status::Ok),
        Mode::Legacy => ("doctor.cgroup.v1", Status::Ok),
        Mode::Missing => ("doctor.cgroup.missing", Status::Problem),
    };
    let mut fix = None;
    if mode == Mode::Missing {
        fix = Some(t("doctor.cgroup.missing.fix"));
    } else if !missing.is_empty() {
        status = Status::Problem;
        let key =
            if mode == Mode::Unified { "doctor.cgroup.controller.fix.v2" } else { "doctor.cgroup.controller.fix.v1" };
        fix = Some(tf(key, &[("list", &missing.join(" "))]));
    }
    finding(status, "doctor.cgroup", format!("{} — {}: {list}", t(mode_key), t("doctor.cgroup.controllers")), fix)
}

fn overlay() -> Finding {
    let listed =
        std::fs::read_to_string("/proc/filesystems").unwrap_or_default().lines().any(|l| l.ends_with("overlay"));
    let module = module_available("overlay");
    if listed || module {
        finding(Status::Ok, "doctor.overlay", t(if listed { "doctor.loaded" } else { "doctor.module" }), None)
    } else {
        finding(Status::Note, "doctor.overlay", t("doctor.absent"), Some("sudo modprobe overlay".into()))
    }
}

fn net_module(name: &str, key: &str) -> Finding {
    // As root, the real test: make one in a throwaway network namespace (it vanishes
    // with the namespace; the host never sees it).
    if process::is_root() {
        return match try_in_throwaway_namespace(name) {
            Ok(()) => finding(Status::Ok, key, t("doctor.works"), None),
            Err(e) if e.errno() == Some(nix::errno::Errno::EOPNOTSUPP) => {
                let release = probe::kernel_release();
                finding(
                    Status::Problem,
                    key,
                    t("doctor.absent"),
                    Some(tf("doctor.netmodule.fix", &[("module", &name), ("release", &release)])),
                )
            }
            Err(e) => finding(Status::Unknown, key, e.to_string(), None),
        };
    }
    if Path::new("/sys/module").join(name).exists() {
        finding(Status::Ok, key, t("doctor.loaded"), None)
    } else if module_available(name) {
        finding(Status::Ok, key, t("doctor.module"), None)
    } else {
        finding(Status::Unknown, key, t("doctor.unreadable"), None)
    }
}

/// Make a veth pair or a bridge inside a new, empty network namespace.
fn try_in_throwaway_namespace(kind: &str) -> crate::primitives::Result<()> {
    use crate::primitives::isolate::{self, Isolated, Plan};
    use crate::primitives::{netlink::Netlink, Kernel, Linux};
    let k: &dyn Kernel = &Linux;
    let scratch = Isolated::start(k, Plan::new(&[Namespace::Net]), isolate::stay)?;
    let netlink = Netlink::in_namespace_of(k, scratch.pid())?;
    let made = match kind {
        "veth" => netlink.add_veth(k, "learnctr-t0", "learnctr-t1"),
        _ => netlink.add_bridge(k, "learnctr-t2"),
    };
    crate::primitives::trace::take();
    made
}

/// Built into the kernel or present as a loadable module for the running kernel.
fn module_available(name: &str) -> bool {
    let dir = Path::new("/lib/modules").join(probe::kernel_release());
    let needle = format!("/{name}.ko");
    ["modules.builtin", "modules.dep"].iter().any(|f| {
        std::fs::read_to_string(dir.join(f)).unwrap_or_default().lines().any(|l| {
            let file = l.split(':').next().unwrap_or("");
            file.contains(&needle)
        })
    })
}

fn root_propagation() -> Finding {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let root = mountinfo.lines().find(|l| l.split_whitespace().nth(4) == Some("/"));
    let shared = root.is_some_and(|l| l.split(" - ").next().unwrap_or("").contains("shared:"));
    let key = if shared { "doctor.propagation.shared" } else { "doctor.propagation.private" };
    finding(Status::Ok, "doctor.propagation", t(key), None)
}

fn environment() -> Finding {
    let osrelease = read_sysctl("/proc/sys/kernel/osrelease").unwrap_or_default().to_lowercase();
    if osrelease.contains("microsoft") || osrelease.contains("wsl") {
        return finding(Status::Note, "doctor.environment", t("doctor.environment.wsl"), None);
    }
    let marker = Path::new("/.dockerenv").exists() || Path::new("/run/.containerenv").exists();
    let environ = std::fs::read("/proc/1/environ");
    let container_var = environ.as_ref().is_ok_and(|e| e.split(|b| *b == 0).any(|v| v.starts_with(b"container=")));
    if marker || container_var {
        finding(Status::Note, "doctor.environment", t("doctor.environment.container"), None)
    } else if environ.is_err() {
        finding(Status::Unknown, "doctor.environment", t("doctor.unreadable"), None)
    } else {
        finding(Status::Ok, "doctor.environment", t("doctor.environment.host"), None)
    }
}

fn rootfs_cache() -> Finding {
    let names = crate::course_rootfs::installed_names();
    if names.is_empty() {
        finding(Status::Note, "doctor.rootfs", t("doctor.rootfs.none"), Some("sudo learnctr rootfs fetch".into()))
    } else {
        finding(Status::Ok, "doctor.rootfs", names.join(", "), None)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_are_parsed() {
        assert_eq!(super::parse_version("6.18.44-fc-v657"), (6, 18));
        assert_eq!(super::parse_version("5.4.0-150-generic"), (5, 4));
        assert_eq!(super::parse_version("garbage"), (0, 0));
    }
}
