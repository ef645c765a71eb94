//! Errors of the primitives: which call failed and the kernel's answer (errno).

use nix::errno::Errno;
use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// A system call returned -1; `call` is its C notation, as in the trace.
    Sys { call: String, errno: Errno },
    /// Reading or writing a file (often under /proc) failed.
    Io { what: String, source: std::io::Error },
    /// The process inside reported a failure, or died before answering.
    Child(String),
    /// Ctrl-C (SIGINT), SIGTERM or SIGHUP arrived while we were waiting.
    Interrupted,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { what: what.into(), source }
    }

    /// The errno when the failure came from the kernel.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Sys { errno, .. } => Some(*errno),
            Error::Io { source, .. } => source.raw_os_error().map(Errno::from_raw),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sys { call, errno } => write!(f, "{call} failed: {} ({})", errno_name(*errno), errno.desc()),
            Error::Io { what, source } => write!(f, "{what}: {source}"),
            Error::Child(msg) => write!(f, "{msg}"),
            Error::Interrupted => write!(f, "interrupted"),
        }
    }
}

impl std::error::Error for Error {}

/// The symbolic name of an errno, as strace prints it: `EPERM`, `ENOENT`...
pub fn errno_name(e: Errno) -> String {
    format!("{e:?}")
}
