//! A terminal for the container (`process.terminal` with `--console-socket`): a new
//! pseudo-terminal from the container's own devpts, the slave side as the process's
//! stdin, stdout, stderr and controlling terminal, and the master side handed to the
//! caller (containerd, podman, or a learner's `recvtty`) over a unix socket, as runc
//! does.

use super::error::Result;
use super::kernel::{Kernel, TerminalIoctl};
use std::os::fd::RawFd;

/// Make the pty, wire it to 0/1/2, send the master to `socket`.
pub fn attach(k: &dyn Kernel, socket: RawFd) -> Result<()> {
    let master = k.open_terminal("/dev/ptmx")?;
    k.terminal_ioctl(master, TerminalIoctl::UnlockPty)?;
    let number = k.terminal_ioctl(master, TerminalIoctl::GetPtyNumber)?;
    let slave = k.open_terminal(&format!("/dev/pts/{number}"))?;
    // A controlling terminal needs a session of our own (we may lead one already).
    if nix::unistd::getsid(None).ok() != Some(nix::unistd::getpid()) {
        k.setsid()?;
    }
    k.terminal_ioctl(slave, TerminalIoctl::SetControllingTerminal)?;
    for target in 0..3 {
        k.dup2(slave, target)?;
    }
    k.send_fd(socket, master)?;
    k.close(master)?;
    k.close(slave)?;
    k.close(socket)
}
