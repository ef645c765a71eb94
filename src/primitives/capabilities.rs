//! Capabilities: root's powers, split into about 40 pieces.
//!
//! A process has five capability sets, each a 64-bit mask (`/proc/PID/status`):
//! - **bounding** (CapBnd): the most it can ever get; dropping from it is forever;
//! - **permitted** (CapPrm): what it may switch on;
//! - **effective** (CapEff): what is switched on now — what the kernel checks;
//! - **inheritable** (CapInh): what may pass through `execve` to a program whose file
//!   allows it;
//! - **ambient** (CapAmb): what passes through `execve` to any program (it must also be
//!   permitted and inheritable).
//!
//! Names and bit numbers come from the `caps` crate; the changes go through
//! `kernel/`, so each `prctl`/`capset` is in the trace.

pub use super::capability_mask::{parse, Mask};
use super::error::Result;
use super::kernel::Kernel;

/// The five sets, in the order `/proc/PID/status` lists them.
pub const SETS: [(&str, &str); 5] = [
    ("CapInh", "inheritable"),
    ("CapPrm", "permitted"),
    ("CapEff", "effective"),
    ("CapBnd", "bounding"),
    ("CapAmb", "ambient"),
];

/// What `runc spec` writes (the course notes' config.json): three capabilities.
pub const RUNC_SPEC: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// The default set of Docker and of containerd/runc in Kubernetes (moby's
/// `oci/caps/defaults.go`): 14 capabilities.
pub const DOCKER_DEFAULT: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The five masks of a process, read from `/proc/PID/status` (None: ourselves).
pub fn of_process(pid: Option<i32>) -> std::io::Result<Vec<(&'static str, Mask)>> {
    let path = pid.map(|p| format!("/proc/{p}/status")).unwrap_or_else(|| "/proc/self/status".into());
    let status = std::fs::read_to_string(path)?;
    Ok(SETS
        .iter()
        .filter_map(|(field, name)| {
            let line = status.lines().find(|l| l.starts_with(&format!("{field}:")))?;
            Some((*name, Mask::from_hex(line.split_whitespace().nth(1)?)?))
        })
        .collect())
}

/// Keep only `keep`, the way runc applies `runc spec`'s config.json: the bounding set
/// first (it limits all the others and can never grow back), then effective and
/// permitted in one `capset` with the inheritable set empty, then the ambient set
/// cleared. runc's spec names no inheritable and no ambient capabilities: an
/// inheritable set lets a program with file capabilities gain them across `execve`
/// (CVE-2022-29162 in runc, CVE-2022-24769 in Docker, fixed by leaving it empty).
pub fn restrict(k: &dyn Kernel, keep: Mask) -> Result<()> {
    drop_bounding_except(k, keep)?;
    k.capset(keep, keep, Mask(0))?;
    k.clear_ambient()
}

/// Drop from the bounding set every capability not in `keep`, for good: no later
/// `execve` of a file with capabilities can gain them back. Only those still in the
/// set are dropped (each drop is one `prctl`, in the trace).
pub fn drop_bounding_except(k: &dyn Kernel, keep: Mask) -> Result<()> {
    for cap in Mask(!keep.0).capabilities() {
        if caps::has_cap(None, caps::CapSet::Bounding, cap).unwrap_or(false) {
            k.drop_bounding(cap)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::Fake;

    #[test]
    fn masks_decode_to_names_and_back() {
        let m = Mask::from_names(&RUNC_SPEC).unwrap();
        assert_eq!(m.0, (1 << 5) | (1 << 10) | (1 << 29));
        assert_eq!(m.names(), vec!["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]);
        assert_eq!(Mask::from_hex("00000000a0000420"), Some(Mask((1 << 5) | (1 << 10) | (1 << 29) | (1 << 31))));
        assert_eq!(Mask::from_names(&["kill", "cap_net_bind_service"]).unwrap(), Mask((1 << 5) | (1 << 10)));
        assert!(Mask::from_names(&["CAP_FLY"]).is_err());
        assert_eq!(Mask::from_hex("zz"), None);
    }

    #[test]
    fn unknown_high_bits_are_shown_not_hidden() {
        let m = Mask(1 << 63 | 1);
        assert_eq!(m.names(), vec!["CAP_CHOWN".to_string(), "cap_63".to_string()]);
        assert_eq!(Mask(0).summary(), "—");
        assert!(Mask(u64::MAX).summary().starts_with("all "));
    }

    #[test]
    fn docker_default_has_fourteen() {
        assert_eq!(Mask::from_names(&DOCKER_DEFAULT).unwrap().names().len(), 14);
    }

    /// Set in the copy of the test that runs in a new user namespace.
    const IN_NEW_USERNS: &str = "LEARNCTR_TEST_IN_NEW_USERNS";

    /// `restrict` drops only what the bounding set holds, and this host's may hold
    /// nothing to drop (a sandbox that emptied it); so the test runs again in a new user
    /// namespace, whose bounding set is always full (user_namespaces(7)).
    #[test]
    fn restrict_drops_the_bounding_set_first() {
        let fake = Fake::new();
        restrict(&fake, Mask::from_names(&["CAP_KILL"]).unwrap()).unwrap();
        let calls = fake.calls();
        let capset = calls.iter().position(|c| c.starts_with("capset(")).unwrap();
        assert!(calls[..capset].iter().all(|c| c.starts_with("prctl(PR_CAPBSET_DROP")), "{calls:?}");
        assert!(calls[capset].contains("effective=CAP_KILL"), "{}", calls[capset]);
        assert!(calls[capset].contains("inheritable=0"), "{}", calls[capset]);
        assert_eq!(calls[capset + 1], "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)");
        assert_eq!(calls.len(), capset + 2, "{calls:?}");
        if !crate::primitives::rerun::is_rerun(IN_NEW_USERNS) {
            return again_in_new_user_namespace();
        }
        // A full set: every capability this kernel has is dropped, in order, but CAP_KILL.
        let last: u8 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap().trim().parse().unwrap();
        let every =
            Mask(!0).capabilities().into_iter().filter(|c| c.index() <= last && *c != caps::Capability::CAP_KILL);
        let drops: Vec<String> = every.map(|c| format!("prctl(PR_CAPBSET_DROP, {c})")).collect();
        assert_eq!(calls[..capset], drops, "in a new user namespace");
    }

    fn again_in_new_user_namespace() {
        let test = format!("{}::restrict_drops_the_bounding_set_first", module_path!().split_once("::").unwrap().1);
        let mut unshare = std::process::Command::new("unshare");
        unshare.arg("--user");
        crate::primitives::rerun::rerun_under(unshare, &test, IN_NEW_USERNS, "in a new user namespace");
    }
}
