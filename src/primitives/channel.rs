//! The socket between learnctr (on the host) and a process it put in namespaces.
//!
//! A `SOCK_SEQPACKET` socket pair keeps message boundaries, so each message is one
//! JSON document. The child sends its trace events, its pid and its answers; the
//! parent sends questions. Both ends are close-on-exec: a shell started inside never
//! inherits them.

use super::error::{Error, Result};
use super::probe::{Answer, Probe};
use super::trace::Event;
use nix::errno::Errno;
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// What a child tells the host.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToHost {
    Trace(Event),
    /// "I have unshared a user namespace: write my uid_map and gid_map now."
    NeedIdMap,
    /// The host pid of the process that answers questions (PID 1 inside a new pid ns).
    InitPid(i32),
    Ready,
    Answer(std::result::Result<Answer, String>),
    Failed(String),
    /// The runtime's init: "run the prestart and createRuntime hooks now" (they run in
    /// the runtime's namespaces, after the container's namespaces exist).
    RunRuntimeHooks,
}

/// What the host asks a child.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToChild {
    IdMapWritten,
    Ask(Probe),
    Shell {
        prompt: String,
        program: String,
    },
    Exit,
    /// The runtime has moved the child into the container's cgroups.
    CgroupJoined,
    /// The runtime's answer to `RunRuntimeHooks`: did every hook succeed?
    RuntimeHooksRan {
        ok: bool,
    },
}

/// Large enough for any answer (the child cuts long command output before sending).
const MAX_MESSAGE: usize = 1 << 20;

pub fn pair() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|errno| Error::Sys { call: "socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0)".into(), errno })
}

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
