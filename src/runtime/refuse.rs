//! What config.json asks that learnctr cannot do, refused in one sentence before
//! anything is made; and what it asks that does not apply here, said in one line.
//!
//! A runtime that looks as if it applied a field and did not is the worst kind of
//! bug: the container's author believes in a protection that is not there. So every
//! field of the runtime spec is either applied (somewhere in `create` or the init),
//! refused here, or — where runc does the same — announced as not applied.

use super::spec::{apparmor_enabled, new_namespace};
use super::sysctl;
use super::{Rt, RtError};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::unix::fs::MetadataExt;

/// Check `spec`; the lines to print as warnings, or the sentence that refuses it.
pub fn check(spec: &Spec) -> Rt<Vec<String>> {
    let mut notes = Vec::new();
    let refuse = |what: &str| Err(RtError(format!("{what} is not supported by learnctr")));
    let linux = spec.linux().clone().unwrap_or_default();
    let process = spec.process().clone().unwrap_or_default();
    if spec.solaris().is_some() || spec.windows().is_some() || spec.vm().is_some() || spec.zos().is_some() {
        return refuse("a config.json for another platform (solaris, windows, vm, zos)");
    }
    // Without a mount namespace every mount would be the host's: none is made.
    if !super::spec::has_namespace(spec, oci_spec::runtime::LinuxNamespaceType::Mount)
        && spec.mounts().as_ref().is_some_and(|m| !m.is_empty())
    {
        notes.push(
            "there is no mount namespace: the mounts of config.json are not made (they would be the host's), \
             and the root filesystem is entered with chroot"
                .into(),
        );
    }
    if linux.intel_rdt().is_some() {
        return refuse("linux.intelRdt");
    }
    if linux.personality().is_some() {
        return refuse("linux.personality");
    }
    if linux.time_offsets().is_some() {
        return refuse("linux.timeOffsets (a time namespace)");
    }
    if linux.net_devices().is_some() {
        return refuse("linux.netDevices");
    }
    if linux.memory_policy().is_some() {
        return refuse("linux.memoryPolicy");
    }
    if linux.mount_label().is_some() || process.selinux_label().is_some() {
        if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
            return refuse("an SELinux label");
        }
        notes.push("SELinux is not enabled on this host: the SELinux labels are not applied (as with runc)".into());
    }
    if let Some(profile) = process.apparmor_profile() {
        if !apparmor_enabled() {
            notes.push(format!(
                "AppArmor is not enabled on this host: the profile {profile} is not applied (as with runc)"
            ));
        }
    }
    if process.scheduler().is_some() {
        return refuse("process.scheduler");
    }
    if process.exec_cpu_affinity().is_some() {
        return refuse("process.execCPUAffinity");
    }
    if process.console_size().is_some() && !process.terminal().unwrap_or(false) {
        return Err(RtError("process.consoleSize needs \"terminal\": true".into()));
    }
    let own_uts = own_namespace(spec, LinuxNamespaceType::Uts, "uts");
    if spec.domainname().is_some() && !own_uts {
        return Err(RtError("\"domainname\" needs a uts namespace of its own, or it would change the host's".into()));
    }
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !own_uts {
        return Err(RtError("\"hostname\" needs a uts namespace of its own, or it would change the host's".into()));
    }
    // Paths that climb: `..` in a mount's destination or a device's path would be read
    // differently by every runtime; a device outside /dev is no device node of ours.
    let climbs = |p: &std::path::Path| p.components().any(|c| c == std::path::Component::ParentDir);
    for m in spec.mounts().as_deref().unwrap_or(&[]) {
        if climbs(m.destination()) || !m.destination().is_absolute() {
            return Err(RtError(format!(
                "the mount destination {} must be an absolute path without \"..\"",
                m.destination().display()
            )));
        }
    }
    for d in linux.devices().as_deref().unwrap_or(&[]) {
        if climbs(d.path()) || !d.path().starts_with("/dev/") {
            return Err(RtError(format!(
                "the device {} must be a path inside /dev, without \"..\"",
                d.path().display()
            )));
        }
    }
    for m in spec.mounts().as_deref().unwrap_or(&[]) {
        let idmapped = m.options().as_deref().unwrap_or(&[]).iter().any(|o| o == "idmap" || o == "ridmap");
        if idmapped || m.uid_mappings().is_some() || m.gid_mappings().is_some() {
            return refuse(&format!("the id-mapped mount at {}", m.destination().display()));
        }
    }
    if let Some(seccomp) = linux.seccomp() {
        if seccomp.listener_path().is_some() {
            return refuse("linux.seccomp.listenerPath (seccomp notifications)");
        }
        let native = native_arch();
        let others: Vec<String> = seccomp
            .architectures()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|a| format!("{a:?}"))
            .filter(|a| !native.iter().any(|n| n == a))
            .collect();
        if !others.is_empty() {
            notes.push(format!(
                "seccomp: the rules are compiled for {} only; a program of another architecture ({}) is killed at its first system call",
                std::env::consts::ARCH,
                others.join(", ")
            ));
        }
    }
    let namespaces = sysctl::Namespaces {
        new_ipc: new_namespace(spec, LinuxNamespaceType::Ipc),
        new_uts: new_namespace(spec, LinuxNamespaceType::Uts),
        own_net: own_namespace(spec, LinuxNamespaceType::Network, "net"),
    };
    let mut keys: Vec<&String> = linux.sysctl().as_ref().map(|s| s.keys().collect()).unwrap_or_default();
    keys.sort();
    for key in keys {
        sysctl::check(key, &namespaces).map_err(RtError)?;
    }
    notes.extend(ambient_notes(spec));
    Ok(notes)
}

/// A namespace that is not the host's: a new one, or a joined one whose inode
/// differs from ours (`/proc/self/ns/NAME`).
fn own_namespace(spec: &Spec, kind: LinuxNamespaceType, name: &str) -> bool {
    let entry = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|ns| ns.iter().find(|n| n.typ() == kind).cloned());
    match entry {
        None => false,
        Some(n) => match n.path() {
            None => true,
            Some(path) => {
                let id = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
                id(path) != id(&std::path::Path::new("/proc/self/ns").join(name))
            }
        },
    }
}

/// The seccomp architecture names of this machine (as oci-spec prints them).
fn native_arch() -> Vec<String> {
    let names: &[&str] = match std::env::consts::ARCH {
        "x86_64" => &["ScmpArchX86_64", "ScmpArchX32"],
        "aarch64" => &["ScmpArchAarch64"],
        "riscv64" => &["ScmpArchRiscv64"],
        _ => &[],
    };
    names.iter().map(|s| s.to_string()).collect()
}

/// Ambient capabilities the kernel will not raise because they are not also
/// inheritable (and permitted): runc tries and ignores the failure, so learnctr
/// raises only those it can, and says which it cannot (runc spec's own bundle has
/// ambient capabilities and no inheritable ones).
fn ambient_notes(spec: &Spec) -> Vec<String> {
    let Some(caps) = spec.process().as_ref().and_then(|p| p.capabilities().clone()) else { return Vec::new() };
    let inheritable = caps.inheritable().clone().unwrap_or_default();
    let permitted = caps.permitted().clone().unwrap_or_default();
    let missing: Vec<String> = caps
        .ambient()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !inheritable.contains(c) || !permitted.contains(c))
        .map(|c| format!("CAP_{}", c.to_string().trim_start_matches("CAP_")))
        .collect();
    if missing.is_empty() {
        return Vec::new();
    }
    let mut missing = missing;
    missing.sort();
    vec![format!(
        "ambient capabilities {} are not raised: the kernel raises only what is also inheritable and permitted (runc does the same)",
        missing.join(", ")
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        let mut base = serde_json::to_value(super::super::spec::default_spec(false).unwrap()).unwrap();
        json_merge(&mut base, json);
        serde_json::from_value(base).unwrap()
    }

    fn json_merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    json_merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    #[test]
    fn the_default_spec_passes() {
        assert!(check(&spec(serde_json::json!({}))).is_ok());
    }

    #[test]
    fn fields_learnctr_cannot_apply_are_refused() {
        for bad in [
            serde_json::json!({"linux": {"personality": {"domain": "LINUX"}}}),
            serde_json::json!({"process": {"scheduler": {"policy": "SCHED_FIFO"}}}),
            serde_json::json!({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x"}}}),
            serde_json::json!({"mounts": [{"destination": "/m", "type": "bind", "source": "/tmp", "options": ["bind", "idmap"]}]}),
            serde_json::json!({"linux": {"sysctl": {"kernel.core_pattern": "|/x"}}}),
        ] {
            let err = check(&spec(bad.clone())).unwrap_err().0;
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }

    #[test]
    fn ambient_without_inheritable_is_said() {
        let s = spec(serde_json::json!({"process": {"capabilities": {
            "bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"], "effective": ["CAP_KILL"], "inheritable": [], "ambient": ["CAP_KILL"]}}}));
        let notes = check(&s).unwrap();
        let caps = s.process().as_ref().unwrap().capabilities().clone().unwrap();
        assert!(notes.iter().any(|n| n.contains("KILL") && n.contains("not raised")), "{notes:?} {caps:?}");
    }
}
