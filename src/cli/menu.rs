//! The course map (`learnctr lessons`) and, on a terminal, the menu: each lesson
//! watched (✓) and done yourself (its tasks), and what to run next.

use super::{run_lesson, run_shell, tasks};
use crate::course::{progress, Failure};
use crate::i18n::t;
use crate::lessons;
use colored::Colorize;

pub fn course_map() {
    let p = progress::load();
    let done = |n: u32| lessons::name(n).is_some_and(|name| p.is_done(name));
    println!("{}", t("course.map").bold());
    for n in 1..=lessons::PLANNED {
        let mark = if done(n) { "✓".green().to_string() } else { " ".to_string() };
        let state = if lessons::get(n).is_some() { String::new() } else { format!("  ({})", t("course.coming")) };
        let yourself = tasks::lesson_state(lessons::name(n).unwrap_or_default(), &p);
        println!("  {mark} {n}  {}{}{}", t(&format!("course.lesson.{n}")), state.dimmed(), yourself.dimmed());
    }
    println!();
    println!("{}", t("course.how"));
}

pub fn menu(interactive: bool, rootfs: Option<&str>) -> Result<(), Failure> {
    if !interactive {
        course_map();
        return Ok(());
    }
    let p = progress::load();
    let done = |n: u32| lessons::name(n).is_some_and(|name| p.is_done(name));
    let items: Vec<String> = (1..=lessons::PLANNED)
        .map(|n| {
            let mark = if done(n) { "✓" } else { " " };
            let state = if lessons::get(n).is_some() { String::new() } else { format!("  ({})", t("course.coming")) };
            let yourself = tasks::lesson_state(lessons::name(n).unwrap_or_default(), &p);
            format!("{mark} {n}  {}{state}{yourself}", t(&format!("course.lesson.{n}")))
        })
        .chain([format!("  ›  {}", t("course.menu_shell"))])
        .collect();
    let first_open = (1..=lessons::PLANNED).position(|n| !done(n)).unwrap_or(0);
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
