//! What the learner sees when something goes wrong: one sentence in their language,
//! what to do next, and an exit code. Never a panic, never a backtrace.

use crate::i18n::{t, tf};
use crate::primitives;

#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub exit_code: i32,
}

impl Failure {
    /// A failure of the learner's request (bad number, unknown language): exit 2.
    pub fn usage(message: String) -> Failure {
        Failure { message, exit_code: 2 }
    }

    /// Anything else that stopped the work: exit 1.
    pub fn new(message: String) -> Failure {
        Failure { message, exit_code: 1 }
    }

    /// No message: exit with a program's own code (`learnctr shell -- false` is 1).
    pub fn exit(code: i32) -> Failure {
        Failure { message: String::new(), exit_code: code }
    }

    pub fn interrupted() -> Failure {
        Failure { message: t("error.interrupted"), exit_code: 130 }
    }
}

impl From<primitives::Error> for Failure {
    fn from(e: primitives::Error) -> Failure {
        use nix::errno::Errno;
        match e {
            primitives::Error::Interrupted => Failure::interrupted(),
            other => {
                let hint = match other.errno() {
                    Some(Errno::EPERM) | Some(Errno::EACCES) => t("error.hint.permission"),
                    Some(Errno::EINVAL) => t("error.hint.kernel"),
                    Some(Errno::ENOSPC) => t("error.hint.nospace"),
                    _ => String::new(),
                };
                Failure::new(tf("error.primitive", &[("detail", &other), ("hint", &hint)]).trim_end().to_string())
            }
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::new(tf("error.io", &[("detail", &crate::i18n::io_reason(&e))]))
    }
}
