//! `learnctr doctor` and `learnctr cleanup`, and the quiet recovery every root
//! command starts with.

use super::require_root;
use crate::course::Failure;
use crate::host::{cleanup, doctor, journal};
use crate::i18n::{t, tf};
use colored::Colorize;

/// At every start as root: remove what an earlier, killed learnctr left behind.
pub fn recover_quietly() {
    let report = cleanup::recover(journal::Journal::system().dir());
    if !report.removed.is_empty() {
        eprintln!("{}", tf("cleanup.recovered", &[("list", &report.removed.join(", "))]).yellow());
    }
}

pub fn run_doctor() -> Result<(), Failure> {
    let findings = doctor::examine();
    let mut problems = 0;
    for f in &findings {
        let mark = match f.status {
            doctor::Status::Ok => "✓".green(),
            doctor::Status::Note => "!".yellow(),
            doctor::Status::Problem => "✗".red(),
            doctor::Status::Unknown => "?".dimmed(),
        };
        println!("{mark} {}: {}", f.label.bold(), f.detail);
        if let Some(fix) = &f.fix {
            println!("    → {fix}");
        }
        problems += usize::from(f.status == doctor::Status::Problem);
    }
    println!();
    if problems == 0 {
        println!("{}", t("doctor.ready").green());
        Ok(())
    } else {
        Err(Failure::new(tf("doctor.problems", &[("n", &problems)])))
    }
}

pub fn run_cleanup() -> Result<(), Failure> {
    require_root("learnctr cleanup")?;
    let report = cleanup::cleanup(journal::Journal::system().dir());
    for item in &report.removed {
        println!("{} {item}", t("cleanup.removed"));
    }
    for item in &report.in_use {
        println!("{} {item}", t("cleanup.in_use"));
    }
    if report.removed.is_empty() && report.failed.is_empty() {
        println!("{}", t("cleanup.nothing"));
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(tf("cleanup.failed", &[("list", &report.failed.join("; "))])))
    }
}
