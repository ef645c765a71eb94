//! Small helpers the lessons share: asking the same question on both sides.

use crate::course::step::Contained;
use crate::course::Failure;
use crate::i18n::t;
use crate::instruments::probe::{self, Answer, FileStat, Probe};
use crate::primitives::mountinfo::Mount;

/// The answer as text.
pub fn text(answer: Answer) -> String {
    answer.text()
}

/// The same question, answered by learnctr itself on the host.
pub fn on_host(question: &Probe) -> Result<String, Failure> {
    probe::answer(question).map(|a| a.text()).map_err(Failure::new)
}

/// `stat` of a path inside.
pub fn stat_inside(inside: &Contained, path: &str) -> Result<FileStat, Failure> {
    match inside.ask(Probe::Stat(path.to_string()))? {
        Answer::Stat(s) => Ok(s),
        other => Err(Failure::new(format!("unexpected answer {other:?}"))),
    }
}

/// `stat` of a path on the host.
pub fn stat_on_host(path: &str) -> Result<FileStat, Failure> {
    probe::stat(path).map_err(Failure::new)
}

/// Two stats name the same directory: same device and inode.
pub fn same_file(a: &FileStat, b: &FileStat) -> bool {
    a.dev == b.dev && a.ino == b.ino
}

/// `device:inode`, for observations.
pub fn identity(s: &FileStat) -> String {
    format!("dev {} inode {}", s.dev, s.ino)
}

/// How a mount propagates, as the lessons show it: its tags (`shared:1`, `master:2`),
/// or "private" in the learner's language.
pub fn propagation_shown(m: &Mount) -> String {
    if m.propagation.is_empty() {
        t("value.private")
    } else {
        m.propagation.join(" ")
    }
}

/// The names in a directory on the host, as one line.
pub fn listing_on_host(path: &str) -> Result<String, Failure> {
    probe::list_dir(path).map(|n| n.join(" ")).map_err(Failure::new)
}

/// Host-side commands to look at a process from outside.
pub fn outside_commands(pid: i32, nsenter_options: &str) -> Vec<String> {
    vec![
        format!("sudo nsenter --target {pid} {nsenter_options} sh"),
        format!("sudo ls -l /proc/{pid}/ns /proc/{pid}/root"),
        format!("sudo cat /proc/{pid}/mountinfo"),
    ]
}
