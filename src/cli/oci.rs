//! The OCI runtime's command line, runc's surface, parsed by youki's `liboci-cli`
//! (the same flags and subcommands that containerd's shim, go-runc, conmon and
//! Podman call): global flags before the subcommand, then `create`, `start`, `state`,
//! `kill`, `delete`, `exec`, `ps`, `pause`, `resume`, `update`, `features`, `list`,
//! `run`, `spec`. Errors are one line on stderr and, with `--log`, a line in runc's
//! text or JSON format (containerd reports the last `level=error` line).

use crate::i18n::{t, tf};
use crate::primitives::{process, Kernel, Linux};
use crate::runtime::{self, RtError};
use colored::Colorize;
use std::path::PathBuf;

/// The runtime's commands, with runc's names and flags (each one's flags are
/// liboci-cli's). They sit beside the course's commands in `learnctr --help`.
#[derive(clap::Subcommand)]
pub enum RuntimeCommand {
    /// Create a container from a bundle; it waits for `start` (OCI runtime)
    Create(liboci_cli::Create),
    Start(liboci_cli::Start),
    State(liboci_cli::State),
    Kill(liboci_cli::Kill),
    Delete(liboci_cli::Delete),
    // Refused with a sentence when called; not offered (the name is liboci-cli's).
    #[command(hide = true)]
    Checkpointt(liboci_cli::Checkpoint),
    #[command(hide = true)]
    Events(liboci_cli::Events),
    /// Run a process in a running container (setns, as nsenter does)
    Exec(liboci_cli::Exec),
    /// What this runtime implements, as the runtime spec's JSON
    Features(liboci_cli::Features),
    /// The containers and their status
    List(liboci_cli::List),
    Pause(liboci_cli::Pause),
    Ps(liboci_cli::Ps),
    Resume(liboci_cli::Resume),
    Run(liboci_cli::Run),
    Update(liboci_cli::Update),
    /// Write a config.json like `runc spec`
    Spec(liboci_cli::Spec),
}

impl RuntimeCommand {
    /// Whether the command puts a process into a container (it then runs from a
    /// sealed copy of learnctr, see runtime/sealed.rs).
    pub fn enters_containers(&self) -> bool {
        matches!(self, RuntimeCommand::Create(_) | RuntimeCommand::Run(_) | RuntimeCommand::Exec(_))
    }

    /// Only `spec`, `list`, `state` and `features` work without root.
    pub fn needs_root(&self) -> bool {
        !matches!(
            self,
            RuntimeCommand::State(_) | RuntimeCommand::Spec(_) | RuntimeCommand::List(_) | RuntimeCommand::Features(_)
        )
    }
}

/// The runtime's global flags, as runc has them: before the subcommand.
#[derive(clap::Args)]
pub struct GlobalFlags {
    /// Where the runtime writes its errors (as runc's --log)
    #[arg(short, long, overrides_with("log"))]
    log: Option<PathBuf>,
    /// Log every runtime command with its arguments (in --log)
    #[arg(long)]
    debug: bool,
    /// text or json (as runc's --log-format)
    #[arg(long, value_enum, hide_possible_values = true)]
    log_format: Option<LogFormat>,
    /// The runtime's state directory (default /run/learnctr)
    #[arg(short, long)]
    root: Option<PathBuf>,
    /// Enable systemd cgroup manager, rather then use the cgroupfs directly.
    #[arg(short, long)]
    systemd_cgroup: bool,
}

/// How `--log` writes its lines, as runc does: logrus' text (`time=.. level=.. msg=..`)
/// or one JSON object a line (see runtime/log.rs).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// The runtime's global options, read.
pub struct Globals {
    pub root: PathBuf,
    pub log: Option<PathBuf>,
    pub json: bool,
    pub debug: bool,
    pub systemd_cgroup: bool,
}

impl Globals {
    pub fn from(g: &GlobalFlags) -> Globals {
        Globals {
            root: g.root.clone().unwrap_or_else(|| PathBuf::from(runtime::state::DEFAULT_ROOT)),
            log: g.log.clone(),
            json: g.log_format == Some(LogFormat::Json),
            debug: g.debug,
            systemd_cgroup: g.systemd_cgroup,
        }
    }
}

/// A runtime command, from its start to its exit code.
pub fn main(command: RuntimeCommand, g: &Globals) -> i32 {
    // Nobody reads the syscall trace of a runtime command (the lessons show it).
    crate::primitives::trace::disable();
    runtime::timing::mark("learnctr main");
    if let Some(code) = check_root(g, command.needs_root()) {
        return code;
    }
    if command.enters_containers() {
        if let Some(code) = super::seal(g) {
            return code;
        }
    }
    // Logged here, after the sealed re-execution: once per command.
    log_invocation(g);
    finish(run(command, g), g)
}

/// runc's `--version`: the name and version, then the runtime spec it implements.
pub fn print_version() {
    println!("learnctr version {}", env!("CARGO_PKG_VERSION"));
    println!("spec: {}", runtime::features::SPEC_VERSION);
}

/// The command itself, done by the runtime (`src/runtime/`): its exit code, or the
/// sentence that says why it failed.
fn run(command: RuntimeCommand, g: &Globals) -> Result<i32, RtError> {
    let k: &dyn Kernel = &Linux;
    let root = g.root.as_path();
    match command {
        RuntimeCommand::Create(c) => create_flags(c.no_pivot, c.preserve_fds).and_then(|keep_fds| {
            let opts = runtime::CreateOptions {
                root,
                id: &c.container_id,
                bundle: &c.bundle,
                pid_file: c.pid_file.as_deref(),
                console_socket: c.console_socket.as_deref(),
                foreground: false,
                systemd_cgroup: g.systemd_cgroup,
                new_keyring: !c.no_new_keyring,
                preserve_fds: keep_fds,
            };
            runtime::create(k, &opts).map(|_| 0)
        }),
        RuntimeCommand::Start(s) => runtime::start(root, &s.container_id).map(|_| 0),
        RuntimeCommand::State(s) => runtime::state_json(root, &s.container_id).map(|json| {
            println!("{json}");
            0
        }),
        RuntimeCommand::Kill(c) => runtime::kill(k, root, &c.container_id, &c.signal, c.all).map(|_| 0),
        RuntimeCommand::Delete(d) => runtime::delete(k, root, &d.container_id, d.force).map(|_| 0),
        RuntimeCommand::Spec(s) => {
            let bundle = s.bundle.unwrap_or_else(|| PathBuf::from("."));
            runtime::spec::write(&bundle, s.rootless).map(|_| 0).map_err(Into::into)
        }
        RuntimeCommand::List(l) => list(root, &l.format, l.quiet),
        RuntimeCommand::Run(r) => create_flags(r.no_pivot, r.preserve_fds).and_then(|keep_fds| {
            if r.keep || r.no_subreaper || r.console_socket.is_some() || r.pid_file.is_some() {
                return Err(RtError(t("runtime.run_flags")));
            }
            let opts = runtime::CreateOptions {
                root,
                id: &r.container_id,
                bundle: &r.bundle,
                pid_file: None,
                console_socket: None,
                foreground: !r.detach,
                systemd_cgroup: g.systemd_cgroup,
                new_keyring: !r.no_new_keyring,
                preserve_fds: keep_fds,
            };
            runtime::run(k, &opts, r.detach)
        }),
        RuntimeCommand::Exec(e) => exec(k, root, e),
        RuntimeCommand::Ps(p) => runtime::lifecycle::ps(root, &p.container_id, &p.format, &p.ps_options),
        RuntimeCommand::Pause(p) => runtime::lifecycle::pause(k, root, &p.container_id).map(|_| 0),
        RuntimeCommand::Resume(r) => runtime::lifecycle::resume(k, root, &r.container_id).map(|_| 0),
        RuntimeCommand::Update(u) => runtime::update::update(k, root, &u).map(|_| 0),
        RuntimeCommand::Features(_) => {
            println!("{}", runtime::features::json());
            Ok(0)
        }
        RuntimeCommand::Events(_) => Err(RtError(t("runtime.no_events"))),
        RuntimeCommand::Checkpointt(_) => Err(RtError(t("runtime.no_checkpoint"))),
    }
}

/// `--no-pivot` is refused (a root switched by chroot keeps a path back to the
/// host); `--preserve-fds N` is the number of fds after stdio the process keeps.
fn create_flags(no_pivot: bool, preserve_fds: i32) -> Result<i32, RtError> {
    if no_pivot {
        return Err(RtError(t("runtime.no_pivot")));
    }
    if preserve_fds < 0 {
        return Err(RtError(tf("runtime.negative_fds", &[("n", &preserve_fds)])));
    }
    Ok(preserve_fds)
}

fn exec(k: &dyn Kernel, root: &std::path::Path, e: liboci_cli::Exec) -> Result<i32, RtError> {
    if e.process_label.is_some() {
        return Err(RtError(t("runtime.selinux")));
    }
    if e.cgroup.is_some() {
        return Err(RtError(t("runtime.exec_cgroup")));
    }
    let opts = runtime::exec::ExecOptions {
        process_file: e.process,
        command: e.command,
        tty: e.tty,
        cwd: e.cwd,
        env: e.env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
        user: e.user,
        additional_gids: e.additional_gids,
        caps: e.cap,
        no_new_privs: e.no_new_privs,
        apparmor: e.apparmor,
        detach: e.detach,
        pid_file: e.pid_file,
        console_socket: e.console_socket,
        preserve_fds: create_flags(false, e.preserve_fds)?,
        ignore_paused: e.ignore_paused,
    };
    runtime::exec(k, root, &e.container_id, &opts)
}

fn list(root: &std::path::Path, format: &str, quiet: bool) -> Result<i32, RtError> {
    let all = runtime::list(root);
    match format {
        "json" => {
            let states: Vec<_> = all.iter().map(|(c, status)| c.oci(status)).collect();
            println!("{}", serde_json::to_string(&states).map_err(|e| RtError(e.to_string()))?);
        }
        "table" => {
            for (c, status) in &all {
                if quiet {
                    println!("{}", c.id);
                } else {
                    println!("{:<20} {:<8} {:<10} {}", c.id, c.pid, status, c.bundle.display());
                }
            }
        }
        other => return Err(RtError(tf("runtime.bad_format", &[("value", &other)]))),
    }
    Ok(0)
}

fn finish(result: Result<i32, RtError>, g: &Globals) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) => error(g, &e.0),
    }
}

/// With `--debug`, one line per invocation (the command and its arguments) in the
/// log: how lesson 11 shows every call an engine makes.
fn log_invocation(g: &Globals) {
    runtime::log::configure(g.log.clone(), g.json);
    if g.debug {
        let argv: Vec<String> = std::env::args().collect();
        runtime::log::line("debug", &format!("{} (pid {})", argv.join(" "), std::process::id()));
    }
}

/// One error: a line on stderr, and one in the log when there is a log.
pub fn error(g: &Globals, message: &str) -> i32 {
    eprintln!("{} {message}", "learnctr:".red().bold());
    if g.log.is_some() {
        runtime::log::configure(g.log.clone(), g.json);
        runtime::log::line("error", message);
    }
    1
}

/// Refuse a runtime command that needs root, in one sentence.
fn check_root(g: &Globals, needed: bool) -> Option<i32> {
    (needed && !process::is_root()).then(|| error(g, &t("runtime.need_root")))
}
