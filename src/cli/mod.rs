//! The command line: argument parsing and dispatch only. A command is the course's
//! (this file, and `image.rs`, `rootfs.rs`, `tasks.rs` for their subcommands) or the
//! OCI runtime's (runc's surface, `oci.rs`).

mod image;
mod maintenance;
mod menu;
mod oci;
mod rootfs;
mod tasks;
mod usage;

use crate::course::runner::{self, Options};
use crate::course::{progress, Failure};
use crate::i18n::{self, t, tf, Lang};
use crate::lessons;
use crate::primitives::{process, signals};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use colored::Colorize;
use maintenance::{recover_quietly, run_cleanup, run_doctor};
use menu::{course_map, menu};
use std::io::IsTerminal;

#[derive(Parser)]
#[command(
    name = "learnctr",
    disable_version_flag = true,
    about = "Learn how containers work by building one, step by step, on your own Linux kernel."
)]
pub struct Cli {
    /// Language of the course: en, it or pt (default: from LC_ALL, LC_MESSAGES or LANG).
    #[arg(long, global = true, value_name = "LANG")]
    lang: Option<String>,
    /// Run without pauses or questions (also automatic when stdin is not a terminal).
    #[arg(long, short = 'y', global = true)]
    yes: bool,
    /// No colours (also with the NO_COLOR environment variable).
    #[arg(long, global = true)]
    no_color: bool,
    /// The root filesystem for lessons 2 to 11: alpine, busybox, a name from
    /// `learnctr rootfs list`, or a directory.
    #[arg(long, global = true, value_name = "ROOTFS")]
    rootfs: Option<String>,
    #[command(flatten)]
    runtime: oci::GlobalFlags,
    /// The version, in runc's shape.
    #[arg(long, short = 'v')]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

/// How much of the syscall trace a lesson shows.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TraceMode {
    New,
    Full,
}

/// Every command: the course's, or the runtime's. Both are flattened into one list
/// (`learnctr lesson 3`, `learnctr create ID`), since engines call the runtime's
/// commands as they call runc's.
#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Course(CourseCommand),
    #[command(flatten)]
    Runtime(oci::RuntimeCommand),
}

#[derive(Subcommand)]
enum CourseCommand {
    /// The course map, with your progress.
    Lessons,
    /// Run one lesson (as root).
    Lesson {
        /// The lesson number, 1 to 11.
        number: String,
        /// Run only this step of the lesson (1, 2, ...).
        #[arg(long, value_name = "K")]
        step: Option<String>,
        /// The network lessons' subnet (default: the first of 10.231.42.0/24,
        /// 10.232.42.0/24, 172.31.231.0/24 that no host route uses).
        #[arg(long, value_name = "CIDR")]
        subnet: Option<String>,
        /// Lesson 9's pull step: a registry of yours (HOST:PORT) to push the lesson's
        /// image to and pull it back from, instead of a registry of the lesson's own.
        #[arg(long, value_name = "HOST:PORT")]
        registry: Option<String>,
        /// The syscall trace: `new` folds the calls an earlier step showed into one
        /// line each run (the default), `full` shows every call.
        #[arg(long, value_enum, default_value = "new")]
        trace: TraceMode,
    },
    /// Run the first lesson you have not finished.
    Next,
    /// Forget your progress in one lesson, or in all with --all.
    Reset {
        number: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Your turn: every task and its state.
    Tasks,
    /// Your progress: lessons watched and tasks done yourself; --json for an
    /// instructor to collect.
    Progress {
        #[arg(long)]
        json: bool,
    },
    /// A task's text (then a shell for it on a terminal); --reset removes what you
    /// made for it.
    Task {
        /// The task: 1.1, 3.1, 5.1, ...
        id: String,
        #[arg(long)]
        reset: bool,
    },
    /// Look at the kernel: is the task done? (ANSWER: what a capture-the-flag task
    /// asks you to find.)
    Check { id: String, answer: Option<String> },
    /// The next hint of a task (up to three).
    Hint { id: String },
    /// A task's solution: after its check passed, or failed twice.
    Solution { id: String },
    /// Check that this machine can run the course, and say how to fix what is missing.
    Doctor,
    /// Remove everything learnctr left on this machine (after a crash or kill).
    Cleanup,
    /// Print a shell completion script: bash, zsh or fish.
    Completions { shell: clap_complete::Shell },
    /// The finale: a whole container — every namespace, pivot_root, /proc /dev /sys,
    /// cgroup limits, capabilities, no_new_privs, seccomp, a network — with a shell
    /// inside, or COMMAND after `--`. Uses --rootfs (Alpine when online, else BusyBox).
    Shell {
        /// Memory limit: 64M, 1G, or bytes (default 256M).
        #[arg(long, value_name = "SIZE")]
        memory: Option<String>,
        /// CPU limit in CPUs: 0.5 is half of one (default: no limit).
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        cpus: Option<f64>,
        /// Most processes at once (default 512).
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        pids: Option<i64>,
        /// A network: eth0 on the bridge learnctr0, as in lesson 7.
        #[arg(long)]
        net: bool,
        /// The subnet for --net (default: the first free of lesson 7's).
        #[arg(long, value_name = "CIDR")]
        subnet: Option<String>,
        /// The container's hostname.
        #[arg(long, default_value = "learnctr")]
        hostname: String,
        /// A read-only root filesystem.
        #[arg(long)]
        readonly: bool,
        /// Print every system call learnctr made to build the container.
        #[arg(long)]
        trace: bool,
        /// Run this image (see `learnctr image list`): its layers as overlay lower
        /// directories, its Entrypoint, Cmd, Env and WorkingDir.
        #[arg(long, value_name = "REF")]
        image: Option<String>,
        /// The command to run instead of a shell.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// OCI images (lesson 9): pull, list, inspect, unpack, build, commit, push, import,
    /// export, remove.
    Image {
        #[command(subcommand)]
        command: image::ImageCommand,
    },
    /// Root filesystems for the lessons: fetch, list, import, export, remove.
    Rootfs {
        #[command(subcommand)]
        command: rootfs::RootfsCommand,
    },
}

pub fn main() -> i32 {
    let Cli { lang, yes, no_color, rootfs, runtime, version, command } = match parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    let runtime_command = matches!(command, Some(Command::Runtime(_)));
    match usage::language(lang.as_deref(), runtime_command) {
        Ok(lang) => i18n::set(lang),
        Err(bad) => {
            i18n::set(usage::language(None, runtime_command).unwrap_or(Lang::En));
            return report(Failure::usage(tf("error.bad_lang", &[("lang", &bad)])));
        }
    }
    if no_color || std::env::var_os("NO_COLOR").is_some() {
        colored::control::set_override(false);
    }
    if version {
        oci::print_version();
        return 0;
    }
    let runtime = oci::Globals::from(&runtime);
    signals::install();
    let course = match command {
        Some(Command::Runtime(command)) => return oci::main(command, &runtime),
        Some(Command::Course(command)) => Some(command),
        None => None,
    };
    // The course's commands that enter containers: the menu, the shell, and the lessons
    // (lessons 8 and 10 run the runtime in-process, and lesson 8 checks the protection
    // on its own container).
    let enters_containers =
        matches!(course, None | Some(CourseCommand::Shell { .. } | CourseCommand::Lesson { .. } | CourseCommand::Next));
    if enters_containers {
        if let Some(code) = seal(&runtime) {
            return code;
        }
    }
    let interactive = !yes && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    match dispatch(course, interactive, rootfs.as_deref(), &runtime.root) {
        Ok(()) => 0,
        Err(f) => report(f),
    }
}

/// Commands that put learnctr's own processes into a container first re-execute
/// learnctr from a read-only copy of itself (CVE-2019-5736, see runtime/sealed.rs).
/// `Some(exit code)` when that fails.
fn seal(runtime: &oci::Globals) -> Option<i32> {
    if !process::is_root() {
        return None;
    }
    let e = crate::runtime::sealed::ensure(&crate::primitives::Linux).err()?;
    let why = format!("cannot run from a read-only copy of learnctr ({e}), so no container is entered");
    Some(oci::error(runtime, &why))
}

/// The parser, with one change to liboci-cli's: `kill`'s signal defaults to SIGTERM,
/// as in runc.
fn command() -> clap::Command {
    Cli::command().mut_subcommand("kill", |c| c.mut_arg("signal", |a| a.required(false).default_value("SIGTERM")))
}

fn parse() -> Result<Cli, clap::Error> {
    Cli::from_arg_matches(&command().try_get_matches()?)
}

/// Help and version go to stdout with exit 0; a usage mistake, a missing subcommand
/// included, is one sentence (see `usage.rs`) and exit 2.
fn clap_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return 0;
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut cmd = command();
    cmd.build();
    let words = usage::Words::read(&cmd, &args);
    usage::set_language(&words);
    report(Failure::usage(usage::sentence(&e, &cmd, &words)))
}

fn report(f: Failure) -> i32 {
    if !f.message.is_empty() {
        eprintln!("{} {}", "learnctr:".red().bold(), f.message);
    }
    f.exit_code
}

fn dispatch(
    command: Option<CourseCommand>,
    interactive: bool,
    rootfs: Option<&str>,
    runtime_root: &std::path::Path,
) -> Result<(), Failure> {
    match command {
        None => menu(interactive, rootfs),
        Some(CourseCommand::Lessons) => {
            course_map();
            Ok(())
        }
        Some(CourseCommand::Lesson { number, step, subnet, registry, trace }) => {
            let number = lesson_number(&number)?;
            let step = step
                .map(|s| s.parse::<usize>().map_err(|_| Failure::usage(tf("error.bad_step_text", &[("k", &s)]))))
                .transpose()?;
            check_subnet(subnet.as_deref())?;
            if let Some(r) = &registry {
                crate::image::parse_reference(&format!("{r}/learnctr-lesson9:1"))?;
            }
            run_lesson(number, step, interactive, rootfs, (subnet, registry), trace == TraceMode::Full)
        }
        Some(CourseCommand::Next) => {
            let p = progress::load();
            match (1..=lessons::PLANNED).find(|n| lessons::name(*n).is_some_and(|name| !p.is_done(name))) {
                Some(n) => run_lesson(n, None, interactive, rootfs, (None, None), false),
                None => {
                    // Every lesson watched: what is left is the learner's own turn.
                    match tasks::first_open(&p) {
                        Some((id, title)) => {
                            crate::course::render::prose(&tf("course.next_task", &[("id", &id), ("title", &title)]))
                        }
                        None => println!("{}", t("course.all_done")),
                    }
                    Ok(())
                }
            }
        }
        Some(CourseCommand::Reset { number, all }) => {
            let which = match (number, all) {
                (_, true) => None,
                (Some(n), false) => Some(lesson_number(&n)?),
                (None, false) => return Err(Failure::usage(t("error.reset_what"))),
            };
            progress::reset(which.and_then(lessons::name))?;
            println!("{}", t("course.reset_done"));
            Ok(())
        }
        Some(CourseCommand::Tasks) => tasks::list(),
        Some(CourseCommand::Progress { json: true }) => tasks::progress_json(),
        Some(CourseCommand::Progress { json: false }) => {
            course_map();
            tasks::list()
        }
        Some(CourseCommand::Task { id, reset }) => tasks::show(&id, reset, rootfs, interactive),
        Some(CourseCommand::Check { id, answer }) => tasks::check(&id, answer, rootfs),
        Some(CourseCommand::Hint { id }) => tasks::hint(&id),
        Some(CourseCommand::Solution { id }) => tasks::solution(&id, rootfs),
        Some(CourseCommand::Doctor) => run_doctor(),
        Some(CourseCommand::Cleanup) => run_cleanup(),
        Some(CourseCommand::Rootfs { command }) => rootfs::run(command, interactive),
        Some(CourseCommand::Image { command }) => image::run(command),
        Some(CourseCommand::Shell { memory, cpus, pids, net, subnet, hostname, readonly, trace, image, command }) => {
            let memory = match memory {
                Some(text) => Some(
                    crate::shell::bundle::parse_size(&text)
                        .ok_or_else(|| Failure::usage(tf("error.bad_size", &[("text", &text)])))?,
                ),
                None => Some(crate::shell::bundle::DEFAULT_MEMORY),
            };
            if let Some(c) = cpus.filter(|c| !(*c > 0.0 && *c <= 1024.0)) {
                return Err(Failure::usage(tf("error.bad_cpus", &[("value", &c)])));
            }
            if let Some(p) = pids.filter(|p| *p < 1) {
                return Err(Failure::usage(tf("error.bad_pids", &[("value", &p)])));
            }
            check_subnet(subnet.as_deref())?;
            let options = crate::shell::Options {
                memory,
                cpus,
                pids: Some(pids.unwrap_or(crate::shell::bundle::DEFAULT_PIDS)),
                net,
                subnet,
                hostname,
                readonly,
                trace,
                command,
                root: runtime_root.to_path_buf(),
                image: None,
            };
            run_shell(options, rootfs, image.as_deref(), interactive)
        }
        Some(CourseCommand::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "learnctr", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// A lesson number from the command line, with one clear sentence when it is wrong.
fn lesson_number(text: &str) -> Result<u32, Failure> {
    let max = lessons::PLANNED;
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        Ok(n) => Err(Failure::usage(tf("error.no_such_lesson", &[("n", &n), ("max", &max)]))),
        Err(_) => Err(Failure::usage(tf("error.not_a_number", &[("text", &text), ("max", &max)]))),
    }
}

/// `--subnet`, checked before anything is made (whether a host route uses it is only
/// known later, on the host the lesson runs on).
fn check_subnet(subnet: Option<&str>) -> Result<(), Failure> {
    match subnet {
        Some(s) if crate::primitives::subnet::Subnet::parse(s).is_none() => {
            Err(Failure::usage(tf("net.subnet_invalid", &[("subnet", &s)])))
        }
        _ => Ok(()),
    }
}

pub(crate) fn require_root(what: &str) -> Result<(), Failure> {
    if process::is_root() {
        Ok(())
    } else {
        Err(Failure::new(tf("error.need_root", &[("what", &what)])))
    }
}

fn run_lesson(
    number: u32,
    step: Option<usize>,
    interactive: bool,
    rootfs: Option<&str>,
    (subnet, registry): (Option<String>, Option<String>),
    trace_full: bool,
) -> Result<(), Failure> {
    let lesson = lessons::get(number).ok_or_else(|| Failure::new(tf("error.not_written", &[("n", &number)])))?;
    let count = lesson.steps.len();
    if let Some(k) = step.filter(|k| !(1..=count).contains(k)) {
        return Err(Failure::usage(tf("error.bad_step", &[("k", &k), ("n", &number), ("count", &count)])));
    }
    require_root(&format!("learnctr lesson {number}"))?;
    recover_quietly();
    let rootfs = if lesson.needs_rootfs {
        Some(crate::course_rootfs::for_lesson(rootfs, interactive)?.display().to_string())
    } else {
        None
    };
    let finished =
        runner::run(&lesson, &Options { interactive, only_step: step, rootfs, subnet, registry, trace_full })?;
    if finished && step.is_none() {
        tasks::offer(lesson.name);
    }
    Ok(())
}

/// `learnctr shell`: exits with the container's exit code.
fn run_shell(
    mut options: crate::shell::Options,
    rootfs: Option<&str>,
    image: Option<&str>,
    interactive: bool,
) -> Result<(), Failure> {
    require_root("learnctr shell")?;
    recover_quietly();
    crate::runtime::timing::mark("learnctr main");
    let lowers = match (image, rootfs) {
        (Some(_), Some(_)) => return Err(Failure::usage(t("error.image_and_rootfs"))),
        (Some(reference), None) => {
            let (lowers, run) = crate::image::layers::for_shell(reference)?;
            options.image = Some(run);
            lowers
        }
        (None, _) => vec![crate::course_rootfs::for_shell(rootfs, interactive)?],
    };
    crate::runtime::timing::mark("shell: root filesystem found");
    match crate::shell::run(&crate::primitives::Linux, &lowers, &options) {
        Ok(0) => Ok(()),
        Ok(code) => Err(Failure::exit(code)),
        Err(e) => Err(Failure::new(e.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own checks of the whole command line (names, flags, defaults), which it
    /// makes only in debug builds and only for the parts a run reaches.
    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        command().debug_assert();
    }
}
