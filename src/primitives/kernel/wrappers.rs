//! One method per [`Call`], so that a primitive reads like the C it performs:
//! `k.pivot_root(".", ".")` rather than `k.invoke(Call::PivotRoot { … })`. Same topics,
//! same order as `call.rs`.

use super::call::{BpfInsn, Call, TerminalIoctl};
use super::Kernel;
use crate::primitives::capability_mask::Mask;
use crate::primitives::error::{Error, Result};
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use std::net::Ipv4Addr;
use std::os::fd::RawFd;
use std::time::Duration;

impl dyn Kernel + '_ {
    // --- Processes -------------------------------------------------------------
    /// `Some(pid)` in the parent, `None` in the child.
    pub fn fork(&self) -> Result<Option<i32>> {
        self.invoke(Call::Fork).map(|pid| if pid == 0 { None } else { Some(pid as i32) })
    }
    /// `fork` into a cgroup v2 directory (`clone3` with `CLONE_INTO_CGROUP`).
    pub fn fork_into_cgroup(&self, cgroup_fd: RawFd) -> Result<Option<i32>> {
        self.invoke(Call::ForkIntoCgroup { cgroup_fd }).map(|pid| if pid == 0 { None } else { Some(pid as i32) })
    }
    /// `execve`: returns only with the error that stopped it.
    pub fn execve_program(&self, path: &str, argv: &[String], env: &[String]) -> Error {
        exec_error(self.invoke(Call::Execve { path: path.to_string(), argv: argv.to_vec(), env: env.to_vec() }))
    }
    /// `execveat` of an open file: returns only with the error that stopped it.
    pub fn execveat_fd(&self, fd: RawFd, argv: Vec<String>, env: Vec<String>) -> Error {
        exec_error(self.invoke(Call::Execveat { fd, argv, env }))
    }
    pub fn kill(&self, pid: i32, signal: i32) -> Result<()> {
        self.invoke(Call::Kill { pid, signal }).map(drop)
    }
    pub fn setsid(&self) -> Result<()> {
        self.invoke(Call::Setsid).map(drop)
    }
    pub fn set_parent_death_signal(&self, signal: i32) -> Result<()> {
        self.invoke(Call::SetParentDeathSignal { signal }).map(drop)
    }
    pub fn set_child_subreaper(&self) -> Result<()> {
        self.invoke(Call::SetChildSubreaper).map(drop)
    }
    pub fn set_dumpable(&self, on: bool) -> Result<()> {
        self.invoke(Call::SetDumpable { on }).map(drop)
    }
    pub fn umask(&self, mask: u32) -> Result<()> {
        self.invoke(Call::Umask { mask }).map(drop)
    }
    /// `name` is how the trace names the resource (`RLIMIT_NOFILE`).
    pub fn setrlimit(&self, resource: i32, name: &str, soft: u64, hard: u64) -> Result<()> {
        self.invoke(Call::Setrlimit { resource, name: name.to_string(), soft, hard }).map(drop)
    }
    pub fn ioprio_set(&self, class: u32, level: u32) -> Result<()> {
        self.invoke(Call::IoprioSet { class, level }).map(drop)
    }

    // --- Namespaces ------------------------------------------------------------
    pub fn unshare(&self, flags: CloneFlags) -> Result<()> {
        self.invoke(Call::Unshare { flags }).map(drop)
    }
    pub fn unshare_x32(&self, flags: CloneFlags) -> Result<()> {
        self.invoke(Call::UnshareX32 { flags }).map(drop)
    }
    pub fn setns(&self, fd: RawFd, nstype: CloneFlags) -> Result<()> {
        self.invoke(Call::Setns { fd, nstype }).map(drop)
    }
    pub fn sethostname(&self, name: &str) -> Result<()> {
        self.invoke(Call::Sethostname { name: name.to_string() }).map(drop)
    }
    pub fn setdomainname(&self, name: &str) -> Result<()> {
        self.invoke(Call::Setdomainname { name: name.to_string() }).map(drop)
    }

    // --- Mounts and the root -----------------------------------------------------
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
    pub fn open_tree_clone(&self, path: &str) -> Result<RawFd> {
        self.invoke(Call::OpenTreeClone { path: path.to_string() }).map(|fd| fd as RawFd)
    }
    pub fn mount_setattr_read_only(&self, fd: RawFd) -> Result<()> {
        self.invoke(Call::MountSetattrReadOnly { fd }).map(drop)
    }
    pub fn chroot(&self, path: &str) -> Result<()> {
        self.invoke(Call::Chroot { path: path.to_string() }).map(drop)
    }
    pub fn pivot_root(&self, new_root: &str, put_old: &str) -> Result<()> {
        self.invoke(Call::PivotRoot { new_root: new_root.to_string(), put_old: put_old.to_string() }).map(drop)
    }
    pub fn chdir(&self, path: &str) -> Result<()> {
        self.invoke(Call::Chdir { path: path.to_string() }).map(drop)
    }
    /// Fails with ENOENT when the working directory is outside our root.
    pub fn getcwd_inside(&self) -> Result<()> {
        self.invoke(Call::GetcwdInside).map(drop)
    }

    // --- Files -----------------------------------------------------------------
    pub fn open(&self, path: &str) -> Result<RawFd> {
        self.invoke(Call::Open { path: path.to_string() }).map(|fd| fd as RawFd)
    }
    pub fn open_path(&self, path: &str) -> Result<RawFd> {
        self.invoke(Call::OpenPath { path: path.to_string() }).map(|fd| fd as RawFd)
    }
    pub fn open_write(&self, path: &str) -> Result<RawFd> {
        self.invoke(Call::OpenWrite { path: path.to_string() }).map(|fd| fd as RawFd)
    }
    pub fn open_write_at(&self, dirfd: RawFd, name: &str) -> Result<RawFd> {
        self.invoke(Call::OpenWriteAt { dirfd, name: name.to_string() }).map(|fd| fd as RawFd)
    }
    /// Create an empty file (to bind-mount something on it) and close it.
    pub fn create_file(&self, path: &str, mode: u32) -> Result<()> {
        let fd = self.invoke(Call::OpenCreate { path: path.to_string(), mode })?;
        self.close(fd as RawFd)
    }
    pub fn close(&self, fd: RawFd) -> Result<()> {
        self.invoke(Call::Close { fd }).map(drop)
    }
    pub fn write(&self, fd: RawFd, data: &[u8]) -> Result<usize> {
        self.invoke(Call::Write { fd, data: data.to_vec() }).map(|n| n as usize)
    }
    pub fn write_file(&self, path: &str, data: &str) -> Result<()> {
        self.invoke(Call::WriteFile { path: path.to_string(), data: data.to_string() }).map(drop)
    }
    pub fn set_cloexec(&self, fd: RawFd) -> Result<()> {
        self.invoke(Call::SetCloexec { fd }).map(drop)
    }
    pub fn close_range_cloexec(&self, first: u32) -> Result<()> {
        self.invoke(Call::CloseRangeCloexec { first }).map(drop)
    }
    pub fn dup2(&self, old: RawFd, new: RawFd) -> Result<()> {
        self.invoke(Call::Dup2 { old, new }).map(drop)
    }
    pub fn mkdir(&self, path: &str, mode: u32) -> Result<()> {
        self.invoke(Call::Mkdir { path: path.to_string(), mode }).map(drop)
    }
    pub fn rmdir(&self, path: &str) -> Result<()> {
        self.invoke(Call::Rmdir { path: path.to_string() }).map(drop)
    }
    pub fn symlink(&self, target: &str, linkpath: &str) -> Result<()> {
        self.invoke(Call::Symlink { target: target.to_string(), linkpath: linkpath.to_string() }).map(drop)
    }
    pub fn chown(&self, path: &str, uid: u32, gid: u32) -> Result<()> {
        self.invoke(Call::Chown { path: path.to_string(), uid, gid }).map(drop)
    }
    pub fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        self.invoke(Call::Chmod { path: path.to_string(), mode }).map(drop)
    }
    pub fn mkfifo(&self, path: &str, mode: u32) -> Result<()> {
        self.invoke(Call::Mkfifo { path: path.to_string(), mode }).map(drop)
    }
    /// A character device (`block` false) or a block device node.
    pub fn mknod(&self, path: &str, block: bool, mode: u32, major: u64, minor: u64) -> Result<()> {
        self.invoke(Call::Mknod { path: path.to_string(), block, mode, major, minor }).map(drop)
    }

    // --- Users and capabilities --------------------------------------------------
    pub fn setgroups(&self, groups: Vec<u32>) -> Result<()> {
        self.invoke(Call::Setgroups { groups }).map(drop)
    }
    pub fn setresgid(&self, gid: u32) -> Result<()> {
        self.invoke(Call::Setresgid { gid }).map(drop)
    }
    pub fn setresuid(&self, uid: u32) -> Result<()> {
        self.invoke(Call::Setresuid { uid }).map(drop)
    }
    /// Become user `uid` and group `gid` with no supplementary groups, groups first
    /// (after setresuid to a non-root uid we could no longer change groups).
    pub fn become_user(&self, uid: u32, gid: u32) -> Result<()> {
        self.setgroups(Vec::new())?;
        self.setresgid(gid)?;
        self.setresuid(uid)
    }
    pub fn keep_caps(&self, on: bool) -> Result<()> {
        self.invoke(Call::KeepCaps { on }).map(drop)
    }
    pub fn drop_bounding(&self, cap: caps::Capability) -> Result<()> {
        self.invoke(Call::DropBounding { cap }).map(drop)
    }
    pub fn capset(&self, effective: Mask, permitted: Mask, inheritable: Mask) -> Result<()> {
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

    // --- Filters: seccomp and eBPF -------------------------------------------------
    pub fn seccomp(&self, label: String, flags: u32, program: Vec<libc::sock_filter>) -> Result<()> {
        self.invoke(Call::Seccomp { label, flags, program }).map(drop)
    }
    /// The loaded program's fd.
    pub fn bpf_prog_load(&self, label: String, program: Vec<BpfInsn>) -> Result<RawFd> {
        self.invoke(Call::BpfProgLoad { label, program }).map(|fd| fd as RawFd)
    }
    pub fn bpf_prog_attach(&self, cgroup_fd: RawFd, prog_fd: RawFd) -> Result<()> {
        self.invoke(Call::BpfProgAttach { cgroup_fd, prog_fd }).map(drop)
    }

    // --- Keys and IPC --------------------------------------------------------------
    /// The session keyring's id.
    pub fn keyctl_session_id(&self) -> Result<i64> {
        self.invoke(Call::Keyctl)
    }
    pub fn join_session_keyring(&self, name: &str) -> Result<()> {
        self.invoke(Call::JoinSessionKeyring { name: name.to_string() }).map(drop)
    }
    pub fn shmget(&self, key: i32, size: usize, mode: i32) -> Result<i32> {
        self.invoke(Call::Shmget { key, size, flags: mode }).map(|id| id as i32)
    }

    // --- Sockets ---------------------------------------------------------------------
    pub fn socket(&self, domain: i32, kind: i32, protocol: i32) -> Result<RawFd> {
        self.invoke(Call::Socket { domain, kind, protocol }).map(|fd| fd as RawFd)
    }
    pub fn bind(&self, fd: RawFd, port: u16) -> Result<()> {
        self.invoke(Call::Bind { fd, port }).map(drop)
    }
    pub fn set_receive_timeout(&self, fd: RawFd, timeout: Duration) -> Result<()> {
        self.invoke(Call::SetReceiveTimeout { fd, timeout }).map(drop)
    }
    pub fn send_to(&self, fd: RawFd, addr: Ipv4Addr, data: &[u8]) -> Result<usize> {
        self.invoke(Call::SendTo { fd, addr, data: data.to_vec() }).map(|n| n as usize)
    }
    pub fn send_fd(&self, socket: RawFd, fd: RawFd) -> Result<()> {
        self.invoke(Call::SendFd { socket, fd }).map(drop)
    }
    /// Send a netlink request and wait for its acknowledgement.
    pub fn netlink(&self, fd: RawFd, summary: String, request: Vec<u8>) -> Result<()> {
        self.invoke(Call::Netlink { fd, summary, request }).map(drop)
    }

    // --- Terminals -------------------------------------------------------------------
    pub fn open_terminal(&self, path: &str) -> Result<RawFd> {
        self.invoke(Call::OpenTerminal { path: path.to_string() }).map(|fd| fd as RawFd)
    }
    /// The pty number for `GetPtyNumber`, 0 for the others.
    pub fn terminal_ioctl(&self, fd: RawFd, request: TerminalIoctl) -> Result<i64> {
        self.invoke(Call::Ioctl { fd, request })
    }

    // --- Sealed copies -----------------------------------------------------------------
    pub fn memfd_create(&self, name: &str) -> Result<RawFd> {
        self.invoke(Call::MemfdCreate { name: name.to_string() }).map(|fd| fd as RawFd)
    }
    pub fn copy_file_into(&self, path: &str, fd: RawFd) -> Result<()> {
        self.invoke(Call::CopyFileInto { path: path.to_string(), fd }).map(drop)
    }
    pub fn seal_memfd(&self, fd: RawFd) -> Result<()> {
        self.invoke(Call::SealMemfd { fd }).map(drop)
    }
}

/// What an exec call returns: only ever an error, since success replaces the process.
fn exec_error(answer: Result<i64>) -> Error {
    match answer {
        Err(e) => e,
        Ok(_) => Error::Child("execve returned".into()),
    }
}
