//! Running a lesson: for each step, its text, its shell equivalent, the action, the
//! trace, the observations and checks, then (on a terminal) a pause.

use super::failure::Failure;
use super::step::{Ctx, Lesson};
use super::trace_view::TraceView;
use super::{predict, progress, render, texts};
use crate::host::journal::Journal;
use crate::i18n::{self, t, tf};
use crate::primitives::{signals, trace, Kernel, Linux};
use colored::Colorize;

pub struct Options {
    /// Pause between steps and offer a shell (a terminal without `--yes`).
    pub interactive: bool,
    /// Run only this step (1-based).
    pub only_step: Option<usize>,
    /// The root filesystem, for lessons that need one.
    pub rootfs: Option<String>,
    /// `--subnet` for the network lessons.
    pub subnet: Option<String>,
    /// `--registry` for lesson 9's pull.
    pub registry: Option<String>,
    /// `--trace full`: every call, none folded into "as in step K".
    pub trace_full: bool,
}

/// What the learner chose at the pause after a step.
enum Choice {
    Continue,
    Repeat,
    Quit,
}

/// Run a lesson. `Ok(true)`: finished with every check passed.
pub fn run(lesson: &Lesson, opts: &Options) -> Result<bool, Failure> {
    let text = texts::lesson(i18n::current(), lesson.number)
        .ok_or_else(|| Failure::new(tf("error.no_text", &[("n", &lesson.number)])))?;
    let journal = Journal::system();
    let k: &dyn Kernel = &Linux;
    let count = lesson.steps.len();
    if let Some(n) = opts.only_step {
        if n == 0 || n > count {
            return Err(Failure::usage(tf("error.bad_step", &[("k", &n), ("n", &lesson.number), ("count", &count)])));
        }
    }
    render::lesson_title(lesson.number, &text.title);
    if opts.only_step.is_none() {
        println!();
        render::prose(&text.intro);
    }
    let mut failed = 0;
    let mut total = 0;
    let mut view = TraceView::new(opts.trace_full);
    let mut fold_hint = true;
    for (i, step) in lesson.steps.iter().enumerate() {
        if opts.only_step.is_some_and(|n| n != i + 1) {
            continue;
        }
        let section =
            text.section(step.id).ok_or_else(|| Failure::new(tf("error.no_text", &[("n", &lesson.number)])))?;
        loop {
            if signals::interrupted() {
                return Err(Failure::interrupted());
            }
            render::step_title(i + 1, count, step.id, &section.title);
            render::prose(&section.body);
            let shell: Vec<String> = step.shell.iter().map(|l| placeholders(&text.remarks(l), opts)).collect();
            render::shell_equivalent(&shell);
            let guess = if opts.interactive { predict::ask(&text, step.id) } else { None };
            trace::take();
            let mut ctx = Ctx::new(k, lesson.number, step.id, &text, &journal, opts.rootfs.as_deref());
            ctx.subnet = opts.subnet.as_deref();
            ctx.registry = opts.registry.as_deref();
            let outcome = (step.run)(&mut ctx);
            let events = trace::take();
            render::trace(&view.lines(i + 1, &events, step.key), &mut fold_hint);
            render::facts(&ctx.facts);
            render::observations(&ctx.observations, ctx.columns.as_ref());
            render::checks(&ctx.checks);
            if let Some(guess) = guess {
                predict::answer(&text, step.id, guess);
            }
            outcome?;
            hold_for_tests(step.id)?;
            let step_failed = ctx.checks.iter().filter(|c| !c.passed).count();
            if !opts.interactive {
                failed += step_failed;
                total += ctx.checks.len();
                break;
            }
            match pause(&ctx)? {
                Choice::Continue => {
                    failed += step_failed;
                    total += ctx.checks.len();
                    break;
                }
                Choice::Repeat => continue,
                Choice::Quit => return Ok(false),
            }
        }
    }
    println!();
    if failed > 0 {
        return Err(Failure::new(tf("lesson.failed", &[("failed", &failed), ("total", &total)])));
    }
    println!("{}", tf("lesson.passed", &[("n", &lesson.number), ("total", &total)]).green().bold());
    if opts.only_step.is_none() {
        if let Err(e) = progress::mark_done(lesson.name) {
            eprintln!("{}", tf("error.progress", &[("detail", &e)]));
        }
    }
    Ok(true)
}

/// The shell equivalents name the real paths and addresses: ROOTFS is the root
/// filesystem, SUBNET.N the N-th address of the network lessons' subnet.
fn placeholders(line: &str, opts: &Options) -> String {
    let mut line = line.replace("ROOTFS", opts.rootfs.as_deref().unwrap_or("ROOTFS"));
    if line.contains("SUBNET.") {
        if let Ok(subnet) = crate::primitives::subnet::choose(opts.subnet.as_deref()) {
            for n in (1..=9).rev() {
                line = line.replace(&format!("SUBNET.{n}"), &subnet.host(n).to_string());
            }
        }
    }
    line
}

/// The pause after a step: continue, look around inside, repeat, or quit.
fn pause(ctx: &Ctx) -> Result<Choice, Failure> {
    loop {
        // `None` stands for "open a shell inside", which comes back to this pause.
        let mut items = vec![t("prompt.continue")];
        let mut choices = vec![Some(Choice::Continue)];
        if ctx.inspect.is_some() {
            items.push(t("prompt.shell"));
            choices.push(None);
        }
        items.push(t("prompt.repeat"));
        choices.push(Some(Choice::Repeat));
        items.push(t("prompt.quit"));
        choices.push(Some(Choice::Quit));
        println!();
        let picked = dialoguer::Select::new().with_prompt(t("prompt.next")).items(&items).default(0).interact_opt();
        let picked = match picked {
            Ok(Some(i)) => i,
            Ok(None) => return Ok(Choice::Quit),
            Err(_) if signals::interrupted() => return Err(Failure::interrupted()),
            Err(e) => return Err(Failure::new(tf("error.io", &[("detail", &e)]))),
        };
        match choices.swap_remove(picked) {
            Some(choice) => return Ok(choice),
            None => {
                if let Some(inspect) = &ctx.inspect {
                    open_shell(ctx, inspect)?;
                }
            }
        }
    }
}

fn open_shell(ctx: &Ctx, inspect: &super::step::Inspect) -> Result<(), Failure> {
    println!();
    println!("{}", t("shell.inside").bold());
    for cmd in &inspect.inside {
        println!("    {}", ctx.remarks(cmd).green());
    }
    if !inspect.outside.is_empty() {
        println!("{}", t("shell.outside").bold());
        for cmd in &inspect.outside {
            println!("    {}", cmd.green());
        }
    }
    println!("{}", t("shell.leave").dimmed());
    let prompt = format!("learnctr[{}·{}]# ", ctx.lesson, ctx.step);
    let outcome = inspect.process.shell(&inspect.program, &prompt);
    crate::primitives::signals::reclaim_terminal();
    outcome?;
    Ok(())
}

/// For the tests: `LEARNCTR_TEST_HOLD=<step id>` stops after that step's checks, with
/// everything the step made still alive, until a signal arrives. A test then looks at
/// the host from outside, or interrupts learnctr mid-lesson.
fn hold_for_tests(step: &str) -> Result<(), Failure> {
    if std::env::var("LEARNCTR_TEST_HOLD").ok().as_deref() != Some(step) {
        return Ok(());
    }
    eprintln!("learnctr: holding at step {step}");
    while !signals::interrupted() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Err(Failure::interrupted())
}
