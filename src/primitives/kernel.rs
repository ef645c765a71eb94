//! Every system call learnctr makes, in one place.
//!
//! [`Call`] names each call with its arguments. `describe` writes it in C notation
//! (what the learner sees in the trace, like `strace`), `perform` makes the call.
//! The [`Kernel`] trait has two implementations:
//! - [`Linux`] performs the call and records it in the trace;
//! - [`Fake`] only records it, so unit tests can check the order of calls without root.
//!
//! A primitive takes `&dyn Kernel` and never knows which one it got.

use super::error::{errno_name, Error, Result};
use super::trace::{self, c_flags, c_opt_str, c_str};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use std::ffi::CString;
use std::os::fd::RawFd;

/// One system call and its arguments.
#[derive(Clone, Debug)]
pub enum Call {
    /// Move the caller into new namespaces (`unshare(2)`).
    Unshare {
        flags: CloneFlags,
    },
    /// Open a file read-only, e.g. `/proc/PID/ns/uts` to join that namespace.
    Open {
        path: String,
    },
    Close {
        fd: RawFd,
    },
    /// Join the namespace that `fd` refers to (`setns(2)`, what `nsenter` does).
    Setns {
        fd: RawFd,
        nstype: CloneFlags,
    },
    Sethostname {
        name: String,
    },
    Mount {
        source: Option<String>,
        target: String,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    Umount2 {
        target: String,
        flags: MntFlags,
    },
    /// A new process: returns the child's pid in the parent, 0 in the child.
    Fork,
    /// `clone3` like `fork`, but the child starts inside the cgroup v2 directory open
    /// as `cgroup_fd` (Linux 5.7): nobody has to move it there afterwards.
    ForkIntoCgroup {
        cgroup_fd: RawFd,
    },
    /// Ask the kernel to send `signal` to us when our parent dies (`PR_SET_PDEATHSIG`).
    SetParentDeathSignal {
        signal: i32,
    },
    /// `openat` + `write` + `close` of a whole small file, such as `/proc/PID/uid_map`.
    WriteFile {
        path: String,
        data: String,
    },
    /// Set the supplementary groups (an empty list drops them all).
    Setgroups {
        groups: Vec<u32>,
    },
    /// Set real, effective and saved group ids.
    Setresgid {
        gid: u32,
    },
    /// Set real, effective and saved user ids.
    Setresuid {
        uid: u32,
    },
    /// Change the root directory of this process (`chroot(2)`): only path lookup changes.
    Chroot {
        path: String,
    },
    Chdir {
        path: String,
    },
    /// Make `new_root` the root mount of this mount namespace and put the old root
    /// at `put_old` (`pivot_root(2)`).
    PivotRoot {
        new_root: String,
        put_old: String,
    },
    Mkdir {
        path: String,
        mode: u32,
    },
    Rmdir {
        path: String,
    },
    /// Send a signal to a process.
    Kill {
        pid: i32,
        signal: i32,
    },
    /// Open (creating if needed) an empty file, e.g. a mount point for a device.
    OpenCreate {
        path: String,
        mode: u32,
    },
    Symlink {
        target: String,
        linkpath: String,
    },
    /// Remove a capability from the bounding set, for good (`prctl(PR_CAPBSET_DROP)`).
    DropBounding {
        cap: caps::Capability,
    },
    /// Set the effective, permitted and inheritable sets at once (`capset(2)`).
    Capset {
        effective: u64,
        permitted: u64,
        inheritable: u64,
    },
    ClearAmbient,
    RaiseAmbient {
        cap: caps::Capability,
    },
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: from now on, execve never grants privileges.
    NoNewPrivs,
    /// Install a seccomp filter (`seccomp(SECCOMP_SET_MODE_FILTER)`); `label` says
    /// what the compiled BPF program does.
    Seccomp {
        label: String,
        /// `SECCOMP_FILTER_FLAG_*` (config.json's `linux.seccomp.flags`), usually 0.
        flags: u32,
        program: Vec<libc::sock_filter>,
    },
    Chown {
        path: String,
        uid: u32,
        gid: u32,
    },
    Chmod {
        path: String,
        mode: u32,
    },
    /// A socket (e.g. a raw one, which needs CAP_NET_RAW).
    Socket {
        domain: i32,
        kind: i32,
        protocol: i32,
    },
    /// Bind a TCP socket to a port on every address (below 1024: CAP_NET_BIND_SERVICE).
    Bind {
        fd: RawFd,
        port: u16,
    },
    /// Create a device node (`mknod(2)`, needs CAP_MKNOD).
    Mknod {
        path: String,
        major: u64,
        minor: u64,
    },
    /// `unshare` called by its x32 ABI number (bit 30 set), as a filter bypass would.
    UnshareX32 {
        flags: CloneFlags,
    },
    /// Ask for the session keyring's id (`keyctl(KEYCTL_GET_KEYRING_ID)`): harmless, and
    /// a call seccomp profiles deny because keys are not namespaced.
    Keyctl,
    /// Join a new session keyring of this name (`keyctl(KEYCTL_JOIN_SESSION_KEYRING)`),
    /// as runc's init does: the keys of the host's session are no longer ours.
    JoinSessionKeyring {
        name: String,
    },
    /// One netlink request (`sendto` on a NETLINK_ROUTE socket) and the kernel's
    /// acknowledgement (`recvfrom`): `summary` is the message, decoded as strace does.
    Netlink {
        fd: RawFd,
        summary: String,
        request: Vec<u8>,
    },
    /// A named pipe (`mkfifo(3)`, i.e. `mknod` with S_IFIFO).
    Mkfifo {
        path: String,
        mode: u32,
    },
    /// A device node of any kind (`mknod(2)`): `c` or `b`.
    MknodDevice {
        path: String,
        block: bool,
        mode: u32,
        major: u64,
        minor: u64,
    },
    /// `setrlimit(2)`.
    Setrlimit {
        resource: i32,
        name: String,
        soft: u64,
        hard: u64,
    },
    /// `prctl(PR_SET_KEEPCAPS)`: keep the permitted capabilities across setuid.
    KeepCaps {
        on: bool,
    },
    /// Mark every fd from `first` up close-on-exec (`close_range(2)`).
    CloseRangeCloexec {
        first: u32,
    },
    /// A new session, without a controlling terminal (`setsid(2)`).
    Setsid,
    /// Replace this process with a program (`execve(2)`); returns only on failure.
    Execve {
        path: String,
        argv: Vec<String>,
        env: Vec<String>,
    },
    /// Open a terminal device read-write, without making it our controlling terminal.
    OpenTerminal {
        path: String,
    },
    /// An ioctl with an integer argument (or a pointer to one, for `TIOCGPTN`).
    Ioctl {
        fd: RawFd,
        name: &'static str,
        request: u64,
        arg: i32,
    },
    Dup2 {
        old: RawFd,
        new: RawFd,
    },
    /// Send an fd to the other end of a unix socket (`sendmsg` with SCM_RIGHTS).
    SendFd {
        socket: RawFd,
        fd: RawFd,
    },
    /// Create a System V shared memory segment (`shmget(2)`).
    Shmget {
        key: i32,
        size: usize,
        flags: i32,
    },
    /// Load an eBPF program that decides device access for a cgroup v2
    /// (`bpf(BPF_PROG_LOAD)` with `BPF_PROG_TYPE_CGROUP_DEVICE`); returns its fd.
    BpfProgLoad {
        label: String,
        program: Vec<BpfInsn>,
    },
    /// Attach a loaded program to a cgroup directory (`bpf(BPF_PROG_ATTACH)`).
    BpfProgAttach {
        cgroup_fd: RawFd,
        prog_fd: RawFd,
    },
    /// `getcwd(2)`, failing with ENOENT when the working directory is not under our
    /// root (the kernel then answers "(unreachable)/…", which glibc turns into ENOENT).
    GetcwdInside,
    /// Open a file only as a handle (`O_PATH`): it can be named again through
    /// `/proc/self/fd/N`, but neither read nor written, nor used as a directory.
    OpenPath {
        path: String,
    },
    /// Open a file for writing (a FIFO: blocks until a reader opens it).
    OpenWrite {
        path: String,
    },
    /// The same, relative to a directory fd (`openat(2)`): the init reopens its FIFO
    /// through a `/proc/self/fd` it opened before a chroot hid /proc.
    OpenWriteAt {
        dirfd: RawFd,
        name: String,
    },
    /// Write bytes to an fd.
    Write {
        fd: RawFd,
        data: Vec<u8>,
    },
    /// A detached copy of the mount that holds `path`, reduced to that one file
    /// (`open_tree(OPEN_TREE_CLONE)`, Linux 5.2): attached nowhere, seen by no one.
    OpenTreeClone {
        path: String,
    },
    /// Make a detached mount read-only (`mount_setattr(MOUNT_ATTR_RDONLY)`, Linux 5.12).
    MountSetattrReadOnly {
        fd: RawFd,
    },
    /// An anonymous file in memory (`memfd_create(2)`), which can be sealed.
    MemfdCreate {
        name: String,
    },
    /// Copy a whole file into an fd (`sendfile(2)` until the end).
    CopyFileInto {
        path: String,
        fd: RawFd,
    },
    /// Forbid every change to a memfd from now on (`fcntl(F_ADD_SEALS)`).
    SealMemfd {
        fd: RawFd,
    },
    /// Run the program an fd refers to (`execveat(fd, "", …, AT_EMPTY_PATH)`);
    /// returns only on failure.
    Execveat {
        fd: RawFd,
        argv: Vec<String>,
        env: Vec<String>,
    },
    /// `prctl(PR_SET_DUMPABLE)`: 0 keeps other processes of the same user (a
    /// container's root) from reading our memory or opening `/proc/PID/exe`.
    SetDumpable {
        on: bool,
    },
    /// `umask(2)`: the permission bits new files never get.
    Umask {
        mask: u32,
    },
    /// `setdomainname(2)` (the NIS domain name of the uts namespace).
    Setdomainname {
        name: String,
    },
    /// `ioprio_set(IOPRIO_WHO_PROCESS, 0, …)`: this process's disk priority.
    IoprioSet {
        class: u32,
        level: u32,
    },
}

/// One eBPF instruction, as the kernel reads it (`struct bpf_insn`, 8 bytes): the
/// opcode, the destination register in the low and the source in the high 4 bits,
/// a jump offset and an immediate value.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

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

/// `SECCOMP_FILTER_FLAG_*`.
pub const SECCOMP_FLAGS: &[(u64, &str)] = &[
    (1, "SECCOMP_FILTER_FLAG_TSYNC"),
    (2, "SECCOMP_FILTER_FLAG_LOG"),
    (4, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
    (8, "SECCOMP_FILTER_FLAG_NEW_LISTENER"),
    (16, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"),
    (32, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
];

const UMOUNT_FLAGS: &[(u64, &str)] = &[(libc::MNT_FORCE as u64, "MNT_FORCE"), (libc::MNT_DETACH as u64, "MNT_DETACH")];

impl Call {
    /// The call in C notation, as the trace shows it.
    pub fn describe(&self) -> String {
        match self {
            Call::Unshare { flags } => format!("unshare({})", clone_flags(*flags)),
            Call::Open { path } => format!("openat(AT_FDCWD, {}, O_RDONLY|O_CLOEXEC)", c_str(path)),
            Call::Close { fd } => format!("close({fd})"),
            Call::Setns { fd, nstype } => format!("setns({fd}, {})", clone_flags(*nstype)),
            Call::Sethostname { name } => format!("sethostname({}, {})", c_str(name), name.len()),
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
            Call::Chroot { path } => format!("chroot({})", c_str(path)),
            Call::Chdir { path } => format!("chdir({})", c_str(path)),
            Call::PivotRoot { new_root, put_old } => format!("pivot_root({}, {})", c_str(new_root), c_str(put_old)),
            Call::Mkdir { path, mode } => format!("mkdir({}, 0{mode:o})", c_str(path)),
            Call::Rmdir { path } => format!("rmdir({})", c_str(path)),
            Call::Kill { pid, signal } => format!("kill({pid}, {})", signal_name(*signal)),
            Call::OpenCreate { path, mode } => {
                format!("openat(AT_FDCWD, {}, O_WRONLY|O_CREAT|O_CLOEXEC, 0{mode:o})", c_str(path))
            }
            Call::Symlink { target, linkpath } => format!("symlink({}, {})", c_str(target), c_str(linkpath)),
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
            Call::Seccomp { label, flags, program } => {
                format!(
                    "seccomp(SECCOMP_SET_MODE_FILTER, {}, {{len={}, filter=/* {label} */}})",
                    c_flags(u64::from(*flags), SECCOMP_FLAGS),
                    program.len()
                )
            }
            Call::Chown { path, uid, gid } => format!("chown({}, {uid}, {gid})", c_str(path)),
            Call::Chmod { path, mode } => format!("chmod({}, 0{mode:o})", c_str(path)),
            Call::Socket { domain, kind, protocol } => format!(
                "socket({}, {}, {})",
                match *domain {
                    libc::AF_INET => "AF_INET".to_string(),
                    d => d.to_string(),
                },
                match *kind {
                    libc::SOCK_RAW => "SOCK_RAW".to_string(),
                    libc::SOCK_STREAM => "SOCK_STREAM".to_string(),
                    k => k.to_string(),
                },
                match *protocol {
                    libc::IPPROTO_ICMP => "IPPROTO_ICMP".to_string(),
                    p => p.to_string(),
                }
            ),
            Call::Bind { fd, port } => {
                format!(
                    "bind({fd}, {{sa_family=AF_INET, sin_port=htons({port}), sin_addr=inet_addr(\"0.0.0.0\")}}, 16)"
                )
            }
            Call::Mknod { path, major, minor } => {
                format!("mknod({}, S_IFCHR|0600, makedev({major}, {minor}))", c_str(path))
            }
            Call::Keyctl => "keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)".to_string(),
            Call::JoinSessionKeyring { name } => format!("keyctl(KEYCTL_JOIN_SESSION_KEYRING, {})", c_str(name)),
            Call::UnshareX32 { flags } => {
                format!("syscall({:#x} /* x32 unshare */, {})", libc::SYS_unshare | 0x4000_0000, clone_flags(*flags))
            }
            Call::Netlink { fd, summary, .. } => format!("sendto({fd}, {summary}) + ack"),
            Call::Mkfifo { path, mode } => format!("mknod({}, S_IFIFO|0{mode:o}, 0)", c_str(path)),
            Call::MknodDevice { path, block, mode, major, minor } => format!(
                "mknod({}, {}|0{mode:o}, makedev({major}, {minor}))",
                c_str(path),
                if *block { "S_IFBLK" } else { "S_IFCHR" }
            ),
            Call::Setrlimit { name, soft, hard, .. } => {
                format!("setrlimit({name}, {{rlim_cur={soft}, rlim_max={hard}}})")
            }
            Call::KeepCaps { on } => format!("prctl(PR_SET_KEEPCAPS, {})", u8::from(*on)),
            Call::CloseRangeCloexec { first } => format!("close_range({first}, ~0U, CLOSE_RANGE_CLOEXEC)"),
            Call::Setsid => "setsid()".to_string(),
            Call::Execve { path, argv, env } => format!(
                "execve({}, [{}], [/* {} vars */])",
                c_str(path),
                argv.iter().map(|a| c_str(a)).collect::<Vec<_>>().join(", "),
                env.len()
            ),
            Call::OpenTerminal { path } => format!("openat(AT_FDCWD, {}, O_RDWR|O_NOCTTY|O_CLOEXEC)", c_str(path)),
            Call::Ioctl { fd, name, arg, .. } => format!("ioctl({fd}, {name}, {arg})"),
            Call::Dup2 { old, new } => format!("dup2({old}, {new})"),
            Call::SendFd { socket, fd } => {
                format!("sendmsg({socket}, {{msg_control=[{{SOL_SOCKET, SCM_RIGHTS, [{fd}]}}]}}, 0)")
            }
            Call::Fork => "fork()".to_string(),
            Call::ForkIntoCgroup { cgroup_fd } => format!(
                "clone3({{flags=CLONE_INTO_CGROUP, exit_signal=SIGCHLD, cgroup={cgroup_fd}}}, {})",
                std::mem::size_of::<CloneArgs>()
            ),
            Call::SetParentDeathSignal { signal } => format!("prctl(PR_SET_PDEATHSIG, {})", signal_name(*signal)),
            Call::WriteFile { path, data } => format!("write({}, {})", c_str(path), c_str(data)),
            Call::Setgroups { groups } => format!(
                "setgroups({}, [{}])",
                groups.len(),
                groups.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
            ),
            Call::Setresgid { gid } => format!("setresgid({gid}, {gid}, {gid})"),
            Call::Setresuid { uid } => format!("setresuid({uid}, {uid}, {uid})"),
            Call::Shmget { key, size, flags } => format!("shmget({key:#x}, {size}, IPC_CREAT|0{:o})", flags & 0o777),
            Call::BpfProgLoad { label, program } => format!(
                "bpf(BPF_PROG_LOAD, {{prog_type=BPF_PROG_TYPE_CGROUP_DEVICE, insn_cnt={}, insns=/* {label} */, license=\"Apache-2.0\"}}, {})",
                program.len(),
                std::mem::size_of::<ProgLoadAttr>()
            ),
            Call::BpfProgAttach { cgroup_fd, prog_fd } => format!(
                "bpf(BPF_PROG_ATTACH, {{target_fd={cgroup_fd}, attach_bpf_fd={prog_fd}, attach_type=BPF_CGROUP_DEVICE, attach_flags=BPF_F_ALLOW_MULTI}}, {})",
                std::mem::size_of::<ProgAttachAttr>()
            ),
            Call::GetcwdInside => "getcwd(buf, 4096)".to_string(),
            Call::OpenPath { path } => format!("openat(AT_FDCWD, {}, O_PATH|O_CLOEXEC)", c_str(path)),
            Call::OpenWrite { path } => format!("openat(AT_FDCWD, {}, O_WRONLY|O_CLOEXEC)", c_str(path)),
            Call::OpenWriteAt { dirfd, name } => format!("openat({dirfd}, {}, O_WRONLY|O_CLOEXEC)", c_str(name)),
            Call::Write { fd, data } => format!("write({fd}, {}, {})", c_str(&String::from_utf8_lossy(data)), data.len()),
            Call::OpenTreeClone { path } => {
                format!("open_tree(AT_FDCWD, {}, OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC)", c_str(path))
            }
            Call::MountSetattrReadOnly { fd } => {
                format!("mount_setattr({fd}, \"\", AT_EMPTY_PATH, {{attr_set=MOUNT_ATTR_RDONLY}}, 32)")
            }
            Call::MemfdCreate { name } => format!("memfd_create({}, MFD_CLOEXEC|MFD_ALLOW_SEALING)", c_str(name)),
            Call::CopyFileInto { path, fd } => format!("sendfile({fd}, open({}), NULL, /* whole file */)", c_str(path)),
            Call::SealMemfd { fd } => {
                format!("fcntl({fd}, F_ADD_SEALS, F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE)")
            }
            Call::Execveat { fd, argv, env } => format!(
                "execveat({fd}, \"\", [{}], [/* {} vars */], AT_EMPTY_PATH)",
                argv.iter().map(|a| c_str(a)).collect::<Vec<_>>().join(", "),
                env.len()
            ),
            Call::SetDumpable { on } => format!("prctl(PR_SET_DUMPABLE, {})", u8::from(*on)),
            Call::Umask { mask } => format!("umask(0{mask:o})"),
            Call::Setdomainname { name } => format!("setdomainname({}, {})", c_str(name), name.len()),
            Call::IoprioSet { class, level } => {
                format!("ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE({class}, {level}))")
            }
        }
    }

    /// Make the call. Returns the kernel's answer (a count, a pid, an fd, or 0).
    fn perform(&self) -> std::result::Result<i64, Errno> {
        use nix::unistd;
        match self {
            Call::Unshare { flags } => nix::sched::unshare(*flags).map(|_| 0),
            Call::Open { path } => open(path, libc::O_RDONLY | libc::O_CLOEXEC),
            // SAFETY: closing an fd this process owns; callers pass fds from `Open`.
            Call::Close { fd } => Errno::result(unsafe { libc::close(*fd) }).map(|_| 0),
            // SAFETY: setns(2) on an fd; the kernel checks that it is a namespace file.
            Call::Setns { fd, nstype } => Errno::result(unsafe { libc::setns(*fd, nstype.bits()) }).map(|_| 0),
            Call::Sethostname { name } => unistd::sethostname(name).map(|_| 0),
            Call::Mount { source, target, fstype, flags, data } => {
                nix::mount::mount(source.as_deref(), target.as_str(), fstype.as_deref(), *flags, data.as_deref())
                    .map(|_| 0)
            }
            Call::Umount2 { target, flags } => nix::mount::umount2(target.as_str(), *flags).map(|_| 0),
            Call::Chroot { path } => unistd::chroot(path.as_str()).map(|_| 0),
            Call::Chdir { path } => unistd::chdir(path.as_str()).map(|_| 0),
            Call::PivotRoot { new_root, put_old } => unistd::pivot_root(new_root.as_str(), put_old.as_str()).map(|_| 0),
            Call::Mkdir { path, mode } => {
                unistd::mkdir(path.as_str(), nix::sys::stat::Mode::from_bits_truncate(*mode)).map(|_| 0)
            }
            Call::Rmdir { path } => std::fs::remove_dir(path).map(|_| 0).map_err(io_errno),
            Call::Kill { pid, signal } => {
                // SAFETY: kill(2) with integer arguments only.
                Errno::result(unsafe { libc::kill(*pid, *signal) }).map(|_| 0)
            }
            Call::OpenCreate { path, mode } => {
                let c = cstring(path)?;
                let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC;
                // SAFETY: open(2) with a valid NUL-terminated path and a mode.
                Errno::result(unsafe { libc::open(c.as_ptr(), flags, *mode) }).map(i64::from)
            }
            Call::Symlink { target, linkpath } => {
                unistd::symlinkat(target.as_str(), nix::fcntl::AT_FDCWD, linkpath.as_str()).map(|_| 0)
            }
            Call::DropBounding { cap } => {
                caps::drop(None, caps::CapSet::Bounding, *cap).map(|_| 0).map_err(|_| Errno::last())
            }
            Call::Capset { effective, permitted, inheritable } => capset(*effective, *permitted, *inheritable),
            Call::ClearAmbient => caps::clear(None, caps::CapSet::Ambient).map(|_| 0).map_err(|_| Errno::last()),
            Call::RaiseAmbient { cap } => {
                caps::raise(None, caps::CapSet::Ambient, *cap).map(|_| 0).map_err(|_| Errno::last())
            }
            // SAFETY: prctl(2) with integer arguments only.
            Call::NoNewPrivs => Errno::result(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }).map(|_| 0),
            Call::Seccomp { program, flags, .. } => {
                let prog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr() as *mut _ };
                // SAFETY: the kernel copies the program; `program` outlives the call.
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_seccomp,
                        libc::SECCOMP_SET_MODE_FILTER,
                        *flags,
                        &prog as *const libc::sock_fprog,
                    )
                };
                Errno::result(r).map(|_| 0)
            }
            Call::Chown { path, uid, gid } => unistd::chown(
                path.as_str(),
                Some(nix::unistd::Uid::from_raw(*uid)),
                Some(nix::unistd::Gid::from_raw(*gid)),
            )
            .map(|_| 0),
            Call::Chmod { path, mode } => nix::sys::stat::fchmodat(
                nix::fcntl::AT_FDCWD,
                path.as_str(),
                nix::sys::stat::Mode::from_bits_truncate(*mode),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map(|_| 0),
            Call::Socket { domain, kind, protocol } => {
                // SAFETY: socket(2) with integer arguments only.
                Errno::result(unsafe { libc::socket(*domain, *kind | libc::SOCK_CLOEXEC, *protocol) }).map(i64::from)
            }
            Call::Bind { fd, port } => {
                let addr = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: port.to_be(),
                    sin_addr: libc::in_addr { s_addr: 0 },
                    sin_zero: [0; 8],
                };
                let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                // SAFETY: bind(2) with a valid sockaddr_in and its size.
                Errno::result(unsafe { libc::bind(*fd, &addr as *const _ as *const libc::sockaddr, len) }).map(|_| 0)
            }
            Call::Mknod { path, major, minor } => nix::sys::stat::mknod(
                path.as_str(),
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::from_bits_truncate(0o600),
                nix::sys::stat::makedev(*major, *minor),
            )
            .map(|_| 0),
            Call::UnshareX32 { flags } => {
                // SAFETY: a raw system call with integer arguments only.
                let r = unsafe { libc::syscall(libc::SYS_unshare | 0x4000_0000, flags.bits()) };
                Errno::result(r).map(|_| 0)
            }
            Call::Keyctl => {
                const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
                const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
                // SAFETY: keyctl(2) with integer arguments only.
                let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0) };
                Errno::result(r)
            }
            Call::JoinSessionKeyring { name } => {
                const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
                let name = std::ffi::CString::new(name.as_str()).map_err(|_| Errno::EINVAL)?;
                // SAFETY: keyctl(2) with a NUL-terminated string that outlives the call.
                let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
                Errno::result(r)
            }
            Call::Netlink { fd, request, .. } => super::netlink::exchange(*fd, request),
            Call::Mkfifo { path, mode } => {
                nix::unistd::mkfifo(path.as_str(), nix::sys::stat::Mode::from_bits_truncate(*mode)).map(|_| 0)
            }
            Call::MknodDevice { path, block, mode, major, minor } => nix::sys::stat::mknod(
                path.as_str(),
                if *block { nix::sys::stat::SFlag::S_IFBLK } else { nix::sys::stat::SFlag::S_IFCHR },
                nix::sys::stat::Mode::from_bits_truncate(*mode),
                nix::sys::stat::makedev(*major, *minor),
            )
            .map(|_| 0),
            Call::Setrlimit { resource, soft, hard, .. } => {
                let lim = libc::rlimit { rlim_cur: *soft, rlim_max: *hard };
                // SAFETY: setrlimit(2) with a valid struct.
                Errno::result(unsafe { libc::setrlimit(*resource as _, &lim) }).map(|_| 0)
            }
            // SAFETY: prctl(2) with integer arguments only.
            Call::KeepCaps { on } => {
                Errno::result(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, u64::from(*on), 0, 0, 0) }).map(|_| 0)
            }
            Call::CloseRangeCloexec { first } => {
                // SAFETY: close_range(2) with integer arguments only.
                let r = unsafe { libc::syscall(libc::SYS_close_range, *first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
                Errno::result(r).map(|_| 0)
            }
            Call::Setsid => unistd::setsid().map(|p| i64::from(p.as_raw())),
            Call::Execve { path, argv, env } => {
                let path = cstring(path)?;
                let argv: Vec<CString> = argv.iter().map(|a| cstring(a)).collect::<std::result::Result<_, _>>()?;
                let env: Vec<CString> = env.iter().map(|a| cstring(a)).collect::<std::result::Result<_, _>>()?;
                match unistd::execve(&path, &argv, &env) {
                    Err(e) => Err(e),
                    Ok(never) => match never {},
                }
            }
            Call::OpenTerminal { path } => open(path, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC),
            Call::Ioctl { fd, request, arg, name } => {
                let r = if *name == "TIOCGPTN" {
                    let mut n: libc::c_int = 0;
                    // SAFETY: TIOCGPTN writes one int to the pointer we pass.
                    let r = unsafe { libc::ioctl(*fd, *request as _, &mut n as *mut libc::c_int) };
                    if r == 0 {
                        return Ok(i64::from(n));
                    }
                    r
                } else {
                    let mut value: libc::c_int = *arg;
                    // SAFETY: these terminal ioctls take an int or a pointer to one.
                    if *name == "TIOCSPTLCK" {
                        unsafe { libc::ioctl(*fd, *request as _, &mut value as *mut libc::c_int) }
                    } else {
                        unsafe { libc::ioctl(*fd, *request as _, *arg as libc::c_ulong) }
                    }
                };
                Errno::result(r).map(|_| 0)
            }
            // SAFETY: dup2(2) with integer arguments only.
            Call::Dup2 { old, new } => Errno::result(unsafe { libc::dup2(*old, *new) }).map(i64::from),
            Call::SendFd { socket, fd } => {
                use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
                let fds = [*fd];
                let payload = [std::io::IoSlice::new(b"/dev/ptmx")];
                sendmsg::<()>(*socket, &payload, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)
                    .map(|n| n as i64)
            }
            // SAFETY: learnctr is single-threaded, so the child may run any code after fork.
            Call::Fork => Errno::result(unsafe { libc::fork() }).map(i64::from),
            Call::ForkIntoCgroup { cgroup_fd } => {
                let args = CloneArgs {
                    flags: CLONE_INTO_CGROUP,
                    exit_signal: libc::SIGCHLD as u64,
                    cgroup: *cgroup_fd as u64,
                    ..CloneArgs::default()
                };
                // SAFETY: clone3(2) without CLONE_VM and without a stack behaves like
                // fork(2): the child continues here on a copy of our memory. learnctr
                // is single-threaded when it forks, so no lock is held by another
                // thread in the copy.
                let ret = unsafe {
                    libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, std::mem::size_of::<CloneArgs>())
                };
                Errno::result(ret)
            }
            Call::SetParentDeathSignal { signal } => {
                // SAFETY: prctl(2) with integer arguments only.
                Errno::result(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, *signal as libc::c_ulong) }).map(|_| 0)
            }
            Call::WriteFile { path, data } => write_file(path, data),
            Call::Setgroups { groups } => {
                let gids: Vec<nix::unistd::Gid> = groups.iter().map(|g| nix::unistd::Gid::from_raw(*g)).collect();
                unistd::setgroups(&gids).map(|_| 0)
            }
            Call::Setresgid { gid } => {
                let g = nix::unistd::Gid::from_raw(*gid);
                unistd::setresgid(g, g, g).map(|_| 0)
            }
            Call::Setresuid { uid } => {
                let u = nix::unistd::Uid::from_raw(*uid);
                unistd::setresuid(u, u, u).map(|_| 0)
            }
            Call::Shmget { key, size, flags } => {
                // SAFETY: shmget(2) with integer arguments only.
                Errno::result(unsafe { libc::shmget(*key, *size, libc::IPC_CREAT | flags) }).map(i64::from)
            }
            Call::BpfProgLoad { program, .. } => {
                let license = b"Apache-2.0\0";
                let mut attr = ProgLoadAttr {
                    prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
                    insn_cnt: program.len() as u32,
                    insns: program.as_ptr() as u64,
                    license: license.as_ptr() as u64,
                    ..ProgLoadAttr::default()
                };
                attr.prog_name[..12].copy_from_slice(b"learnctr_dev");
                // SAFETY: the kernel copies the instructions and the license while the
                // call runs; both outlive it, and `attr` is the size we pass.
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_bpf,
                        BPF_PROG_LOAD,
                        &attr as *const ProgLoadAttr,
                        std::mem::size_of::<ProgLoadAttr>(),
                    )
                };
                Errno::result(r)
            }
            Call::BpfProgAttach { cgroup_fd, prog_fd } => {
                let attr = ProgAttachAttr {
                    target_fd: *cgroup_fd as u32,
                    attach_bpf_fd: *prog_fd as u32,
                    attach_type: BPF_CGROUP_DEVICE,
                    attach_flags: BPF_F_ALLOW_MULTI,
                    replace_bpf_fd: 0,
                };
                // SAFETY: bpf(2) reads `attr`, which lives on our stack, of the size we pass.
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_bpf,
                        BPF_PROG_ATTACH,
                        &attr as *const ProgAttachAttr,
                        std::mem::size_of::<ProgAttachAttr>(),
                    )
                };
                Errno::result(r).map(|_| 0)
            }
            Call::GetcwdInside => {
                let mut buf = [0u8; 4096];
                // SAFETY: the raw getcwd(2) writes at most buf.len() bytes into buf.
                let r = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
                let len = Errno::result(r)?;
                // "(unreachable)/…": the directory is not below our root.
                if buf[0] != b'/' {
                    return Err(Errno::ENOENT);
                }
                Ok(len)
            }
            Call::OpenPath { path } => open(path, libc::O_PATH | libc::O_CLOEXEC),
            Call::OpenWrite { path } => open(path, libc::O_WRONLY | libc::O_CLOEXEC),
            Call::OpenWriteAt { dirfd, name } => {
                let c = cstring(name)?;
                // SAFETY: openat(2) with a directory fd and a NUL-terminated name.
                Errno::result(unsafe { libc::openat(*dirfd, c.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) })
                    .map(i64::from)
            }
            Call::Write { fd, data } => {
                // SAFETY: write(2) reads data.len() bytes from data.
                Errno::result(unsafe { libc::write(*fd, data.as_ptr() as *const libc::c_void, data.len()) })
                    .map(|n| n as i64)
            }
            Call::OpenTreeClone { path } => {
                let c = cstring(path)?;
                const OPEN_TREE_CLONE: libc::c_uint = 1;
                // SAFETY: open_tree(2) with a valid path and integer flags.
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_open_tree,
                        libc::AT_FDCWD,
                        c.as_ptr(),
                        OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
                    )
                };
                Errno::result(r)
            }
            Call::MountSetattrReadOnly { fd } => {
                #[repr(C)]
                struct MountAttr {
                    attr_set: u64,
                    attr_clr: u64,
                    propagation: u64,
                    userns_fd: u64,
                }
                const MOUNT_ATTR_RDONLY: u64 = 1;
                let attr = MountAttr { attr_set: MOUNT_ATTR_RDONLY, attr_clr: 0, propagation: 0, userns_fd: 0 };
                // SAFETY: mount_setattr(2) reads `attr` of the size we pass; "" with
                // AT_EMPTY_PATH means the fd itself.
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_mount_setattr,
                        *fd,
                        c"".as_ptr(),
                        libc::AT_EMPTY_PATH,
                        &attr as *const MountAttr,
                        std::mem::size_of::<MountAttr>(),
                    )
                };
                Errno::result(r).map(|_| 0)
            }
            Call::MemfdCreate { name } => {
                let c = cstring(name)?;
                // SAFETY: memfd_create(2) with a valid name and integer flags.
                Errno::result(unsafe { libc::memfd_create(c.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) })
                    .map(i64::from)
            }
            Call::CopyFileInto { path, fd } => {
                use std::os::fd::FromRawFd;
                let mut from = std::fs::File::open(path).map_err(io_errno)?;
                // SAFETY: the fd is ours (from MemfdCreate); ManuallyDrop keeps it open.
                let mut to = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(*fd) });
                std::io::copy(&mut from, &mut *to).map(|n| n as i64).map_err(io_errno)
            }
            Call::SealMemfd { fd } => {
                let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
                // SAFETY: fcntl(2) with integer arguments only.
                Errno::result(unsafe { libc::fcntl(*fd, libc::F_ADD_SEALS, seals) }).map(|_| 0)
            }
            Call::Execveat { fd, argv, env } => {
                let argv: Vec<CString> = argv.iter().map(|a| cstring(a)).collect::<std::result::Result<_, _>>()?;
                let env: Vec<CString> = env.iter().map(|a| cstring(a)).collect::<std::result::Result<_, _>>()?;
                let mut argp: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
                argp.push(std::ptr::null());
                let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
                envp.push(std::ptr::null());
                // SAFETY: NULL-terminated arrays of valid C strings, alive during the call.
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_execveat,
                        *fd,
                        c"".as_ptr(),
                        argp.as_ptr(),
                        envp.as_ptr(),
                        libc::AT_EMPTY_PATH,
                    )
                };
                Errno::result(r)
            }
            Call::SetDumpable { on } => {
                // SAFETY: prctl(2) with integer arguments only.
                Errno::result(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, libc::c_ulong::from(*on), 0, 0, 0) })
                    .map(|_| 0)
            }
            // SAFETY: umask(2) cannot fail.
            Call::Umask { mask } => Ok(i64::from(unsafe { libc::umask(*mask as libc::mode_t) })),
            Call::Setdomainname { name } => {
                // SAFETY: setdomainname(2) reads name.len() bytes.
                Errno::result(unsafe { libc::setdomainname(name.as_ptr() as *const libc::c_char, name.len()) })
                    .map(|_| 0)
            }
            Call::IoprioSet { class, level } => {
                const IOPRIO_WHO_PROCESS: libc::c_long = 1;
                let value = ((*class as libc::c_long) << 13) | *level as libc::c_long;
                // SAFETY: ioprio_set(2) with integer arguments only.
                Errno::result(unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) }).map(|_| 0)
            }
        }
    }
}

/// The kernel interface every primitive uses.
pub trait Kernel {
    /// Make (or, in a fake, pretend to make) one call and record it in the trace.
    fn invoke(&self, call: Call) -> Result<i64>;
}

/// `struct clone_args` of clone3(2), as the kernel defines it (version 2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

// bpf(2): the two commands and the program and attach types learnctr uses.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The `BPF_PROG_LOAD` part of `union bpf_attr` (the fields up to
/// expected_attach_type; the kernel takes a shorter struct as zero beyond it).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` part of `union bpf_attr`.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// The real kernel: performs each call, then records it with its result.
pub struct Linux;

impl Kernel for Linux {
    fn invoke(&self, call: Call) -> Result<i64> {
        let text = call.describe();
        // execve replaces this process when it succeeds: it is recorded before, as
        // strace shows it, and again only if it comes back with an error.
        if matches!(call, Call::Execve { .. } | Call::Execveat { .. }) {
            trace::record(text.clone(), "<unfinished ...>".to_string());
        }
        let answer = call.perform();
        if matches!(call, Call::Fork | Call::ForkIntoCgroup { .. }) && answer == Ok(0) {
            // In the new child: the parent records this fork, not the child.
            return Ok(0);
        }
        match answer {
            Ok(value) => {
                trace::record(text, value.to_string());
                Ok(value)
            }
            Err(errno) => {
                trace::record(text.clone(), format!("-1 {} ({})", errno_name(errno), errno.desc()));
                Err(Error::Sys { call: text, errno })
            }
        }
    }
}

/// A kernel that makes no call: it keeps the C notation of each call in order, for
/// unit tests that check what a primitive would do (the model is youki's `Syscall`).
#[cfg(test)]
#[derive(Default)]
pub struct Fake {
    calls: std::cell::RefCell<Vec<String>>,
    /// Calls whose name starts with this prefix fail with this errno.
    failing: std::cell::RefCell<Vec<(String, Errno)>>,
}

#[cfg(test)]
impl Fake {
    pub fn new() -> Fake {
        Fake::default()
    }

    /// Make every call whose C notation starts with `prefix` fail with `errno`.
    pub fn fail(&self, prefix: &str, errno: Errno) {
        self.failing.borrow_mut().push((prefix.to_string(), errno));
    }

    /// The calls made so far, in C notation.
    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
}

#[cfg(test)]
impl Kernel for Fake {
    fn invoke(&self, call: Call) -> Result<i64> {
        let text = call.describe();
        self.calls.borrow_mut().push(text.clone());
        for (prefix, errno) in self.failing.borrow().iter() {
            if text.starts_with(prefix.as_str()) {
                return Err(Error::Sys { call: text, errno: *errno });
            }
        }
        // Pretend fds and pids are 3 and 4242; fork pretends we are the parent.
        Ok(match call {
            Call::Open { .. } | Call::OpenPath { .. } | Call::OpenTreeClone { .. } | Call::MemfdCreate { .. } => 3,
            Call::Fork | Call::ForkIntoCgroup { .. } => 4242,
            _ => 0,
        })
    }
}

/// Convenience wrappers, so primitives read like the C they perform.
impl dyn Kernel + '_ {
    pub fn unshare(&self, flags: CloneFlags) -> Result<()> {
        self.invoke(Call::Unshare { flags }).map(drop)
    }
    pub fn open(&self, path: &str) -> Result<RawFd> {
        self.invoke(Call::Open { path: path.to_string() }).map(|fd| fd as RawFd)
    }
    pub fn close(&self, fd: RawFd) -> Result<()> {
        self.invoke(Call::Close { fd }).map(drop)
    }
    pub fn setns(&self, fd: RawFd, nstype: CloneFlags) -> Result<()> {
        self.invoke(Call::Setns { fd, nstype }).map(drop)
    }
    pub fn sethostname(&self, name: &str) -> Result<()> {
        self.invoke(Call::Sethostname { name: name.to_string() }).map(drop)
    }
    pub fn mount(
        &self,
        source: Option<&str>,
        target: &str,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<()> {
        self.invoke(Call::Mount {
            source: source.map(str::to_string),
            target: target.to_string(),
            fstype: fstype.map(str::to_string),
            flags,
            data: data.map(str::to_string),
        })
        .map(drop)
    }
    pub fn umount2(&self, target: &str, flags: MntFlags) -> Result<()> {
        self.invoke(Call::Umount2 { target: target.to_string(), flags }).map(drop)
    }
    pub fn chroot(&self, path: &str) -> Result<()> {
        self.invoke(Call::Chroot { path: path.to_string() }).map(drop)
    }
    pub fn chdir(&self, path: &str) -> Result<()> {
        self.invoke(Call::Chdir { path: path.to_string() }).map(drop)
    }
    pub fn pivot_root(&self, new_root: &str, put_old: &str) -> Result<()> {
        self.invoke(Call::PivotRoot { new_root: new_root.to_string(), put_old: put_old.to_string() }).map(drop)
    }
    pub fn mkdir(&self, path: &str, mode: u32) -> Result<()> {
        self.invoke(Call::Mkdir { path: path.to_string(), mode }).map(drop)
    }
    pub fn rmdir(&self, path: &str) -> Result<()> {
        self.invoke(Call::Rmdir { path: path.to_string() }).map(drop)
    }
    pub fn kill(&self, pid: i32, signal: i32) -> Result<()> {
        self.invoke(Call::Kill { pid, signal }).map(drop)
    }
    /// Create an empty file (to bind-mount something on it) and close it.
    pub fn create_file(&self, path: &str, mode: u32) -> Result<()> {
        let fd = self.invoke(Call::OpenCreate { path: path.to_string(), mode })?;
        self.close(fd as RawFd)
    }
    pub fn symlink(&self, target: &str, linkpath: &str) -> Result<()> {
        self.invoke(Call::Symlink { target: target.to_string(), linkpath: linkpath.to_string() }).map(drop)
    }
    pub fn drop_bounding(&self, cap: caps::Capability) -> Result<()> {
        self.invoke(Call::DropBounding { cap }).map(drop)
    }
    pub fn capset(
        &self,
        effective: super::capabilities::Mask,
        permitted: super::capabilities::Mask,
        inheritable: super::capabilities::Mask,
    ) -> Result<()> {
        self.invoke(Call::Capset { effective: effective.0, permitted: permitted.0, inheritable: inheritable.0 })
            .map(drop)
    }
    pub fn clear_ambient(&self) -> Result<()> {
        self.invoke(Call::ClearAmbient).map(drop)
    }
    pub fn raise_ambient(&self, cap: caps::Capability) -> Result<()> {
        self.invoke(Call::RaiseAmbient { cap }).map(drop)
    }
    pub fn no_new_privs(&self) -> Result<()> {
        self.invoke(Call::NoNewPrivs).map(drop)
    }
    /// `execve`: returns only with the error that stopped it.
    pub fn execve_program(&self, path: &str, argv: &[String], env: &[String]) -> Error {
        match self.invoke(Call::Execve { path: path.to_string(), argv: argv.to_vec(), env: env.to_vec() }) {
            Err(e) => e,
            Ok(_) => Error::Child("execve returned".into()),
        }
    }
    /// `Some(pid)` in the parent, `None` in the child.
    pub fn fork(&self) -> Result<Option<i32>> {
        self.invoke(Call::Fork).map(|pid| if pid == 0 { None } else { Some(pid as i32) })
    }
    /// `fork` into a cgroup v2 directory (`clone3` with `CLONE_INTO_CGROUP`).
    pub fn fork_into_cgroup(&self, cgroup_fd: RawFd) -> Result<Option<i32>> {
        self.invoke(Call::ForkIntoCgroup { cgroup_fd }).map(|pid| if pid == 0 { None } else { Some(pid as i32) })
    }
    pub fn set_parent_death_signal(&self, signal: i32) -> Result<()> {
        self.invoke(Call::SetParentDeathSignal { signal }).map(drop)
    }
    pub fn write_file(&self, path: &str, data: &str) -> Result<()> {
        self.invoke(Call::WriteFile { path: path.to_string(), data: data.to_string() }).map(drop)
    }
    /// Become user `uid` and group `gid` with no supplementary groups, groups first
    /// (after setresuid to a non-root uid we could no longer change groups).
    pub fn become_user(&self, uid: u32, gid: u32) -> Result<()> {
        self.invoke(Call::Setgroups { groups: Vec::new() })?;
        self.invoke(Call::Setresgid { gid })?;
        self.invoke(Call::Setresuid { uid }).map(drop)
    }
    pub fn shmget(&self, key: i32, size: usize, mode: i32) -> Result<i32> {
        self.invoke(Call::Shmget { key, size, flags: mode }).map(|id| id as i32)
    }
}

/// The names in a capability mask, joined by `|` as strace writes them.
fn cap_names(mask: u64) -> String {
    let names = super::capabilities::Mask(mask).names();
    if names.is_empty() {
        "0".to_string()
    } else {
        names.join("|")
    }
}

/// `capset(2)` with all three sets in one call (version 3: two 32-bit halves each).
fn capset(effective: u64, permitted: u64, inheritable: u64) -> std::result::Result<i64, Errno> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let header = Header { version: VERSION_3, pid: 0 };
    let half = |m: u64, hi: bool| if hi { (m >> 32) as u32 } else { m as u32 };
    let data = [false, true].map(|hi| Data {
        effective: half(effective, hi),
        permitted: half(permitted, hi),
        inheritable: half(inheritable, hi),
    });
    // SAFETY: capset(2) reads a header and two data structs, which live on our stack.
    let r = unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
    Errno::result(r).map(|_| 0)
}

fn clone_flags(flags: CloneFlags) -> String {
    c_flags(flags.bits() as u32 as u64, CLONE_FLAGS)
}

/// A signal's name: `SIGKILL`.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal).map(|s| s.as_str().to_string()).unwrap_or_else(|_| signal.to_string())
}

/// open(2) of an existing file with `flags`; the new fd.
fn open(path: &str, flags: libc::c_int) -> std::result::Result<i64, Errno> {
    let c = cstring(path)?;
    // SAFETY: open(2) with a valid NUL-terminated path and no mode (no O_CREAT).
    Errno::result(unsafe { libc::open(c.as_ptr(), flags) }).map(i64::from)
}

fn cstring(s: &str) -> std::result::Result<CString, Errno> {
    CString::new(s).map_err(|_| Errno::EINVAL)
}

/// open + write + close, as one traced step (the kernel files under /proc/PID want
/// their content in a single write).
fn write_file(path: &str, data: &str) -> std::result::Result<i64, Errno> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).open(path).map_err(io_errno)?;
    file.write_all(data.as_bytes()).map_err(io_errno)?;
    Ok(data.len() as i64)
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_written_in_c_notation() {
        let fake = Fake::new();
        let k: &dyn Kernel = &fake;
        k.unshare(CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWPID).unwrap();
        k.mount(None, "/", None, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None).unwrap();
        k.umount2(".", MntFlags::MNT_DETACH).unwrap();
        k.sethostname("learnctr").unwrap();
        k.set_parent_death_signal(libc::SIGKILL).unwrap();
        k.shmget(0x1ea4, 4096, 0o600).unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                "unshare(CLONE_NEWUTS|CLONE_NEWPID)",
                "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL)",
                "umount2(\".\", MNT_DETACH)",
                "sethostname(\"learnctr\", 8)",
                "prctl(PR_SET_PDEATHSIG, SIGKILL)",
                "shmget(0x1ea4, 4096, IPC_CREAT|0600)",
            ]
        );
    }

    #[test]
    fn the_fake_fails_when_told() {
        let fake = Fake::new();
        fake.fail("sethostname", Errno::EPERM);
        let k: &dyn Kernel = &fake;
        let err = k.sethostname("x").unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EPERM));
        assert!(err.to_string().contains("EPERM"));
    }

    #[test]
    fn the_real_kernel_records_errors_with_errno() {
        trace::take();
        let k: &dyn Kernel = &Linux;
        let err = k.open("/nonexistent/learnctr-test").unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENOENT));
        let events = trace::take();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].call, "openat(AT_FDCWD, \"/nonexistent/learnctr-test\", O_RDONLY|O_CLOEXEC)");
        assert_eq!(events[0].result, "-1 ENOENT (No such file or directory)");
    }
}
