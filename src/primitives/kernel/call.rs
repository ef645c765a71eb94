//! [`Call`]: one system call and its arguments, as a value.
//!
//! A call is data first, so it can be described (`describe.rs`, what the trace
//! prints), performed (`perform.rs`, the only place that makes system calls) or only
//! recorded (the `Fake` kernel of the unit tests). The variants are grouped
//! by topic, in the same order in every file of this module:
//! processes, namespaces, mounts and the root, files, users and capabilities,
//! filters (seccomp and eBPF), keys and IPC, sockets, terminals, sealed copies.

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use std::net::Ipv4Addr;
use std::os::fd::RawFd;
use std::time::Duration;

/// One system call and its arguments.
#[derive(Clone, Debug)]
pub enum Call {
    // --- Processes -------------------------------------------------------------
    /// A new process: returns the child's pid in the parent, 0 in the child.
    Fork,
    /// `clone3` like `fork`, but the child starts inside the cgroup v2 directory open
    /// as `cgroup_fd` (Linux 5.7): nobody has to move it there afterwards.
    ForkIntoCgroup {
        cgroup_fd: RawFd,
    },
    /// Replace this process with a program (`execve(2)`); returns only on failure.
    Execve {
        path: String,
        argv: Vec<String>,
        env: Vec<String>,
    },
    /// Run the program an fd refers to (`execveat(fd, "", …, AT_EMPTY_PATH)`);
    /// returns only on failure.
    Execveat {
        fd: RawFd,
        argv: Vec<String>,
        env: Vec<String>,
    },
    /// Send a signal to a process.
    Kill {
        pid: i32,
        signal: i32,
    },
    /// A new session, without a controlling terminal (`setsid(2)`).
    Setsid,
    /// Ask the kernel to send `signal` to us when our parent dies (`PR_SET_PDEATHSIG`).
    SetParentDeathSignal {
        signal: i32,
    },
    /// `prctl(PR_SET_CHILD_SUBREAPER)`: orphans below us are re-parented to us, not
    /// to the host's PID 1, so `run` can wait for a container's init.
    SetChildSubreaper,
    /// `prctl(PR_SET_DUMPABLE)`: 0 keeps other processes of the same user (a
    /// container's root) from reading our memory or opening `/proc/PID/exe`.
    SetDumpable {
        on: bool,
    },
    /// `umask(2)`: the permission bits new files never get.
    Umask {
        mask: u32,
    },
    /// `setrlimit(2)`.
    Setrlimit {
        resource: i32,
        name: String,
        soft: u64,
        hard: u64,
    },
    /// `ioprio_set(IOPRIO_WHO_PROCESS, 0, …)`: this process's disk priority.
    IoprioSet {
        class: u32,
        level: u32,
    },

    // --- Namespaces ------------------------------------------------------------
    /// Move the caller into new namespaces (`unshare(2)`).
    Unshare {
        flags: CloneFlags,
    },
    /// `unshare` called by its x32 ABI number (bit 30 set), as a filter bypass would.
    UnshareX32 {
        flags: CloneFlags,
    },
    /// Join the namespace that `fd` refers to (`setns(2)`, what `nsenter` does).
    Setns {
        fd: RawFd,
        nstype: CloneFlags,
    },
    Sethostname {
        name: String,
    },
    /// `setdomainname(2)` (the NIS domain name of the uts namespace).
    Setdomainname {
        name: String,
    },

    // --- Mounts and the root -----------------------------------------------------
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
    /// A detached copy of the mount that holds `path`, reduced to that one file
    /// (`open_tree(OPEN_TREE_CLONE)`, Linux 5.2): attached nowhere, seen by no one.
    OpenTreeClone {
        path: String,
    },
    /// Make a detached mount read-only (`mount_setattr(MOUNT_ATTR_RDONLY)`, Linux 5.12).
    MountSetattrReadOnly {
        fd: RawFd,
    },
    /// Change the root directory of this process (`chroot(2)`): only path lookup changes.
    Chroot {
        path: String,
    },
    /// Make `new_root` the root mount of this mount namespace and put the old root
    /// at `put_old` (`pivot_root(2)`).
    PivotRoot {
        new_root: String,
        put_old: String,
    },
    Chdir {
        path: String,
    },
    /// `getcwd(2)`, failing with ENOENT when the working directory is not under our
    /// root (the kernel then answers "(unreachable)/…", which glibc turns into ENOENT).
    GetcwdInside,

    // --- Files -----------------------------------------------------------------
    /// Open a file read-only, e.g. `/proc/PID/ns/uts` to join that namespace.
    Open {
        path: String,
    },
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
    /// Open (creating if needed) an empty file, e.g. a mount point for a device.
    OpenCreate {
        path: String,
        mode: u32,
    },
    Close {
        fd: RawFd,
    },
    /// Write bytes to an fd.
    Write {
        fd: RawFd,
        data: Vec<u8>,
    },
    /// `openat` + `write` + `close` of a whole small file, such as `/proc/PID/uid_map`.
    WriteFile {
        path: String,
        data: String,
    },
    /// Mark one fd close-on-exec (`fcntl(F_SETFD, FD_CLOEXEC)`).
    SetCloexec {
        fd: RawFd,
    },
    /// Mark every fd from `first` up close-on-exec (`close_range(2)`).
    CloseRangeCloexec {
        first: u32,
    },
    Dup2 {
        old: RawFd,
        new: RawFd,
    },
    Mkdir {
        path: String,
        mode: u32,
    },
    Rmdir {
        path: String,
    },
    Symlink {
        target: String,
        linkpath: String,
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
    /// A named pipe (`mkfifo(3)`, i.e. `mknod` with S_IFIFO).
    Mkfifo {
        path: String,
        mode: u32,
    },
    /// A device node (`mknod(2)`, needs CAP_MKNOD): a character or a block device.
    Mknod {
        path: String,
        block: bool,
        mode: u32,
        major: u64,
        minor: u64,
    },

    // --- Users and capabilities --------------------------------------------------
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
    /// `prctl(PR_SET_KEEPCAPS)`: keep the permitted capabilities across setuid.
    KeepCaps {
        on: bool,
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

    // --- Filters: seccomp and eBPF -------------------------------------------------
    /// Install a seccomp filter (`seccomp(SECCOMP_SET_MODE_FILTER)`); `label` says
    /// what the compiled BPF program does.
    Seccomp {
        label: String,
        /// `SECCOMP_FILTER_FLAG_*` (config.json's `linux.seccomp.flags`), usually 0.
        flags: u32,
        program: Vec<libc::sock_filter>,
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

    // --- Keys and IPC --------------------------------------------------------------
    /// Ask for the session keyring's id (`keyctl(KEYCTL_GET_KEYRING_ID)`): harmless, and
    /// a call seccomp profiles deny because keys are not namespaced.
    Keyctl,
    /// Join a new session keyring of this name (`keyctl(KEYCTL_JOIN_SESSION_KEYRING)`),
    /// as runc's init does: the keys of the host's session are no longer ours.
    JoinSessionKeyring {
        name: String,
    },
    /// Create a System V shared memory segment (`shmget(2)`).
    Shmget {
        key: i32,
        size: usize,
        flags: i32,
    },

    // --- Sockets ---------------------------------------------------------------------
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
    /// How long a `recv` on this socket waits at most (`setsockopt(SO_RCVTIMEO)`).
    SetReceiveTimeout {
        fd: RawFd,
        timeout: Duration,
    },
    /// Send one datagram to an IPv4 address (`sendto(2)`), e.g. an ICMP echo request.
    SendTo {
        fd: RawFd,
        addr: Ipv4Addr,
        data: Vec<u8>,
    },
    /// Send an fd to the other end of a unix socket (`sendmsg` with SCM_RIGHTS).
    SendFd {
        socket: RawFd,
        fd: RawFd,
    },
    /// One netlink request (`sendto` on a NETLINK_ROUTE socket) and the kernel's
    /// acknowledgement (`recvfrom`): `summary` is the message, decoded as strace does.
    Netlink {
        fd: RawFd,
        summary: String,
        request: Vec<u8>,
    },

    // --- Terminals -------------------------------------------------------------------
    /// Open a terminal device read-write, without making it our controlling terminal.
    OpenTerminal {
        path: String,
    },
    /// One of the three terminal ioctls a container's console needs.
    Ioctl {
        fd: RawFd,
        request: TerminalIoctl,
    },

    // --- Sealed copies -----------------------------------------------------------------
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
}

/// The terminal ioctls of `console.rs`, each with the argument it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TerminalIoctl {
    /// `TIOCSPTLCK` with a pointer to 0: unlock the pty's slave side.
    UnlockPty,
    /// `TIOCGPTN`: the pty's number N (its slave is `/dev/pts/N`), written through a pointer.
    GetPtyNumber,
    /// `TIOCSCTTY` with 0: make this terminal our controlling terminal.
    SetControllingTerminal,
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
