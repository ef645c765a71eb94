//! The socket between learnctr (on the host) and a process it forked.
//!
//! A `SOCK_SEQPACKET` socket pair keeps message boundaries, so each message is one
//! JSON document. This file is only the transport: what the two sides say is their
//! protocol, an enum beside its users: an isolated process's start in `isolate.rs`,
//! the course's questions in `instruments/inside.rs`, the runtime's init in
//! `runtime/init_protocol.rs`. Both ends are close-on-exec: a shell started inside
//! never inherits them.

use super::error::{Error, Result};
use nix::errno::Errno;
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{de::DeserializeOwned, Serialize};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Large enough for any answer (the child cuts long command output before sending).
const MAX_MESSAGE: usize = 1 << 20;

/// The two ends: one for the host, one for the child (each closes the other's).
pub fn pair() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|errno| Error::Sys { call: "socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0)".into(), errno })
}

/// Send one message (any type of the protocol spoken on this socket).
pub fn send_raw<T: Serialize>(fd: RawFd, message: &T) -> Result<()> {
    let bytes = serde_json::to_vec(message).map_err(|e| Error::Child(format!("cannot encode a message: {e}")))?;
    loop {
        match send(fd, &bytes, MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) if !super::signals::interrupted() => continue,
            Err(Errno::EINTR) => return Err(Error::Interrupted),
            Err(errno) => return Err(Error::Sys { call: "send(socket)".into(), errno }),
        }
    }
}

pub fn send_to<T: Serialize>(fd: &OwnedFd, message: &T) -> Result<()> {
    send_raw(fd.as_raw_fd(), message)
}

/// The next message, or `None` when the other side has closed (exited).
pub fn receive<T: DeserializeOwned>(fd: &OwnedFd) -> Result<Option<T>> {
    // One buffer per thread, allocated once: zeroing a fresh megabyte for each of the
    // hundred small messages of a container start cost more than everything else.
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; MAX_MESSAGE]);
    }
    BUFFER.with(|buffer| receive_into(fd, &mut buffer.borrow_mut()))
}

fn receive_into<T: DeserializeOwned>(fd: &OwnedFd, buf: &mut [u8]) -> Result<Option<T>> {
    loop {
        match recv(fd.as_raw_fd(), buf, MsgFlags::empty()) {
            Ok(0) => return Ok(None),
            Ok(n) => {
                return serde_json::from_slice(&buf[..n])
                    .map(Some)
                    .map_err(|e| Error::Child(format!("cannot decode a message: {e}")))
            }
            Err(Errno::EINTR) if !super::signals::interrupted() => continue,
            Err(Errno::EINTR) => return Err(Error::Interrupted),
            Err(errno) => return Err(Error::Sys { call: "recv(socket)".into(), errno }),
        }
    }
}
