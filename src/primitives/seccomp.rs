//! seccomp: a filter in the kernel that looks at every system call a process makes.
//!
//! A seccomp filter is a small BPF program. Installed once, it runs on every system
//! call of the process and its children, and cannot be removed: here, calls named in
//! a deny list fail with EPERM, everything else is allowed (a "deny list" profile,
//! like Docker's default profile inverted into its essentials).
//!
//! The `seccompiler` crate (from Firecracker; pure Rust, no C library to install)
//! turns names into this architecture's syscall numbers and compiles the BPF. The
//! install itself is one `seccomp(2)` call through `kernel/`, so it is in the trace —
//! and it does *not* set no_new_privs by itself, so lesson 6 can show when that is
//! needed.

use super::error::Result;
use super::kernel::Kernel;
use seccompiler::TargetArch;

/// Lesson 6's first filter: four calls a container has no business making.
pub const LESSON_DENY: [&str; 4] = ["unshare", "mount", "keyctl", "ptrace"];

/// The default profile the finale uses: system calls that change the whole machine,
/// escape namespaces, or reach the kernel's less isolated parts (keys, BPF, modules,
/// clocks, swap, reboot, tracing other processes). In the spirit of Docker's default
/// profile, which allows a list instead; a name this architecture does not have (such
/// as `iopl` on arm64) is left out.
pub const DEFAULT_DENY: [&str; 45] = [
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "mount",
    "move_pages",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "set_mempolicy",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "sysfs",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
];

/// A compiled profile: its name, the calls it denies, the BPF program.
pub struct Profile {
    pub name: String,
    /// `SECCOMP_FILTER_FLAG_*` to install it with (config.json's `flags`), usually 0.
    pub flags: u32,
    pub denied: Vec<String>,
    pub program: Vec<libc::sock_filter>,
}

/// The architecture learnctr was built for (the one it runs on).
pub fn this_arch() -> std::result::Result<TargetArch, String> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| format!("seccomp: no syscall table for {}", std::env::consts::ARCH))
}

/// A profile by name: `lesson` (the four calls) or `default` (the finale's).
pub fn named(name: &str, arch: TargetArch) -> std::result::Result<Profile, String> {
    match name {
        "lesson" => deny(name, &LESSON_DENY, arch, false),
        "default" => deny(name, &DEFAULT_DENY, arch, true),
        other => Err(format!("unknown seccomp profile {other}: choose lesson or default")),
    }
}

/// Compile a filter that fails the `names` with EPERM and allows everything else.
/// With `skip_unknown`, names this architecture does not have are left out; without
/// it they are an error.
pub fn deny<S: AsRef<str>>(
    profile: &str,
    names: &[S],
    arch: TargetArch,
    skip_unknown: bool,
) -> std::result::Result<Profile, String> {
    let all: Vec<String> = names.iter().map(|n| n.as_ref().to_string()).collect();
    let denied = if skip_unknown { known(all, arch) } else { all };
    let program = compile(&denied, arch)?;
    Ok(Profile { name: profile.to_string(), flags: 0, denied, program })
}

/// The names this architecture has. seccompiler names the first unknown one in its
/// error: drop it and try again (one compilation when all are known).
fn known(mut names: Vec<String>, arch: TargetArch) -> Vec<String> {
    loop {
        let Err(message) = compile(&names, arch) else { return names };
        let marker = "Invalid syscall name: ";
        let unknown = message.find(marker).and_then(|at| message[at + marker.len()..].split(' ').next());
        match unknown {
            Some(bad) if names.iter().any(|n| n == bad) => names.retain(|n| n != bad),
            _ => return names,
        }
    }
}

fn compile<S: AsRef<str>>(names: &[S], arch: TargetArch) -> std::result::Result<Vec<libc::sock_filter>, String> {
    let filter: Vec<serde_json::Value> = names.iter().map(|n| serde_json::json!({ "syscall": n.as_ref() })).collect();
    let json = serde_json::json!({
        "learnctr": { "mismatch_action": "allow", "filter_action": { "errno": libc::EPERM }, "filter": filter }
    });
    let map = seccompiler::compile_from_json(json.to_string().as_bytes(), arch).map_err(|e| e.to_string())?;
    let program = map.get("learnctr").ok_or("seccompiler returned no program")?;
    Ok(program.iter().map(|i| libc::sock_filter { code: i.code, jt: i.jt, jf: i.jf, k: i.k }).collect())
}

/// A filter from config.json: each rule (a call and its argument conditions, in
/// seccompiler's JSON) gets `filter_action`, everything else `default`. Calls this
/// architecture does not have are left out, as runc leaves them out.
pub fn compile_rules(
    name: &str,
    rules: &[(String, Vec<serde_json::Value>)],
    default: serde_json::Value,
    filter_action: serde_json::Value,
) -> Result<Profile> {
    let arch = this_arch().map_err(super::Error::Child)?;
    let names = known(rules.iter().map(|(n, _)| n.clone()).collect(), arch);
    let known: Vec<&(String, Vec<serde_json::Value>)> = rules.iter().filter(|(n, _)| names.contains(n)).collect();
    let filter: Vec<serde_json::Value> = known
        .iter()
        .map(|(n, args)| match args.is_empty() {
            true => serde_json::json!({ "syscall": n }),
            false => serde_json::json!({ "syscall": n, "args": args }),
        })
        .collect();
    let json = serde_json::json!({ "learnctr": { "mismatch_action": default, "filter_action": filter_action, "filter": filter } });
    let map = seccompiler::compile_from_json(json.to_string().as_bytes(), arch)
        .map_err(|e| super::Error::Child(e.to_string()))?;
    let program = map.get("learnctr").ok_or_else(|| super::Error::Child("no program".into()))?;
    let mut denied: Vec<String> = known.iter().map(|(n, _)| n.clone()).collect();
    denied.dedup();
    Ok(Profile {
        flags: 0,
        name: name.to_string(),
        denied,
        program: program.iter().map(|i| libc::sock_filter { code: i.code, jt: i.jt, jf: i.jf, k: i.k }).collect(),
    })
}

/// Install a compiled profile in this process (and every child it will have).
///
/// On x86_64 a second, tiny filter is installed too (the kernel runs every filter and
/// keeps the most restrictive answer): the x32 ABI numbers the same system
/// calls with bit 30 set (`__X32_SYSCALL_BIT`), and a deny list written with x86_64
/// numbers would let `unshare | 0x40000000` through. Docker's profile is an allow list
/// and does not have this problem; a deny list must close the door itself.
pub fn install(k: &dyn Kernel, profile: &Profile) -> Result<()> {
    if cfg!(target_arch = "x86_64") {
        let label = "x32 system calls (nr >= 0x40000000) → EPERM".to_string();
        k.seccomp(label, 0, x32_guard())?;
    }
    let label = format!("profile \"{}\": {} calls → EPERM", profile.name, profile.denied.len());
    k.seccomp(label, profile.flags, profile.program.clone())
}

/// `if arch == x86_64 && nr >= 0x40000000 { return EPERM } else { allow }`, in BPF.
fn x32_guard() -> Vec<libc::sock_filter> {
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let ins = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter { code: code as u16, jt, jf, k };
    let (ld_abs, jeq, jge, ret) = (
        libc::BPF_LD | libc::BPF_W | libc::BPF_ABS,
        libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
        libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K,
        libc::BPF_RET | libc::BPF_K,
    );
    vec![
        ins(ld_abs, 0, 0, 4),              // A = seccomp_data.arch
        ins(jeq, 0, 3, AUDIT_ARCH_X86_64), // another arch: allow (the profile decides)
        ins(ld_abs, 0, 0, 0),              // A = seccomp_data.nr
        ins(jge, 0, 1, X32_SYSCALL_BIT),   // an x32 number?
        ins(ret, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        ins(ret, 0, 0, libc::SECCOMP_RET_ALLOW),
    ]
}

/// `Seccomp:` and `Seccomp_filters:` of `/proc/PID/status` (0 none, 1 strict, 2 filter).
pub fn status(pid: Option<i32>) -> (String, String) {
    let path = pid.map(|p| format!("/proc/{p}/status")).unwrap_or_else(|| "/proc/self/status".into());
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let field =
        |name: &str| text.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_default();
    (field("Seccomp:"), field("Seccomp_filters:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lesson_profile_compiles_for_both_architectures() {
        for arch in [TargetArch::x86_64, TargetArch::aarch64] {
            let p = named("lesson", arch).unwrap();
            assert_eq!(p.denied, LESSON_DENY);
            assert!(p.program.len() > LESSON_DENY.len(), "a BPF program with a check per call");
        }
    }

    #[test]
    fn the_default_profile_skips_what_an_architecture_lacks() {
        let x86 = named("default", TargetArch::x86_64).unwrap();
        let arm = named("default", TargetArch::aarch64).unwrap();
        assert!(x86.denied.contains(&"iopl".to_string()));
        assert!(!arm.denied.contains(&"iopl".to_string()), "arm64 has no iopl");
        for name in ["mount", "unshare", "keyctl", "ptrace", "bpf", "reboot"] {
            assert!(arm.denied.contains(&name.to_string()) && x86.denied.contains(&name.to_string()), "{name}");
        }
        assert!(x86.denied.len() > 35 && arm.denied.len() > 25);
    }

    #[test]
    fn an_unknown_call_or_profile_is_refused() {
        assert!(deny("x", &["not_a_syscall"], TargetArch::x86_64, false).is_err());
        assert!(named("paranoid", TargetArch::x86_64).is_err());
    }

    #[test]
    fn the_filter_checks_the_architecture_first() {
        // seccompiler starts every program by loading seccomp_data.arch and killing
        // the process on a mismatch (a 32-bit call on a 64-bit kernel cannot sneak by).
        let p = named("lesson", TargetArch::x86_64).unwrap();
        assert_eq!(p.program[0].k, 4, "offset of seccomp_data.arch");
    }
}
