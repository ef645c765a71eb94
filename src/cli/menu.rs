//! The course map (`learnctr lessons`) and, on a terminal, the menu: each lesson
//! watched (✓) and done yourself (its tasks), and what to run next.

use super::{run_lesson, run_shell, tasks};
use crate::course::progress::{self, Progress};
use crate::course::Failure;
use crate::i18n::t;
use crate::lessons;
use colored::Colorize;

pub fn course_map() {
    let p = progress::load();
    println!("{}", t("course.map").bold());
    for n in 1..=lessons::PLANNED {
        println!("  {}", lesson_line(n, &p, true));
    }
    println!();
    println!("{}", t("course.how"));
}

/// Whether lesson `n` was watched to its end.
fn watched(n: u32, p: &Progress) -> bool {
    lessons::name(n).is_some_and(|name| p.is_done(name))
}

/// Lesson `n` as the course map and the menu show it: ✓ when watched, its number and
/// title, "(coming)" when it is not written yet, and its tasks done yourself. In
/// colour for the map; plain for the menu, whose selection has colours of its own.
fn lesson_line(n: u32, p: &Progress, coloured: bool) -> String {
    let title = t(&format!("course.lesson.{n}"));
    let state = if lessons::get(n).is_some() { String::new() } else { format!("  ({})", t("course.coming")) };
    let yourself = tasks::lesson_state(lessons::name(n).unwrap_or_default(), p);
    let mark = if watched(n, p) { "✓" } else { " " };
    if coloured {
        format!("{} {n}  {title}{}{}", mark.green(), state.dimmed(), yourself.dimmed())
    } else {
        format!("{mark} {n}  {title}{state}{yourself}")
    }
}

pub fn menu(interactive: bool, rootfs: Option<&str>) -> Result<(), Failure> {
    if !interactive {
        course_map();
        return Ok(());
    }
    let p = progress::load();
    let items: Vec<String> = (1..=lessons::PLANNED)
        .map(|n| lesson_line(n, &p, false))
        .chain([format!("  ›  {}", t("course.menu_shell"))])
        .collect();
    let first_open = (1..=lessons::PLANNED).position(|n| !watched(n, &p)).unwrap_or(0);
    let picked =
        dialoguer::Select::new().with_prompt(t("course.choose")).items(&items).default(first_open).interact_opt();
    match picked {
        Ok(Some(i)) if i as u32 == lessons::PLANNED => {
            let options = crate::shell::Options::default();
            run_shell(options, rootfs, None, interactive)
        }
        Ok(Some(i)) => run_lesson(i as u32 + 1, None, interactive, rootfs, (None, None), false),
        Ok(None) => Ok(()),
        Err(_) => Err(Failure::interrupted()),
    }
}
