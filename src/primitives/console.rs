//! A terminal for the container (`process.terminal` with `--console-socket`): a new
//! pseudo-terminal from the container's own devpts, the slave side as the process's
//! stdin, stdout, stderr and controlling terminal, and the master side handed to the
//! caller (containerd, podman, or a learner's `recvtty`) over a unix socket, as runc
//! does.

use super::error::Result;
use super::kernel::{Call, Kernel};
use std::os::fd::RawFd;

/// Make the pty, wire it to 0/1/2, send the master to `socket`.
pub fn attach(k: &dyn Kernel, socket: RawFd) -> Result<()> {
    let master = k.invoke(Call::OpenTerminal { path: "/dev/ptmx".into() })? as RawFd;
    k.invoke(Call::Ioctl { fd: master, name: "TIOCSPTLCK", request: libc::TIOCSPTLCK, arg: 0 })?;
    let number = k.invoke(Call::Ioctl { fd: master, name: "TIOCGPTN", request: libc::TIOCGPTN, arg: 0 })?;
    let slave = k.invoke(Call::OpenTerminal { path: format!("/dev/pts/{number}") })? as RawFd;
    // A controlling terminal needs a session of our own (we may lead one already).
    if nix::unistd::getsid(None).ok() != Some(nix::unistd::getpid()) {
        k.invoke(Call::Setsid)?;
    }
    k.invoke(Call::Ioctl { fd: slave, name: "TIOCSCTTY", request: libc::TIOCSCTTY, arg: 0 })?;
    for target in 0..3 {
        k.invoke(Call::Dup2 { old: slave, new: target })?;
    }
    k.invoke(Call::SendFd { socket, fd: master })?;
    k.close(master)?;
    k.close(slave)?;
    k.close(socket)
}
