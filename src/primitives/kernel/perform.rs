//! Making each [`Call`]: the one place in learnctr where a system call is made and
//! where `unsafe` code stands (with `../untraced.rs`, the few calls the trace leaves
//! out). Every `unsafe` block says why it is sound. Where `nix` or `caps` offer a
//! safe binding, it is used; the raw ones are the calls those crates do not have.

use super::abi;
use super::call::{Call, TerminalIoctl};
use nix::errno::Errno;
use nix::sys::stat::{Mode, SFlag};
use nix::unistd;
use std::ffi::CString;

type Answer = std::result::Result<i64, Errno>;

impl Call {
    /// Make the call. Returns the kernel's answer (a count, a pid, an fd, or 0).
    pub(super) fn perform(&self) -> Answer {
        match self {
            // Processes
            // SAFETY: learnctr is single-threaded when it forks, so the child may run any code.
            Call::Fork => Errno::result(unsafe { libc::fork() }).map(i64::from),
            Call::ForkIntoCgroup { cgroup_fd } => fork_into_cgroup(*cgroup_fd),
            Call::Execve { path, argv, env } => {
                match unistd::execve(&cstring(path)?, &cstrings(argv)?, &cstrings(env)?) {
                    Err(e) => Err(e),
                    Ok(never) => match never {},
                }
            }
            Call::Execveat { fd, argv, env } => execveat(*fd, argv, env),
            // SAFETY: kill(2) with integer arguments only.
            Call::Kill { pid, signal } => Errno::result(unsafe { libc::kill(*pid, *signal) }).map(|_| 0),
            Call::Setsid => unistd::setsid().map(|p| i64::from(p.as_raw())),
            Call::SetParentDeathSignal { signal } => prctl(libc::PR_SET_PDEATHSIG, *signal as libc::c_ulong),
            Call::SetChildSubreaper => prctl(libc::PR_SET_CHILD_SUBREAPER, 1),
            Call::SetDumpable { on } => prctl(libc::PR_SET_DUMPABLE, libc::c_ulong::from(*on)),
            // SAFETY: umask(2) cannot fail.
            Call::Umask { mask } => Ok(i64::from(unsafe { libc::umask(*mask as libc::mode_t) })),
            Call::Setrlimit { resource, soft, hard, .. } => {
                let lim = libc::rlimit { rlim_cur: *soft, rlim_max: *hard };
                // SAFETY: setrlimit(2) reads a valid struct.
                Errno::result(unsafe { libc::setrlimit(*resource as _, &lim) }).map(|_| 0)
            }
            Call::IoprioSet { class, level } => {
                let value = ((*class as libc::c_long) << 13) | *level as libc::c_long;
                // SAFETY: ioprio_set(2) with integer arguments only.
                Errno::result(unsafe { libc::syscall(libc::SYS_ioprio_set, abi::IOPRIO_WHO_PROCESS, 0, value) })
                    .map(|_| 0)
            }
            // Namespaces
            Call::Unshare { flags } => nix::sched::unshare(*flags).map(|_| 0),
            // SAFETY: a raw system call with integer arguments only.
            Call::UnshareX32 { flags } => {
                Errno::result(unsafe { libc::syscall(libc::SYS_unshare | 0x4000_0000, flags.bits()) }).map(|_| 0)
            }
            // SAFETY: setns(2) on an fd; the kernel checks that it is a namespace file.
            Call::Setns { fd, nstype } => Errno::result(unsafe { libc::setns(*fd, nstype.bits()) }).map(|_| 0),
            Call::Sethostname { name } => unistd::sethostname(name).map(|_| 0),
            Call::Setdomainname { name } => {
                // SAFETY: setdomainname(2) reads name.len() bytes.
                Errno::result(unsafe { libc::setdomainname(name.as_ptr() as *const libc::c_char, name.len()) })
                    .map(|_| 0)
            }
            // Mounts and the root
            Call::Mount { source, target, fstype, flags, data } => {
                nix::mount::mount(source.as_deref(), target.as_str(), fstype.as_deref(), *flags, data.as_deref())
                    .map(|_| 0)
            }
            Call::Umount2 { target, flags } => nix::mount::umount2(target.as_str(), *flags).map(|_| 0),
            Call::OpenTreeClone { path } => {
                let c = cstring(path)?;
                let flags = abi::OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
                // SAFETY: open_tree(2) with a valid path and integer flags.
                Errno::result(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) })
            }
            Call::MountSetattrReadOnly { fd } => {
                let attr =
                    abi::MountAttr { attr_set: abi::MOUNT_ATTR_RDONLY, attr_clr: 0, propagation: 0, userns_fd: 0 };
                let size = std::mem::size_of::<abi::MountAttr>();
                // SAFETY: mount_setattr(2) reads `attr` of the size we pass; "" with
                // AT_EMPTY_PATH means the fd itself.
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_mount_setattr,
                        *fd,
                        c"".as_ptr(),
                        libc::AT_EMPTY_PATH,
                        &attr as *const _,
                        size,
                    )
                };
                Errno::result(r).map(|_| 0)
            }
            Call::Chroot { path } => unistd::chroot(path.as_str()).map(|_| 0),
            Call::PivotRoot { new_root, put_old } => unistd::pivot_root(new_root.as_str(), put_old.as_str()).map(|_| 0),
            Call::Chdir { path } => unistd::chdir(path.as_str()).map(|_| 0),
            Call::GetcwdInside => getcwd_inside(),
            // Files
            Call::Open { path } => open(path, libc::O_RDONLY | libc::O_CLOEXEC),
            Call::OpenPath { path } => open(path, libc::O_PATH | libc::O_CLOEXEC),
            Call::OpenWrite { path } => open(path, libc::O_WRONLY | libc::O_CLOEXEC),
            Call::OpenWriteAt { dirfd, name } => {
                let c = cstring(name)?;
                // SAFETY: openat(2) with a directory fd and a NUL-terminated name.
                Errno::result(unsafe { libc::openat(*dirfd, c.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) })
                    .map(i64::from)
            }
            Call::OpenCreate { path, mode } => {
                let c = cstring(path)?;
                let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC;
                // SAFETY: open(2) with a valid NUL-terminated path and a mode.
                Errno::result(unsafe { libc::open(c.as_ptr(), flags, *mode) }).map(i64::from)
            }
            // SAFETY: closing an fd this process owns; callers pass fds they opened.
            Call::Close { fd } => Errno::result(unsafe { libc::close(*fd) }).map(|_| 0),
            Call::Write { fd, data } => {
                // SAFETY: write(2) reads data.len() bytes from data.
                Errno::result(unsafe { libc::write(*fd, data.as_ptr() as *const libc::c_void, data.len()) })
                    .map(|n| n as i64)
            }
            Call::WriteFile { path, data } => write_file(path, data),
            // SAFETY: fcntl(2) F_SETFD on an fd number; a closed one just fails.
            Call::SetCloexec { fd } => {
                Errno::result(unsafe { libc::fcntl(*fd, libc::F_SETFD, libc::FD_CLOEXEC) }).map(|_| 0)
            }
            Call::CloseRangeCloexec { first } => {
                // SAFETY: close_range(2) with integer arguments only.
                let r = unsafe { libc::syscall(libc::SYS_close_range, *first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
                Errno::result(r).map(|_| 0)
            }
            // SAFETY: dup2(2) with integer arguments only.
            Call::Dup2 { old, new } => Errno::result(unsafe { libc::dup2(*old, *new) }).map(i64::from),
            Call::Mkdir { path, mode } => unistd::mkdir(path.as_str(), Mode::from_bits_truncate(*mode)).map(|_| 0),
            Call::Rmdir { path } => std::fs::remove_dir(path).map(|_| 0).map_err(io_errno),
            Call::Symlink { target, linkpath } => {
                unistd::symlinkat(target.as_str(), nix::fcntl::AT_FDCWD, linkpath.as_str()).map(|_| 0)
            }
            Call::Chown { path, uid, gid } => {
                unistd::chown(path.as_str(), Some(unistd::Uid::from_raw(*uid)), Some(unistd::Gid::from_raw(*gid)))
                    .map(|_| 0)
            }
            Call::Chmod { path, mode } => nix::sys::stat::fchmodat(
                nix::fcntl::AT_FDCWD,
                path.as_str(),
                Mode::from_bits_truncate(*mode),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map(|_| 0),
            Call::Mkfifo { path, mode } => unistd::mkfifo(path.as_str(), Mode::from_bits_truncate(*mode)).map(|_| 0),
            Call::Mknod { path, block, mode, major, minor } => nix::sys::stat::mknod(
                path.as_str(),
                if *block { SFlag::S_IFBLK } else { SFlag::S_IFCHR },
                Mode::from_bits_truncate(*mode),
                nix::sys::stat::makedev(*major, *minor),
            )
            .map(|_| 0),
            // Users and capabilities
            Call::Setgroups { groups } => {
                let gids: Vec<unistd::Gid> = groups.iter().map(|g| unistd::Gid::from_raw(*g)).collect();
                unistd::setgroups(&gids).map(|_| 0)
            }
            Call::Setresgid { gid } => {
                let g = unistd::Gid::from_raw(*gid);
                unistd::setresgid(g, g, g).map(|_| 0)
            }
            Call::Setresuid { uid } => {
                let u = unistd::Uid::from_raw(*uid);
                unistd::setresuid(u, u, u).map(|_| 0)
            }
            Call::KeepCaps { on } => prctl(libc::PR_SET_KEEPCAPS, libc::c_ulong::from(*on)),
            Call::DropBounding { cap } => {
                caps::drop(None, caps::CapSet::Bounding, *cap).map(|_| 0).map_err(|_| Errno::last())
            }
            Call::Capset { effective, permitted, inheritable } => capset(*effective, *permitted, *inheritable),
            Call::ClearAmbient => caps::clear(None, caps::CapSet::Ambient).map(|_| 0).map_err(|_| Errno::last()),
            Call::RaiseAmbient { cap } => {
                caps::raise(None, caps::CapSet::Ambient, *cap).map(|_| 0).map_err(|_| Errno::last())
            }
            Call::NoNewPrivs => prctl(libc::PR_SET_NO_NEW_PRIVS, 1),
            // Filters
            Call::Seccomp { program, flags, .. } => {
                let prog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr() as *mut _ };
                let mode = libc::SECCOMP_SET_MODE_FILTER;
                // SAFETY: the kernel copies the program; `program` outlives the call.
                let r = unsafe { libc::syscall(libc::SYS_seccomp, mode, *flags, &prog as *const libc::sock_fprog) };
                Errno::result(r).map(|_| 0)
            }
            Call::BpfProgLoad { program, .. } => bpf_prog_load(program),
            Call::BpfProgAttach { cgroup_fd, prog_fd } => bpf_prog_attach(*cgroup_fd, *prog_fd),
            // Keys and IPC
            Call::Keyctl => {
                let (get, session) = (abi::KEYCTL_GET_KEYRING_ID, abi::KEY_SPEC_SESSION_KEYRING);
                // SAFETY: keyctl(2) with integer arguments only.
                Errno::result(unsafe { libc::syscall(libc::SYS_keyctl, get, session, 0) })
            }
            Call::JoinSessionKeyring { name } => {
                let name = cstring(name)?;
                // SAFETY: keyctl(2) with a NUL-terminated string that outlives the call.
                Errno::result(unsafe {
                    libc::syscall(libc::SYS_keyctl, abi::KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr())
                })
            }
            Call::Shmget { key, size, flags } => {
                // SAFETY: shmget(2) with integer arguments only.
                Errno::result(unsafe { libc::shmget(*key, *size, libc::IPC_CREAT | flags) }).map(i64::from)
            }
            // Sockets
            Call::Socket { domain, kind, protocol } => {
                // SAFETY: socket(2) with integer arguments only.
                Errno::result(unsafe { libc::socket(*domain, *kind | libc::SOCK_CLOEXEC, *protocol) }).map(i64::from)
            }
            Call::Bind { fd, port } => {
                let addr = sockaddr_in(std::net::Ipv4Addr::UNSPECIFIED, *port);
                let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                // SAFETY: bind(2) with a valid sockaddr_in and its size.
                Errno::result(unsafe { libc::bind(*fd, &addr as *const _ as *const libc::sockaddr, len) }).map(|_| 0)
            }
            Call::SetReceiveTimeout { fd, timeout } => {
                let tv = libc::timeval {
                    tv_sec: timeout.as_secs() as libc::time_t,
                    tv_usec: timeout.subsec_micros() as libc::suseconds_t,
                };
                let len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
                let tv = &tv as *const _ as *const libc::c_void;
                // SAFETY: setsockopt(2) reads a valid timeval of the size we pass.
                Errno::result(unsafe { libc::setsockopt(*fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, tv, len) }).map(|_| 0)
            }
            Call::SendTo { fd, addr, data } => {
                let dest = sockaddr_in(*addr, 0);
                let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                let (buf, dest) = (data.as_ptr() as *const libc::c_void, &dest as *const _ as *const libc::sockaddr);
                // SAFETY: sendto(2) reads data.len() bytes and a valid sockaddr_in.
                Errno::result(unsafe { libc::sendto(*fd, buf, data.len(), 0, dest, len) }).map(|n| n as i64)
            }
            Call::SendFd { socket, fd } => {
                use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
                let fds = [*fd];
                let payload = [std::io::IoSlice::new(b"/dev/ptmx")];
                sendmsg::<()>(*socket, &payload, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)
                    .map(|n| n as i64)
            }
            Call::Netlink { fd, request, .. } => netlink_exchange(*fd, request),
            // Terminals
            Call::OpenTerminal { path } => open(path, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC),
            Call::Ioctl { fd, request } => terminal_ioctl(*fd, *request),
            // Sealed copies
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
        }
    }
}

/// prctl(2) with one integer argument.
fn prctl(option: libc::c_int, arg: libc::c_ulong) -> Answer {
    // SAFETY: these prctl options take integer arguments only.
    Errno::result(unsafe { libc::prctl(option, arg, 0, 0, 0) }).map(|_| 0)
}

fn fork_into_cgroup(cgroup_fd: i32) -> Answer {
    let args = abi::CloneArgs {
        flags: abi::CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup_fd as u64,
        ..abi::CloneArgs::default()
    };
    // SAFETY: clone3(2) without CLONE_VM and without a stack behaves like fork(2): the
    // child continues here on a copy of our memory. learnctr is single-threaded when
    // it forks, so no lock is held by another thread in the copy.
    Errno::result(unsafe {
        libc::syscall(libc::SYS_clone3, &args as *const abi::CloneArgs, std::mem::size_of::<abi::CloneArgs>())
    })
}

fn execveat(fd: i32, argv: &[String], env: &[String]) -> Answer {
    let (argv, env) = (cstrings(argv)?, cstrings(env)?);
    let mut argp: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argp.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: NULL-terminated arrays of valid C strings, alive during the call.
    Errno::result(unsafe {
        libc::syscall(libc::SYS_execveat, fd, c"".as_ptr(), argp.as_ptr(), envp.as_ptr(), libc::AT_EMPTY_PATH)
    })
}

fn getcwd_inside() -> Answer {
    let mut buf = [0u8; 4096];
    // SAFETY: the raw getcwd(2) writes at most buf.len() bytes into buf.
    let len = Errno::result(unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) })?;
    // "(unreachable)/…": the directory is not below our root.
    if buf[0] != b'/' {
        return Err(Errno::ENOENT);
    }
    Ok(len)
}

/// `capset(2)` with all three sets in one call (version 3: two 32-bit halves each).
fn capset(effective: u64, permitted: u64, inheritable: u64) -> Answer {
    let header = abi::CapHeader { version: abi::LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let half = |m: u64, hi: bool| if hi { (m >> 32) as u32 } else { m as u32 };
    let data = [false, true].map(|hi| abi::CapData {
        effective: half(effective, hi),
        permitted: half(permitted, hi),
        inheritable: half(inheritable, hi),
    });
    // SAFETY: capset(2) reads a header and two data structs, which live on our stack.
    Errno::result(unsafe { libc::syscall(libc::SYS_capset, &header as *const abi::CapHeader, data.as_ptr()) })
        .map(|_| 0)
}

fn bpf_prog_load(program: &[super::call::BpfInsn]) -> Answer {
    let license = b"Apache-2.0\0";
    let mut attr = abi::ProgLoadAttr {
        prog_type: abi::BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: program.len() as u32,
        insns: program.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..abi::ProgLoadAttr::default()
    };
    attr.prog_name[..12].copy_from_slice(b"learnctr_dev");
    let size = std::mem::size_of::<abi::ProgLoadAttr>();
    // SAFETY: the kernel copies the instructions and the license while the call runs;
    // both outlive it, and `attr` is the size we pass.
    Errno::result(unsafe { libc::syscall(libc::SYS_bpf, abi::BPF_PROG_LOAD, &attr as *const _, size) })
}

fn bpf_prog_attach(cgroup_fd: i32, prog_fd: i32) -> Answer {
    let attr = abi::ProgAttachAttr {
        target_fd: cgroup_fd as u32,
        attach_bpf_fd: prog_fd as u32,
        attach_type: abi::BPF_CGROUP_DEVICE,
        attach_flags: abi::BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    let size = std::mem::size_of::<abi::ProgAttachAttr>();
    // SAFETY: bpf(2) reads `attr`, which lives on our stack, of the size we pass.
    Errno::result(unsafe { libc::syscall(libc::SYS_bpf, abi::BPF_PROG_ATTACH, &attr as *const _, size) }).map(|_| 0)
}

/// Send a finished request on a netlink socket and read the kernel's acknowledgement:
/// Ok(0), or the errno it carries.
fn netlink_exchange(fd: i32, request: &[u8]) -> Answer {
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
    use netlink_packet_route::RouteNetlinkMessage;
    // SAFETY: send(2) on our own socket with a valid buffer.
    Errno::result(unsafe { libc::send(fd, request.as_ptr() as *const libc::c_void, request.len(), 0) })?;
    let mut buf = vec![0u8; 8192];
    loop {
        // SAFETY: recv(2) into a buffer we own.
        let n = Errno::result(unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) })? as usize;
        match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[..n]).map(|m| m.payload) {
            Ok(NetlinkPayload::Error(e)) => {
                return match e.code {
                    None => Ok(0),
                    Some(code) => Err(Errno::from_raw(-code.get())),
                }
            }
            Ok(_) => continue,
            Err(_) => return Err(Errno::EPROTO),
        }
    }
}

fn terminal_ioctl(fd: i32, request: TerminalIoctl) -> Answer {
    let mut value: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads and TIOCGPTN writes one int through the pointer, which
    // points at `value` on our stack; TIOCSCTTY takes the integer 0.
    let r = unsafe {
        match request {
            TerminalIoctl::UnlockPty => libc::ioctl(fd, libc::TIOCSPTLCK, &mut value as *mut libc::c_int),
            TerminalIoctl::GetPtyNumber => libc::ioctl(fd, libc::TIOCGPTN, &mut value as *mut libc::c_int),
            TerminalIoctl::SetControllingTerminal => libc::ioctl(fd, libc::TIOCSCTTY, 0 as libc::c_ulong),
        }
    };
    Errno::result(r)?;
    Ok(if request == TerminalIoctl::GetPtyNumber { i64::from(value) } else { 0 })
}

fn sockaddr_in(addr: std::net::Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(addr).to_be() },
        sin_zero: [0; 8],
    }
}

/// open(2) of an existing file with `flags`; the new fd.
fn open(path: &str, flags: libc::c_int) -> Answer {
    let c = cstring(path)?;
    // SAFETY: open(2) with a valid NUL-terminated path and no mode (no O_CREAT).
    Errno::result(unsafe { libc::open(c.as_ptr(), flags) }).map(i64::from)
}

/// open + write + close, as one traced step (the kernel files under /proc/PID want
/// their content in a single write).
fn write_file(path: &str, data: &str) -> Answer {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).open(path).map_err(io_errno)?;
    file.write_all(data.as_bytes()).map_err(io_errno)?;
    Ok(data.len() as i64)
}

fn cstring(s: &str) -> std::result::Result<CString, Errno> {
    CString::new(s).map_err(|_| Errno::EINVAL)
}

fn cstrings(list: &[String]) -> std::result::Result<Vec<CString>, Errno> {
    list.iter().map(|a| cstring(a)).collect()
}

pub(super) fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}
