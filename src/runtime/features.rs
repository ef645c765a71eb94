//! `learnctr features`: what this runtime implements, as the runtime spec's
//! features.md defines it. Engines read it to decide what they may ask for; every
//! entry here is what the code does (the unit tests hold each list to the code).

use serde_json::json;

/// The runtime spec version learnctr implements (and writes in `state`).
pub const SPEC_VERSION: &str = "1.0.2";

/// Mount options learnctr turns into mount flags (`primitives/mounts.rs`); any other
/// option goes to the filesystem as data.
const MOUNT_OPTIONS: [&str; 30] = [
    "async",
    "atime",
    "bind",
    "dev",
    "diratime",
    "exec",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nomand",
    "norelatime",
    "nosuid",
    "private",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "slave",
    "strictatime",
    "suid",
    "sync",
    "unbindable",
];

pub fn json() -> String {
    let capabilities: Vec<String> =
        caps::all().iter().map(|c| c.to_string()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let value = json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": capabilities,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                              "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": [native_arch()],
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                               "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                   "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
            },
            "apparmor": {"enabled": super::spec::apparmor_enabled()},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {"io.github.learnctr.version": env!("CARGO_PKG_VERSION")}
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// The one architecture seccomp rules are compiled for (this machine's).
fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "aarch64" => "SCMP_ARCH_AARCH64",
        "x86" => "SCMP_ARCH_X86",
        "arm" => "SCMP_ARCH_ARM",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "powerpc64" => "SCMP_ARCH_PPC64LE",
        "s390x" => "SCMP_ARCH_S390X",
        _ => "SCMP_ARCH_NATIVE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_features_are_the_runtime_specs_shape() {
        let text = json();
        let parsed: oci_spec::runtime::Features = serde_json::from_str(&text).expect("features.md's schema");
        assert_eq!(parsed.oci_version_max(), SPEC_VERSION);
    }

    #[test]
    fn every_listed_mount_option_is_a_flag_not_data() {
        for option in MOUNT_OPTIONS {
            let o = crate::primitives::mounts::parse_options(&[option]);
            assert!(o.data.is_empty(), "{option} would go to the filesystem as data");
        }
        // And one that is not listed is data.
        assert_eq!(crate::primitives::mounts::parse_options(&["mode=755"]).data, ["mode=755"]);
    }

    #[test]
    fn every_listed_seccomp_action_compiles() {
        for action in [
            "SCMP_ACT_ALLOW",
            "SCMP_ACT_ERRNO",
            "SCMP_ACT_KILL",
            "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_LOG",
            "SCMP_ACT_TRAP",
        ] {
            let profile = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": action}]});
            let s: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(profile).unwrap();
            assert!(super::super::seccomp_profile::compile(&s).is_ok(), "{action}");
        }
    }
}
