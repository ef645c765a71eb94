//! `linux.sysctl`: kernel settings a container may change, because a namespace of its
//! own holds them. Everything else under `/proc/sys` is the host's, for every process
//! on the machine: `kernel.core_pattern` set from a container would run a program of
//! its choice as the host's root the next time anything crashes.
//!
//! The rules are runc's (`libcontainer/configs/validate`):
//!
//! | key                                   | isolated by                 |
//! |---------------------------------------|-----------------------------|
//! | `kernel.msg*`, `kernel.sem`, `kernel.shm*`, `fs.mqueue.*` | a new ipc namespace |
//! | `net.*`                               | a network namespace that is not the host's |
//! | `kernel.domainname`                   | a new uts namespace         |
//! | `kernel.hostname`                     | refused: config.json's `hostname` sets it |
//! | anything else                         | refused: no namespace holds it |
//!
//! The keys are written after pivot_root, through the container's own `/proc`, and
//! before `/proc/sys` is made read-only.

/// What config.json's namespaces give the container, as far as sysctls care.
pub struct Namespaces {
    pub new_ipc: bool,
    pub new_uts: bool,
    /// A network namespace that is not the host's (new, or joined and different).
    pub own_net: bool,
}

const IPC_KEYS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Whether `key` may be set in a container with these namespaces; the sentence if not.
pub fn check(key: &str, ns: &Namespaces) -> Result<(), String> {
    // `/proc/sys/` + the key with dots as slashes: a slash or an empty part would
    // walk elsewhere in /proc/sys (`net.x/../../kernel/core_pattern`).
    if key.is_empty() || key.contains('/') || key.split('.').any(|part| part.is_empty()) {
        return Err(format!("the sysctl \"{key}\" is not a key: use dotted names such as net.ipv4.ip_forward"));
    }
    if IPC_KEYS.contains(&key) || key.starts_with("fs.mqueue.") {
        return if ns.new_ipc {
            Ok(())
        } else {
            Err(format!("the sysctl {key} would change the host's: it needs a new ipc namespace"))
        };
    }
    if key.starts_with("net.") {
        return if ns.own_net {
            Ok(())
        } else {
            Err(format!("the sysctl {key} would change the host's: it needs a network namespace of its own"))
        };
    }
    match key {
        "kernel.domainname" if ns.new_uts => Ok(()),
        "kernel.hostname" if ns.new_uts => {
            Err("the sysctl kernel.hostname conflicts with config.json's \"hostname\": set that instead".into())
        }
        "kernel.domainname" | "kernel.hostname" => {
            Err(format!("the sysctl {key} would change the host's: it needs a new uts namespace"))
        }
        _ => Err(format!("the sysctl {key} is not isolated by any namespace: a container may not set it")),
    }
}

/// Where the key's file is, inside the container's `/proc`.
pub fn file_of(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Namespaces = Namespaces { new_ipc: true, new_uts: true, own_net: true };
    const NONE: Namespaces = Namespaces { new_ipc: false, new_uts: false, own_net: false };

    #[test]
    fn namespaced_keys_need_their_namespace() {
        for key in ["net.ipv4.ip_unprivileged_port_start", "kernel.shmmax", "fs.mqueue.msg_max", "kernel.domainname"] {
            assert_eq!(check(key, &ALL), Ok(()), "{key}");
            assert!(check(key, &NONE).unwrap_err().contains("host"), "{key}");
        }
    }

    #[test]
    fn host_keys_and_paths_are_refused() {
        for key in ["kernel.core_pattern", "vm.overcommit_memory", "kernel.hostname", "fs.file-max"] {
            assert!(check(key, &ALL).is_err(), "{key}");
        }
        for key in ["net.ipv4/../../kernel/core_pattern", "net..ipv4", "", "net.ipv4."] {
            assert!(check(key, &ALL).unwrap_err().contains("not a key"), "{key}");
        }
        assert_eq!(file_of("net.ipv4.ping_group_range"), "/proc/sys/net/ipv4/ping_group_range");
    }
}
