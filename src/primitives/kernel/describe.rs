//! Each [`Call`] in C notation: what the learner sees in the trace, written the way
//! `strace` writes it (flags by name, strings quoted, structures in braces).

use super::abi;
use super::call::{Call, TerminalIoctl};
use crate::primitives::capability_mask::Mask;
use crate::primitives::trace::{c_flags, c_opt_str, c_str};
use nix::sched::CloneFlags;

const CLONE_FLAGS: &[(u64, &str)] = &[
    (libc::CLONE_NEWNS as u64, "CLONE_NEWNS"),
    (libc::CLONE_NEWUTS as u64, "CLONE_NEWUTS"),
    (libc::CLONE_NEWIPC as u64, "CLONE_NEWIPC"),
    (libc::CLONE_NEWUSER as u64, "CLONE_NEWUSER"),
    (libc::CLONE_NEWPID as u64, "CLONE_NEWPID"),
    (libc::CLONE_NEWNET as u64, "CLONE_NEWNET"),
    (libc::CLONE_NEWCGROUP as u64, "CLONE_NEWCGROUP"),
    (libc::CLONE_NEWTIME as u64, "CLONE_NEWTIME"),
];

const MOUNT_FLAGS: &[(u64, &str)] = &[
    (libc::MS_RDONLY, "MS_RDONLY"),
    (libc::MS_NOSUID, "MS_NOSUID"),
    (libc::MS_NODEV, "MS_NODEV"),
    (libc::MS_NOEXEC, "MS_NOEXEC"),
    (libc::MS_REMOUNT, "MS_REMOUNT"),
    (libc::MS_NOATIME, "MS_NOATIME"),
    (libc::MS_BIND, "MS_BIND"),
    (libc::MS_MOVE, "MS_MOVE"),
    (libc::MS_REC, "MS_REC"),
    (libc::MS_UNBINDABLE, "MS_UNBINDABLE"),
    (libc::MS_PRIVATE, "MS_PRIVATE"),
    (libc::MS_SLAVE, "MS_SLAVE"),
    (libc::MS_SHARED, "MS_SHARED"),
    (libc::MS_RELATIME, "MS_RELATIME"),
    (libc::MS_STRICTATIME, "MS_STRICTATIME"),
];

const UMOUNT_FLAGS: &[(u64, &str)] = &[(libc::MNT_FORCE as u64, "MNT_FORCE"), (libc::MNT_DETACH as u64, "MNT_DETACH")];

/// `SECCOMP_FILTER_FLAG_*`.
pub const SECCOMP_FLAGS: &[(u64, &str)] = &[
    (1, "SECCOMP_FILTER_FLAG_TSYNC"),
    (2, "SECCOMP_FILTER_FLAG_LOG"),
    (4, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
    (8, "SECCOMP_FILTER_FLAG_NEW_LISTENER"),
    (16, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"),
    (32, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
];

impl Call {
    /// The call in C notation, as the trace shows it.
    pub fn describe(&self) -> String {
        match self {
            // Processes
            Call::Fork => "fork()".to_string(),
            Call::ForkIntoCgroup { cgroup_fd } => format!(
                "clone3({{flags=CLONE_INTO_CGROUP, exit_signal=SIGCHLD, cgroup={cgroup_fd}}}, {})",
                std::mem::size_of::<abi::CloneArgs>()
            ),
            Call::Execve { path, argv, env } => {
                format!("execve({}, [{}], [/* {} vars */])", c_str(path), c_strings(argv), env.len())
            }
            Call::Execveat { fd, argv, env } => {
                format!("execveat({fd}, \"\", [{}], [/* {} vars */], AT_EMPTY_PATH)", c_strings(argv), env.len())
            }
            Call::Kill { pid, signal } => format!("kill({pid}, {})", signal_name(*signal)),
            Call::Setsid => "setsid()".to_string(),
            Call::SetParentDeathSignal { signal } => format!("prctl(PR_SET_PDEATHSIG, {})", signal_name(*signal)),
            Call::SetChildSubreaper => "prctl(PR_SET_CHILD_SUBREAPER, 1)".to_string(),
            Call::SetDumpable { on } => format!("prctl(PR_SET_DUMPABLE, {})", u8::from(*on)),
            Call::Umask { mask } => format!("umask(0{mask:o})"),
            Call::Setrlimit { name, soft, hard, .. } => format!("setrlimit({name}, {{rlim_cur={soft}, rlim_max={hard}}})"),
            Call::IoprioSet { class, level } => {
                format!("ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE({class}, {level}))")
            }
            // Namespaces
            Call::Unshare { flags } => format!("unshare({})", clone_flags(*flags)),
            Call::UnshareX32 { flags } => {
                format!("syscall({:#x} /* x32 unshare */, {})", libc::SYS_unshare | 0x4000_0000, clone_flags(*flags))
            }
            Call::Setns { fd, nstype } => format!("setns({fd}, {})", clone_flags(*nstype)),
            Call::Sethostname { name } => format!("sethostname({}, {})", c_str(name), name.len()),
            Call::Setdomainname { name } => format!("setdomainname({}, {})", c_str(name), name.len()),
            // Mounts and the root
            Call::Mount { source, target, fstype, flags, data } => format!(
                "mount({}, {}, {}, {}, {})",
                c_opt_str(source.as_deref()),
                c_str(target),
                c_opt_str(fstype.as_deref()),
                c_flags(flags.bits(), MOUNT_FLAGS),
                c_opt_str(data.as_deref())
            ),
            Call::Umount2 { target, flags } => {
                format!("umount2({}, {})", c_str(target), c_flags(flags.bits() as u64, UMOUNT_FLAGS))
            }
            Call::OpenTreeClone { path } => {
                format!("open_tree(AT_FDCWD, {}, OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC)", c_str(path))
            }
            Call::MountSetattrReadOnly { fd } => {
                format!("mount_setattr({fd}, \"\", AT_EMPTY_PATH, {{attr_set=MOUNT_ATTR_RDONLY}}, 32)")
            }
            Call::Chroot { path } => format!("chroot({})", c_str(path)),
            Call::PivotRoot { new_root, put_old } => format!("pivot_root({}, {})", c_str(new_root), c_str(put_old)),
            Call::Chdir { path } => format!("chdir({})", c_str(path)),
            Call::GetcwdInside => "getcwd(buf, 4096)".to_string(),
            // Files
            Call::Open { path } => format!("openat(AT_FDCWD, {}, O_RDONLY|O_CLOEXEC)", c_str(path)),
            Call::OpenPath { path } => format!("openat(AT_FDCWD, {}, O_PATH|O_CLOEXEC)", c_str(path)),
            Call::OpenWrite { path } => format!("openat(AT_FDCWD, {}, O_WRONLY|O_CLOEXEC)", c_str(path)),
            Call::OpenWriteAt { dirfd, name } => format!("openat({dirfd}, {}, O_WRONLY|O_CLOEXEC)", c_str(name)),
            Call::OpenCreate { path, mode } => {
                format!("openat(AT_FDCWD, {}, O_WRONLY|O_CREAT|O_CLOEXEC, 0{mode:o})", c_str(path))
            }
            Call::Close { fd } => format!("close({fd})"),
            Call::Write { fd, data } => format!("write({fd}, {}, {})", c_str(&String::from_utf8_lossy(data)), data.len()),
            Call::WriteFile { path, data } => format!("write({}, {})", c_str(path), c_str(data)),
            Call::SetCloexec { fd } => format!("fcntl({fd}, F_SETFD, FD_CLOEXEC)"),
            Call::CloseRangeCloexec { first } => format!("close_range({first}, ~0U, CLOSE_RANGE_CLOEXEC)"),
            Call::Dup2 { old, new } => format!("dup2({old}, {new})"),
            Call::Mkdir { path, mode } => format!("mkdir({}, 0{mode:o})", c_str(path)),
            Call::Rmdir { path } => format!("rmdir({})", c_str(path)),
            Call::Symlink { target, linkpath } => format!("symlink({}, {})", c_str(target), c_str(linkpath)),
            Call::Chown { path, uid, gid } => format!("chown({}, {uid}, {gid})", c_str(path)),
            Call::Chmod { path, mode } => format!("chmod({}, 0{mode:o})", c_str(path)),
            Call::Mkfifo { path, mode } => format!("mknod({}, S_IFIFO|0{mode:o}, 0)", c_str(path)),
            Call::Mknod { path, block, mode, major, minor } => format!(
                "mknod({}, {}|0{mode:o}, makedev({major}, {minor}))",
                c_str(path),
                if *block { "S_IFBLK" } else { "S_IFCHR" }
            ),
            // Users and capabilities
            Call::Setgroups { groups } => format!(
                "setgroups({}, [{}])",
                groups.len(),
                groups.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
            ),
            Call::Setresgid { gid } => format!("setresgid({gid}, {gid}, {gid})"),
            Call::Setresuid { uid } => format!("setresuid({uid}, {uid}, {uid})"),
            Call::KeepCaps { on } => format!("prctl(PR_SET_KEEPCAPS, {})", u8::from(*on)),
            Call::DropBounding { cap } => format!("prctl(PR_CAPBSET_DROP, {cap})"),
            Call::Capset { effective, permitted, inheritable } => format!(
                "capset({{_LINUX_CAPABILITY_VERSION_3, 0}}, {{effective={}, permitted={}, inheritable={}}})",
                cap_names(*effective),
                cap_names(*permitted),
                cap_names(*inheritable)
            ),
            Call::ClearAmbient => "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)".to_string(),
            Call::RaiseAmbient { cap } => format!("prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, {cap}, 0, 0)"),
            Call::NoNewPrivs => "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)".to_string(),
            // Filters
            Call::Seccomp { label, flags, program } => format!(
                "seccomp(SECCOMP_SET_MODE_FILTER, {}, {{len={}, filter=/* {label} */}})",
                c_flags(u64::from(*flags), SECCOMP_FLAGS),
                program.len()
            ),
            Call::BpfProgLoad { label, program } => format!(
                "bpf(BPF_PROG_LOAD, {{prog_type=BPF_PROG_TYPE_CGROUP_DEVICE, insn_cnt={}, insns=/* {label} */, license=\"Apache-2.0\"}}, {})",
                program.len(),
                std::mem::size_of::<abi::ProgLoadAttr>()
            ),
            Call::BpfProgAttach { cgroup_fd, prog_fd } => format!(
                "bpf(BPF_PROG_ATTACH, {{target_fd={cgroup_fd}, attach_bpf_fd={prog_fd}, attach_type=BPF_CGROUP_DEVICE, attach_flags=BPF_F_ALLOW_MULTI}}, {})",
                std::mem::size_of::<abi::ProgAttachAttr>()
            ),
            // Keys and IPC
            Call::Keyctl => "keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)".to_string(),
            Call::JoinSessionKeyring { name } => format!("keyctl(KEYCTL_JOIN_SESSION_KEYRING, {})", c_str(name)),
            Call::Shmget { key, size, flags } => format!("shmget({key:#x}, {size}, IPC_CREAT|0{:o})", flags & 0o777),
            // Sockets
            Call::Socket { domain, kind, protocol } => {
                format!("socket({}, {}, {})", domain_name(*domain), socket_kind_name(*kind), protocol_name(*protocol))
            }
            Call::Bind { fd, port } => {
                format!("bind({fd}, {{sa_family=AF_INET, sin_port=htons({port}), sin_addr=inet_addr(\"0.0.0.0\")}}, 16)")
            }
            Call::SetReceiveTimeout { fd, timeout } => format!(
                "setsockopt({fd}, SOL_SOCKET, SO_RCVTIMEO, {{tv_sec={}, tv_usec={}}}, 16)",
                timeout.as_secs(),
                timeout.subsec_micros()
            ),
            Call::SendTo { fd, addr, data } => format!(
                "sendto({fd}, /* {} bytes */, {}, 0, {{sa_family=AF_INET, sin_addr=inet_addr(\"{addr}\")}}, 16)",
                data.len(),
                data.len()
            ),
            Call::SendFd { socket, fd } => {
                format!("sendmsg({socket}, {{msg_control=[{{SOL_SOCKET, SCM_RIGHTS, [{fd}]}}]}}, 0)")
            }
            Call::Netlink { fd, summary, .. } => format!("sendto({fd}, {summary}) + ack"),
            // Terminals
            Call::OpenTerminal { path } => format!("openat(AT_FDCWD, {}, O_RDWR|O_NOCTTY|O_CLOEXEC)", c_str(path)),
            Call::Ioctl { fd, request } => format!("ioctl({fd}, {}, 0)", ioctl_name(*request)),
            // Sealed copies
            Call::MemfdCreate { name } => format!("memfd_create({}, MFD_CLOEXEC|MFD_ALLOW_SEALING)", c_str(name)),
            Call::CopyFileInto { path, fd } => format!("sendfile({fd}, open({}), NULL, /* whole file */)", c_str(path)),
            Call::SealMemfd { fd } => {
                format!("fcntl({fd}, F_ADD_SEALS, F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE)")
            }
        }
    }
}

/// A signal's name: `SIGKILL`.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal).map(|s| s.as_str().to_string()).unwrap_or_else(|_| signal.to_string())
}

fn ioctl_name(request: TerminalIoctl) -> &'static str {
    match request {
        TerminalIoctl::UnlockPty => "TIOCSPTLCK",
        TerminalIoctl::GetPtyNumber => "TIOCGPTN",
        TerminalIoctl::SetControllingTerminal => "TIOCSCTTY",
    }
}

fn clone_flags(flags: CloneFlags) -> String {
    c_flags(flags.bits() as u32 as u64, CLONE_FLAGS)
}

/// The names in a capability mask, joined by `|` as strace writes them.
fn cap_names(mask: u64) -> String {
    let names = Mask(mask).names();
    if names.is_empty() {
        "0".to_string()
    } else {
        names.join("|")
    }
}

fn c_strings(list: &[String]) -> String {
    list.iter().map(|a| c_str(a)).collect::<Vec<_>>().join(", ")
}

fn domain_name(domain: i32) -> String {
    match domain {
        libc::AF_INET => "AF_INET".to_string(),
        d => d.to_string(),
    }
}

fn socket_kind_name(kind: i32) -> String {
    match kind {
        libc::SOCK_RAW => "SOCK_RAW".to_string(),
        libc::SOCK_STREAM => "SOCK_STREAM".to_string(),
        k => k.to_string(),
    }
}

fn protocol_name(protocol: i32) -> String {
    match protocol {
        libc::IPPROTO_ICMP => "IPPROTO_ICMP".to_string(),
        p => p.to_string(),
    }
}
