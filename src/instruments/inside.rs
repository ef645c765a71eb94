//! A process in its own namespaces that answers the course's questions from inside.
//!
//! [`Inside::start`] starts an isolated process (`primitives/isolate.rs`) whose life,
//! once it is ready, is [`serve`]: it reads a question, measures the answer where it
//! stands (`probe.rs`) and sends it back, until the host goes away. A learner's shell
//! inside is one more question: its answer is the shell's exit code.
//!
//! ```text
//! learnctr (host)                        the process inside
//!  Ask(Probe::Hostname) ───────────────▶  probe::answer
//!  ◀──────────────────────────────────── Trace(...) for each call it makes, then
//!  ◀──────────────────────────────────── Answer(Text("box"))
//! ```

use super::probe::{self, Answer, Probe};
use crate::primitives::error::{Error, Result};
use crate::primitives::isolate::{Isolated, Plan};
use crate::primitives::trace::{self, Event};
use crate::primitives::untraced;
use crate::primitives::{channel, signals, Kernel};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd};

/// What the host asks.
#[derive(Debug, Serialize, Deserialize)]
enum Question {
    Ask(Probe),
    /// An interactive shell inside, until the learner leaves it.
    Shell {
        prompt: String,
        program: String,
    },
}

/// What the process inside replies.
#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    Trace(Event),
    Answer(std::result::Result<Answer, String>),
    /// The process cannot go on (its socket failed).
    Failed(String),
}

impl From<Event> for Reply {
    fn from(event: Event) -> Reply {
        Reply::Trace(event)
    }
}

/// The process inside, seen from the host. Dropping it kills it.
pub struct Inside {
    process: Isolated,
}

impl Inside {
    /// Start the process and wait until it is ready to answer.
    pub fn start(k: &dyn Kernel, plan: Plan) -> Result<Inside> {
        Ok(Inside { process: Isolated::start(k, plan, serve)? })
    }

    /// The host pid of the process inside (use it with `nsenter -t PID`).
    pub fn pid(&self) -> i32 {
        self.process.pid()
    }

    /// Every process this made (see `Isolated::pids`).
    pub fn pids(&self) -> Vec<i32> {
        self.process.pids()
    }

    /// Ask a question; the answer is measured from inside.
    pub fn ask(&self, question: Probe) -> Result<Answer> {
        channel::send_to(self.process.socket(), &Question::Ask(question))?;
        self.wait_answer()
    }

    /// Open an interactive shell inside; returns its exit code when the learner leaves.
    pub fn shell(&self, program: &str, prompt: &str) -> Result<i32> {
        let _ours = signals::IgnoreWhileShellRuns::new();
        let question = Question::Shell { prompt: prompt.to_string(), program: program.to_string() };
        channel::send_to(self.process.socket(), &question)?;
        match self.wait_answer()? {
            Answer::Number(code) => Ok(code as i32),
            other => Err(Error::Child(format!("unexpected answer {other:?}"))),
        }
    }

    fn wait_answer(&self) -> Result<Answer> {
        loop {
            match channel::receive::<Reply>(self.process.socket())? {
                Some(Reply::Trace(event)) => self.process.absorb(event),
                Some(Reply::Answer(answer)) => return answer.map_err(Error::Child),
                Some(Reply::Failed(why)) => return Err(Error::Child(why)),
                None => return Err(Error::Child("the isolated process exited".into())),
            }
        }
    }
}

/// The process inside, once ready: answer questions until the host goes away.
fn serve(sock: &OwnedFd) -> ! {
    trace::forward_to::<Reply>(sock.as_raw_fd());
    if let Err(e) = answer_questions(sock) {
        let _ = channel::send_to(sock, &Reply::Failed(e.to_string()));
        std::process::exit(1)
    }
    std::process::exit(0)
}

fn answer_questions(sock: &OwnedFd) -> Result<()> {
    loop {
        match channel::receive::<Question>(sock)? {
            Some(Question::Ask(question)) => channel::send_to(sock, &Reply::Answer(probe::answer(&question)))?,
            Some(Question::Shell { prompt, program }) => {
                let code = run_shell(&program, &prompt);
                channel::send_to(sock, &Reply::Answer(code.map(|c| Answer::Number(i64::from(c)))))?;
            }
            None => return Ok(()),
        }
    }
}

fn run_shell(program: &str, prompt: &str) -> std::result::Result<i32, String> {
    let _ours = signals::IgnoreWhileShellRuns::new();
    let mut cmd = std::process::Command::new(program);
    cmd.env_clear()
        .env("PS1", prompt)
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .env("TERM", std::env::var("TERM").unwrap_or_else(|_| "xterm".into()));
    // The shell must not inherit our "ignore Ctrl-C", or Ctrl-C would not stop a command.
    untraced::before_exec_reset_signals(&mut cmd, signals::reset_to_default);
    let status = cmd.status().map_err(|e| format!("{program}: {e}"))?;
    Ok(status.code().unwrap_or(128))
}
