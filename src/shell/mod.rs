//! `learnctr shell`: the finale's one command — a whole container from everything the
//! course built, on a downloaded Alpine or an offline BusyBox root filesystem.
//!
//! There is one code path: the shell writes a bundle (`bundle.rs`) and runs it with
//! the OCI runtime of lesson 8 (`runtime::create`, `start`, `delete`), as a container
//! engine hands a bundle to runc. Between `create` and `start` it does what an engine
//! does around the runtime — plugs the network in (`network.rs`) — and what only a
//! course does: it measures every primitive from the host and says so
//! (`observe.rs`), then lets the program run. The summary goes to stderr, so that the
//! program's own output (`learnctr shell -- CMD`) stays clean on stdout.

pub mod bundle;
pub mod network;
pub mod observe;

pub use bundle::Options;

use crate::host::journal::{Entry, Journal, Object};
use crate::i18n::{t, tf};
use crate::primitives::{process, signals, trace, Kernel};
use crate::runtime::{self, state, timing, CreateOptions, Rt, RtError};
use colored::Colorize;
use std::path::{Path, PathBuf};

/// Removes the container (and its cgroups and state) when dropped, however the shell
/// ends: the program's exit, an error, Ctrl-C.
pub struct Deleting<'a> {
    pub root: &'a Path,
    pub id: String,
    _entries: Vec<Entry>,
}

impl Drop for Deleting<'_> {
    fn drop(&mut self) {
        if state::Container::dir(self.root, &self.id).exists() {
            let _ = runtime::delete(&crate::primitives::Linux, self.root, &self.id, true);
        }
    }
}

/// Create the container of `bundle_dir` as `id` and journal it: its init (killed by
/// `learnctr cleanup` if learnctr itself is killed), its cgroups and its state.
pub fn create<'a>(k: &dyn Kernel, root: &'a Path, id: &str, bundle_dir: &Path) -> Rt<(state::Container, Deleting<'a>)> {
    let opts = CreateOptions {
        root,
        id,
        bundle: bundle_dir,
        pid_file: None,
        console_socket: None,
        foreground: true,
        systemd_cgroup: false,
        new_keyring: true,
        preserve_fds: 0,
    };
    let c = runtime::create(k, &opts)?;
    let journal = Journal::system();
    let mut entries = vec![journal.record(Object::Process { pid: c.pid, start: c.pid_start })?];
    for dir in &c.cgroup_dirs {
        entries.push(journal.record(Object::Cgroup { path: dir.clone() })?);
    }
    entries.push(journal.record(Object::Dir { path: state::Container::dir(root, id) })?);
    Ok((c, Deleting { root, id: id.to_string(), _entries: entries }))
}

/// `learnctr shell`: the container's exit code.
pub fn run(k: &dyn Kernel, lowers: &[PathBuf], o: &Options) -> Rt<i32> {
    if !o.trace {
        trace::disable();
    }
    let id = format!("shell-{}", std::process::id());
    let root = o.root.as_path();
    let mut config = bundle::config(o, &id)?;
    // learnctr's own namespaces are read before it leaves the host's mount namespace.
    observe::host_namespaces();
    bundle::private_mounts(k)?;
    let b = bundle::Bundle::make_stacked(k, lowers, &id, &mut config)?;
    timing::mark("shell: bundle and overlay made");
    let (c, _deleting) = create(k, root, &id, &b.dir)?;
    let net = if o.net { Some(network::connect(k, c.pid, o.subnet.as_deref())?) } else { None };
    let seen = observe::observe(k, &c)?;
    timing::mark("shell: container observed");
    let lower = lowers.iter().map(|l| l.display().to_string()).collect::<Vec<_>>().join(":");
    summary(&c, &seen, &lower, b.writable, net.as_ref(), root);
    if o.trace {
        print_trace();
    }
    // The learner's Ctrl-C belongs to the shell inside while it runs.
    let interactive = o.command.is_empty();
    let _quiet = interactive.then(signals::IgnoreWhileShellRuns::new);
    runtime::start(root, &id)?;
    let mode = observe::status_field(c.pid, "Seccomp").unwrap_or_else(|| "?".into());
    eprintln!("  {:<14} {}", t("finale.seccomp").bold(), tf("finale.seccomp_running", &[("mode", &mode)]));
    eprintln!();
    wait(c.pid)
}

/// Wait for the container's init. A non-interactive command gets Ctrl-C from learnctr:
/// PID 1 of a pid namespace ignores signals it has no handler for (even SIGINT from
/// the terminal), so learnctr kills it — SIGKILL from the parent namespace always
/// arrives — and exits with 130 like the shell would.
fn wait(pid: i32) -> Rt<i32> {
    match process::wait_unless_interrupted(pid) {
        Some(code) => code.map_err(|e| RtError(format!("waitpid: {e}"))),
        None => {
            process::kill_and_reap(pid);
            Ok(130)
        }
    }
}

fn print_trace() {
    eprintln!("{}", t("label.trace").dimmed());
    for e in trace::take() {
        eprintln!("    {}", e.to_string().dimmed());
    }
    eprintln!();
}

/// Every primitive, as measured, and how to look from outside.
fn summary(
    c: &state::Container,
    seen: &observe::Observed,
    lower: &str,
    writable: bool,
    net: Option<&network::Network>,
    state_root: &Path,
) {
    let line = |label: &str, value: String| eprintln!("  {:<14} {value}", t(label).bold());
    eprintln!("{}", tf("finale.title", &[("id", &c.id), ("pid", &c.pid)]).bold());
    let new: Vec<String> = seen.namespaces.iter().filter(|n| n.is_new()).map(|n| n.container.clone()).collect();
    let shared: Vec<&str> = seen.namespaces.iter().filter(|n| !n.is_new()).map(|n| n.kind.proc_name()).collect();
    line("finale.namespaces", new.join(" "));
    if !shared.is_empty() {
        line("finale.shared", shared.join(" "));
    }
    let root = if writable && !seen.root_readonly {
        tf("finale.root_overlay", &[("fs", &seen.root_fs), ("lower", &lower)])
    } else {
        tf("finale.root_readonly", &[("fs", &seen.root_fs), ("lower", &lower)])
    };
    line("finale.root", root);
    line("finale.hostname", seen.hostname.clone());
    for dir in &seen.cgroup_dirs {
        line("finale.cgroup", dir.display().to_string());
    }
    let limits: Vec<String> = seen.limits.iter().map(|(f, v)| format!("{f} = {v}")).collect();
    line("finale.limits", limits.join(", "));
    line(
        "finale.capabilities",
        tf("finale.capabilities_kept", &[("n", &seen.bounding.names().len()), ("names", &seen.bounding.summary())]),
    );
    line("finale.nnp", seen.no_new_privs.to_string());
    match net {
        Some(n) => line(
            "finale.network",
            tf(
                "finale.network_eth0",
                &[
                    ("address", &format!("{}/{}", n.address, n.subnet.prefix)),
                    ("gateway", &n.gateway),
                    ("host", &n.host_end),
                ],
            ),
        ),
        None => line("finale.network", t("finale.network_lo")),
    }
    eprintln!("  {}", t("finale.outside").dimmed());
    let mut commands = vec![
        match state_root == Path::new(state::DEFAULT_ROOT) {
            true => format!("sudo learnctr exec {} sh", c.id),
            false => format!("sudo learnctr --root {} exec {} sh", state_root.display(), c.id),
        },
        format!("sudo nsenter -t {} -a sh", c.pid),
        format!("lsns -p {}", c.pid),
    ];
    if let Some((file, _)) = seen.limits.first() {
        if let Some(dir) = seen.cgroup_dirs.iter().find(|d| d.join(file).exists()) {
            commands.push(format!("cat {}", dir.join(file).display()));
        }
    }
    for command in commands {
        eprintln!("    {}", command.green());
    }
}
