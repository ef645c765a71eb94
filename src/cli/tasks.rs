//! `learnctr tasks`, `task N.K`, `check N.K`, `hint N.K`, `solution N.K`: the
//! learner's turn (see `src/tasks/`).

use super::require_root;
use crate::course::{progress, Failure};
use crate::i18n::{t, tf};
use crate::primitives::cgroups::hierarchy::{self, Mode};
use crate::tasks::{self, Ctx, Task};
use colored::Colorize;
use std::path::PathBuf;

fn task_or_fail(id: &str) -> Result<Task, Failure> {
    tasks::find(id).ok_or_else(|| Failure::usage(tf("error.no_task", &[("id", &id)])))
}

/// The root filesystems a task may be about: the one named with --rootfs (a
/// directory, or a name in the store) and every one in the store.
fn rootfs_candidates(choice: Option<&str>) -> Vec<PathBuf> {
    let store = crate::course_rootfs::store();
    let mut list: Vec<PathBuf> = store.list().map(|l| l.into_iter().map(|i| i.path).collect()).unwrap_or_default();
    if let Some(c) = choice {
        let named = store.rootfs_dir().join(c);
        list.insert(0, if std::path::Path::new(c).is_dir() { PathBuf::from(c) } else { named });
    }
    list
}

/// The task's text with ROOTFS named: the first root filesystem there is.
fn placeholders(text: &str, rootfs: &[PathBuf]) -> String {
    match rootfs.first() {
        Some(r) => text.replace("ROOTFS", &r.display().to_string()),
        None => text.to_string(),
    }
}

/// "watched" is the lesson's ✓; this is the other half, "done yourself": the lesson's
/// tasks whose check passed, as `  · done yourself 1/1` (nothing for a lesson
/// without tasks).
pub fn lesson_state(lesson: &str, p: &progress::Progress) -> String {
    let keys: Vec<String> = tasks::all().into_iter().filter(|t| t.lesson == lesson).map(|t| t.key()).collect();
    if keys.is_empty() {
        return String::new();
    }
    let passed = keys.iter().filter(|key| p.tasks_passed.contains(*key)).count();
    format!("  · {} {passed}/{}", t("tasks.done"), keys.len())
}

/// The first task not done yourself, with its title.
pub fn first_open(p: &progress::Progress) -> Option<(String, String)> {
    let text = tasks::tasks_text();
    tasks::all().into_iter().find(|t| !p.tasks_passed.contains(&t.key())).map(|t| {
        let title = tasks::parts(&text, t.id).map(|p| p.title).unwrap_or_default();
        (t.id.to_string(), title)
    })
}

/// After a lesson: its tasks, offered.
pub fn offer(lesson: &str) {
    let text = tasks::tasks_text();
    let ids: Vec<&str> = tasks::all().into_iter().filter(|t| t.lesson == lesson).map(|t| t.id).collect();
    if ids.is_empty() {
        return;
    }
    println!();
    println!("{}", t("tasks.your_turn").bold());
    for id in ids {
        let title = tasks::parts(&text, id).map(|p| p.title).unwrap_or_default();
        crate::course::render::prose(&format!("  `learnctr task {id}`  {title}"));
    }
}

/// The learner's state, for an instructor to collect: each lesson watched or not,
/// each task done or not, the hints seen and the checks failed.
pub fn progress_json() -> Result<(), Failure> {
    let p = progress::load();
    let lessons: Vec<serde_json::Value> = (1..=crate::lessons::PLANNED)
        .filter_map(|n| crate::lessons::name(n).map(|name| (n, name)))
        .map(|(n, name)| {
            let tasks: Vec<serde_json::Value> = tasks::all()
                .into_iter()
                .filter(|t| t.lesson == name)
                .map(|t| serde_json::json!({ "id": t.id, "done": p.tasks_passed.contains(&t.key()) }))
                .collect();
            serde_json::json!({ "number": n, "name": name, "watched": p.is_done(name), "tasks": tasks })
        })
        .collect();
    let user = std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_default();
    let json = serde_json::json!({
        "user": user,
        "lessons": lessons,
        "hints_seen": by_id(&p.hints_seen),
        "checks_failed": by_id(&p.checks_failed),
    });
    println!("{}", serde_json::to_string_pretty(&json).map_err(|e| Failure::new(e.to_string()))?);
    Ok(())
}

/// Counts kept by task key, shown by the tasks' ids (a key of no task as it is).
fn by_id(counts: &std::collections::BTreeMap<String, u8>) -> std::collections::BTreeMap<String, u8> {
    counts.iter().map(|(key, n)| (tasks::id_of(key).map_or_else(|| key.clone(), str::to_string), *n)).collect()
}

pub fn list() -> Result<(), Failure> {
    let p = progress::load();
    let text = tasks::tasks_text();
    println!("{}", text.title.bold());
    for task in tasks::all() {
        let title = tasks::parts(&text, task.id).map(|p| p.title).unwrap_or_default();
        let state =
            if p.tasks_passed.contains(&task.key()) { t("tasks.done").green() } else { t("tasks.open").normal() };
        println!("  {:4} {title:44} {state}", task.id);
    }
    println!();
    crate::course::render::prose(&t("tasks.how"));
    Ok(())
}

pub fn show(id: &str, reset: bool, rootfs: Option<&str>, interactive: bool) -> Result<(), Failure> {
    let task = task_or_fail(id)?;
    if reset {
        require_root(&format!("learnctr task {id} --reset"))?;
        let removed = (task.reset)(&Ctx::new(rootfs_candidates(rootfs), None));
        if removed.is_empty() {
            println!("{}", tf("tasks.reset_nothing", &[("id", &id)]));
        } else {
            println!("{}", tf("tasks.reset_done", &[("id", &id), ("list", &removed.join(", "))]));
        }
        return Ok(());
    }
    if let Some(setup) = task.setup {
        require_root(&format!("learnctr task {id}"))?;
        setup(&Ctx::new(rootfs_candidates(rootfs), None))
            .map_err(|e| Failure::new(tf("error.io", &[("detail", &e)])))?;
    }
    let text = tasks::tasks_text();
    let parts = tasks::parts(&text, id).ok_or_else(|| Failure::new(tf("error.no_task", &[("id", &id)])))?;
    println!("{}", format!("{id} — {}", parts.title).bold());
    println!();
    crate::course::render::prose(&placeholders(&parts.task, &rootfs_candidates(rootfs)));
    println!();
    crate::course::render::prose(&tf("tasks.then", &[("id", &id)]));
    if interactive {
        task_shell(id, &rootfs_candidates(rootfs))?;
    }
    Ok(())
}

/// A shell for the task, on the learner's terminal: its prompt names the task, and
/// `$ROOTFS` names the root filesystem. It is an ordinary shell of the host: what the
/// learner makes there is theirs (`--reset` removes it).
fn task_shell(id: &str, rootfs: &[PathBuf]) -> Result<(), Failure> {
    // A scratch directory to work in, journaled like every object learnctr makes, and
    // removed when the learner leaves the shell (what they built elsewhere stays).
    let scratch = PathBuf::from(format!("{}/task-{id}-{}", crate::host::journal::RUN_DIR, std::process::id()));
    let entry =
        crate::host::journal::Journal::system().record(crate::host::journal::Object::Dir { path: scratch.clone() })?;
    std::fs::create_dir_all(&scratch).map_err(|e| Failure::new(tf("error.io", &[("detail", &e)])))?;
    crate::course::render::prose(&tf("tasks.shell", &[("id", &id), ("dir", &scratch.display())]));
    let mut shell = std::process::Command::new("/bin/sh");
    shell.env("PS1", format!("learnctr[task {id}]# ")).current_dir(&scratch);
    if let Some(r) = rootfs.first() {
        shell.env("ROOTFS", r);
    }
    let ran = shell.status();
    crate::primitives::signals::reclaim_terminal();
    let _ = std::fs::remove_dir_all(&scratch);
    drop(entry);
    ran.map_err(|e| Failure::new(tf("error.io", &[("detail", &e)])))?;
    Ok(())
}

pub fn check(id: &str, answer: Option<String>, rootfs: Option<&str>) -> Result<(), Failure> {
    let task = task_or_fail(id)?;
    require_root(&format!("learnctr check {id}"))?;
    let key = task.key();
    let verdict = (task.check)(&Ctx::new(rootfs_candidates(rootfs), answer));
    for met in &verdict.met {
        println!("  {} {met}", "✓".green().bold());
    }
    let passed = verdict.passed();
    let saved = progress::update(|p| {
        if passed {
            p.tasks_passed.insert(key);
        } else {
            *p.checks_failed.entry(key).or_default() += 1;
        }
    });
    if let Err(e) = saved {
        eprintln!("{}", tf("error.progress", &[("detail", &e)]));
    }
    match verdict.unmet {
        None if passed => {
            println!("{}", tf("tasks.passed", &[("id", &id)]).green().bold());
            Ok(())
        }
        None => Err(Failure::new(tf("tasks.nothing_checked", &[("id", &id)]))),
        Some(unmet) => Err(Failure::new(unmet)),
    }
}

pub fn hint(id: &str) -> Result<(), Failure> {
    let key = task_or_fail(id)?.key();
    let text = tasks::tasks_text();
    let parts = tasks::parts(&text, id).ok_or_else(|| Failure::new(tf("error.no_task", &[("id", &id)])))?;
    let seen = progress::load().hints_seen.get(&key).copied().unwrap_or(0) as usize;
    let next = seen.min(parts.hints.len().saturating_sub(1));
    let total = parts.hints.len();
    println!("{}", tf("tasks.hint", &[("n", &(next + 1)), ("total", &total)]).bold());
    crate::course::render::prose(&parts.hints[next]);
    if seen + 1 >= total {
        crate::course::render::prose(&tf("tasks.last_hint", &[("id", &id)]));
    }
    let _ = progress::update(|p| {
        p.hints_seen.insert(key, (next + 1) as u8);
    });
    Ok(())
}

pub fn solution(id: &str, rootfs: Option<&str>) -> Result<(), Failure> {
    let key = task_or_fail(id)?.key();
    let p = progress::load();
    let failed = p.checks_failed.get(&key).copied().unwrap_or(0);
    if !p.tasks_passed.contains(&key) && failed < 2 {
        return Err(Failure::new(tf("tasks.solution_locked", &[("id", &id), ("failed", &failed)])));
    }
    let text = tasks::tasks_text();
    let parts = tasks::parts(&text, id).ok_or_else(|| Failure::new(tf("error.no_task", &[("id", &id)])))?;
    let v2 = hierarchy::detect_mode() == Mode::Unified;
    let solution = placeholders(&tasks::for_this_host(&parts.solution, v2), &rootfs_candidates(rootfs));
    crate::course::render::prose(&solution);
    Ok(())
}
