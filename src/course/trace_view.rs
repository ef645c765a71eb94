//! What a step's trace shows. Every call is recorded (see `primitives/trace.rs`), but
//! a lesson repeats itself: each step starts a new container the way the step before
//! did, and the thirty calls that build `/dev` would fill the screen every time. So a
//! step shows the calls that are new in this lesson, marks the ones its text is about
//! (`▶`), and folds each run of calls the learner has already seen into one line that
//! says how many, of which kinds, and where they were first shown. `--trace full`
//! shows every call.
//!
//! Two calls are "the same" when they differ only in numbers: a pid, an fd, an
//! interface index or an inode is not news to someone who has seen the call once.

use crate::primitives::trace::Event;
use std::collections::HashMap;

/// One line of a step's trace.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A call shown as it was recorded; `key` when the step's text is about it.
    Call { event: &'a Event, key: bool },
    /// `count` calls already shown, first in step `first_step` (1-based), by name.
    Folded { count: usize, first_step: usize, names: Vec<(String, usize)> },
}

/// The calls a lesson has shown so far, by shape, with the step that showed each first.
pub struct TraceView {
    seen: HashMap<String, usize>,
    full: bool,
}

impl TraceView {
    /// `full`: show every call (`--trace full`), marking the key ones all the same.
    pub fn new(full: bool) -> Self {
        TraceView { seen: HashMap::new(), full }
    }

    /// The lines of step `step` (1-based). `key` are pieces of the calls the step's
    /// text talks about (`"pivot_root("`, `"IFF_UP"`): they are never folded, and neither is a
    /// failed call, which is always news.
    pub fn lines<'a>(&mut self, step: usize, events: &'a [Event], key: &[&str]) -> Vec<Line<'a>> {
        let mut lines = Vec::new();
        let mut run: Vec<(&Event, usize)> = Vec::new();
        for event in events {
            let shape = shape(event);
            let is_key = key.iter().any(|k| event.call.contains(k));
            let failed = event.result.starts_with("-1");
            // Shown in an earlier step of this lesson: a repeat inside one step (the
            // same bind mount for each device) is part of what the step shows.
            let first_shown = self.seen.get(&shape).copied();
            match first_shown {
                Some(first) if first < step && !(self.full || is_key || failed) => run.push((event, first)),
                _ => {
                    self.seen.entry(shape).or_insert(step);
                    flush(&mut run, &mut lines);
                    lines.push(Line::Call { event, key: is_key });
                }
            }
        }
        flush(&mut run, &mut lines);
        lines
    }
}

/// A run of calls already seen becomes one line; a run of one stays the call itself,
/// which is as short.
fn flush<'a>(run: &mut Vec<(&'a Event, usize)>, lines: &mut Vec<Line<'a>>) {
    if let [(event, _)] = run[..] {
        lines.push(Line::Call { event, key: false });
        run.clear();
        return;
    }
    if run.is_empty() {
        return;
    }
    let first_step = run.iter().map(|(_, s)| *s).min().unwrap_or(1);
    let mut names: Vec<(String, usize)> = Vec::new();
    for n in run.iter().map(|(e, _)| name(&e.call)) {
        match names.iter_mut().find(|(m, _)| m == n) {
            Some((_, c)) => *c += 1,
            None => names.push((n.to_string(), 1)),
        }
    }
    names.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    lines.push(Line::Folded { count: run.len(), first_step, names });
    run.clear();
}

/// The call with every run of digits replaced by `#`: `openat(AT_FDCWD, "/proc/#/ns/net", …) = #`.
fn shape(event: &Event) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for ch in event.call.chars().chain(" = ".chars()).chain(event.result.chars()) {
        if ch.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(ch);
        }
    }
    out
}

/// The system call's name: what comes before the first `(`.
fn name(call: &str) -> &str {
    call.split('(').next().unwrap_or(call)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(pid: i32, call: &str, result: &str) -> Event {
        Event { pid, host_pid: None, call: call.into(), result: result.into() }
    }

    fn shown(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| match l {
                Line::Call { event, key } => format!("{}{}", if *key { "▶" } else { "" }, event.call),
                Line::Folded { count, first_step, .. } => format!("⋯{count}@{first_step}"),
            })
            .collect()
    }

    #[test]
    fn calls_seen_in_an_earlier_step_are_folded_even_with_other_numbers() {
        let mut view = TraceView::new(false);
        let one = [ev(10, "fork()", "11"), ev(1, "mount(\"/dev/null\")", "0"), ev(1, "chdir(\"/\")", "0")];
        assert_eq!(shown(&view.lines(1, &one, &[])), ["fork()", "mount(\"/dev/null\")", "chdir(\"/\")"]);
        let two = [ev(20, "fork()", "21"), ev(1, "mount(\"/dev/null\")", "0"), ev(1, "pivot_root(\".\", \".\")", "0")];
        assert_eq!(shown(&view.lines(2, &two, &[])), ["⋯2@1", "pivot_root(\".\", \".\")"]);
    }

    #[test]
    fn key_calls_and_failures_are_never_folded() {
        let mut view = TraceView::new(false);
        let one = [ev(1, "pivot_root(\".\", \".\")", "0"), ev(1, "sethostname(\"x\", 1)", "-1 EPERM")];
        view.lines(1, &one, &[]);
        let lines = view.lines(2, &one, &["pivot_root("]);
        assert_eq!(shown(&lines), ["▶pivot_root(\".\", \".\")", "sethostname(\"x\", 1)"]);
    }

    #[test]
    fn repeats_inside_one_step_are_shown_and_a_run_of_one_is_the_call() {
        let mut view = TraceView::new(false);
        let calls = [ev(1, "close(3)", "0"), ev(1, "close(4)", "0"), ev(1, "mount(\"a\")", "0")];
        assert_eq!(shown(&view.lines(1, &calls, &[])), ["close(3)", "close(4)", "mount(\"a\")"]);
        let next =
            [ev(1, "close(3)", "0"), ev(1, "umount2(\"a\")", "0"), ev(1, "close(3)", "0"), ev(1, "mount(\"a\")", "0")];
        let lines = view.lines(2, &next, &[]);
        assert_eq!(shown(&lines), ["close(3)", "umount2(\"a\")", "⋯2@1"]);
        let Line::Folded { names, .. } = &lines[2] else { panic!("not folded") };
        assert_eq!(names, &[("close".to_string(), 1), ("mount".to_string(), 1)]);
    }

    #[test]
    fn full_shows_every_call() {
        let mut view = TraceView::new(true);
        let calls = [ev(1, "close(3)", "0"), ev(1, "close(4)", "0")];
        assert_eq!(shown(&view.lines(1, &calls, &[])), ["close(3)", "close(4)"]);
    }
}
