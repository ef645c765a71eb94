//! The life of a created container, as runc names the commands: `start`, `state`,
//! `kill`, `delete`, `run` (create + start + wait + delete), `list`, `ps`, `pause`,
//! `resume`. Errors carry the words engines match on: "does not exist", "container
//! not running", "no such process".

use super::state::{self, Container, EXEC_FIFO};
use super::{create, hooks, load, timing, CreateOptions, Rt, RtError};
use crate::i18n::tf;
use crate::primitives::cgroups::freezer;
use crate::primitives::{process, Kernel, Linux};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// `learnctr start`: release the init waiting on the FIFO, then the poststart hooks.
pub fn start(root: &Path, id: &str) -> Rt<()> {
    let c = load(root, id)?;
    match c.status(root) {
        "created" => {}
        other => {
            return Err(RtError(format!(
                "container {id} is {other}, not created: only a created container can be started"
            )))
        }
    }
    if !c.prestart.is_empty() {
        let state = serde_json::to_string(&c.oci("created")).unwrap_or_default();
        if let Err(why) = hooks::run_all(&c.prestart, &state) {
            // A failed prestart hook stops and destroys the container, then the
            // lifecycle goes on as after a delete (runtime spec, "lifecycle").
            let _ = delete(&Linux, root, id, true);
            return Err(RtError(why));
        }
    }
    let fifo = Container::dir(root, id).join(EXEC_FIFO);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .map_err(|e| RtError(format!("cannot open {}: {e}", fifo.display())))?;
    // The init opens the other end and writes one byte: wait for it (or for its death).
    wait_for_byte(&file, &c).map_err(|why| RtError(format!("container {id} {why}")))?;
    timing::mark("started");
    let _ = std::fs::remove_file(&fifo);
    // `start` returns once the container's program runs (a signal sent right after
    // reaches the program, not our init), and poststart hooks run then.
    wait_for_exec(c.pid);
    let state = serde_json::to_string(&c.oci("running")).unwrap_or_default();
    hooks::run_all_warning(&c.poststart, &state);
    Ok(())
}

/// Wait (at most about 200 ms) until a started init has replaced itself with the
/// container's program, i.e. its /proc/PID/exe is no longer learnctr's file. Files
/// are compared by device and inode: a sealed learnctr (`sealed.rs`) runs the same
/// file through a detached mount, whose path reads as "/".
pub fn wait_for_exec(pid: i32) {
    use std::os::unix::fs::MetadataExt;
    let file = |p: &str| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let ours = file("/proc/self/exe");
    for _ in 0..2000 {
        let exe = file(&format!("/proc/{pid}/exe"));
        if exe.is_none() || exe != ours {
            return;
        }
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
}

/// Read the init's one byte from the FIFO. poll(2) wakes us the moment it is written;
/// every 20 ms we look whether the init died instead (it would never write).
fn wait_for_byte(file: &std::fs::File, c: &Container) -> Result<(), &'static str> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::io::Read;
    use std::os::fd::AsFd;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut byte = [0u8; 1];
    loop {
        if let Ok(1) = (&*file).read(&mut byte) {
            return Ok(());
        }
        if !state::alive(c.pid, c.pid_start) {
            return Err("died before it started");
        }
        if std::time::Instant::now() > deadline {
            return Err("did not start in time");
        }
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(20u8));
    }
}

/// `learnctr state`: the OCI state as JSON.
pub fn state_json(root: &Path, id: &str) -> Rt<String> {
    let c = load(root, id)?;
    let status = c.status(root);
    serde_json::to_string_pretty(&c.oci(status)).map_err(|e| RtError(e.to_string()))
}

/// A signal by name (`KILL`, `SIGKILL`) or number.
pub fn parse_signal(text: &str) -> Option<i32> {
    if let Ok(n) = text.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let name = text.to_ascii_uppercase();
    let name = if name.starts_with("SIG") { name } else { format!("SIG{name}") };
    name.parse::<nix::sys::signal::Signal>().ok().map(|s| s as i32)
}

/// `learnctr kill [--all] ID [SIGNAL]`: the container's process, or with `--all`
/// every process in its cgroup (as runc does), e.g. those a `--pid host` container
/// leaves behind its PID 1.
pub fn kill(k: &dyn Kernel, root: &Path, id: &str, signal: &str, all: bool) -> Rt<()> {
    // The signal first: a mistake in it is found without looking at any container.
    let sig = parse_signal(signal).ok_or_else(|| RtError(tf("runtime.bad_signal", &[("signal", &signal)])))?;
    let c = load(root, id)?;
    let status = c.status(root);
    if status == "stopped" {
        return Err(RtError(tf("runtime.kill_not_running", &[("id", &id)])));
    }
    if all {
        for pid in cgroup_members(&c) {
            // One may have exited since the cgroup was read: that is no failure.
            let _ = k.kill(pid, sig);
        }
    } else {
        k.kill(c.pid, sig).map_err(|e| match e.errno() {
            Some(nix::errno::Errno::ESRCH) => RtError(format!("cannot kill container {id}: no such process")),
            _ => e.into(),
        })?;
    }
    // A frozen v1 task takes SIGKILL only once thawed (runc thaws after it too).
    if status == "paused" && sig == libc::SIGKILL {
        freezer::set(k, &c.cgroup_dirs, false)?;
    }
    Ok(())
}

/// `learnctr pause ID`: freeze every process of the container (its cgroup).
pub fn pause(k: &dyn Kernel, root: &Path, id: &str) -> Rt<()> {
    let c = load(root, id)?;
    match c.status(root) {
        "running" | "created" => Ok(freezer::set(k, &c.cgroup_dirs, true)?),
        "paused" => Err(RtError(format!("container {id} is already paused"))),
        _ => Err(RtError(format!("cannot pause container {id}: container not running"))),
    }
}

/// `learnctr resume ID`: thaw them.
pub fn resume(k: &dyn Kernel, root: &Path, id: &str) -> Rt<()> {
    let c = load(root, id)?;
    match c.status(root) {
        "paused" => Ok(freezer::set(k, &c.cgroup_dirs, false)?),
        _ => Err(RtError(format!("container {id} is not paused"))),
    }
}

/// `learnctr ps [--format json] ID [PS_ARGS]`: the container's processes. As JSON,
/// their pids (what containerd reads); as a table, the host's `ps` (default `-ef`)
/// limited to them, as runc does.
pub fn ps(root: &Path, id: &str, format: &str, ps_args: &[String]) -> Rt<i32> {
    let c = load(root, id)?;
    let pids = cgroup_members(&c);
    match format {
        "json" if !ps_args.is_empty() => Err(RtError("ps options apply to the table format only".into())),
        "json" => {
            println!("{}", serde_json::to_string(&pids).map_err(|e| RtError(e.to_string()))?);
            Ok(0)
        }
        "table" => {
            let args: Vec<String> = if ps_args.is_empty() { vec!["-ef".into()] } else { ps_args.to_vec() };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| RtError(format!("cannot run ps: {e}")))?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let column = header
                .split_whitespace()
                .position(|w| w == "PID")
                .ok_or_else(|| RtError("ps printed no PID column: give options that show it".into()))?;
            println!("{header}");
            for line in lines {
                let pid = line.split_whitespace().nth(column).and_then(|w| w.parse::<i32>().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    println!("{line}");
                }
            }
            Ok(0)
        }
        other => Err(RtError(format!("--format {other} is not table or json"))),
    }
}

/// Every process in the container's cgroup directories.
fn cgroup_members(c: &Container) -> Vec<i32> {
    let mut pids: Vec<i32> = c
        .cgroup_dirs
        .iter()
        .flat_map(|d| {
            std::fs::read_to_string(d.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// `learnctr delete [--force] ID`. With `--force` also a container a learnctr killed
/// half-way left: its init, its cgroup and its state directory go, whatever state
/// they are in.
pub fn delete(k: &dyn Kernel, root: &Path, id: &str, force: bool) -> Rt<()> {
    super::check_id(id)?;
    let dir = Container::dir(root, id);
    let Some(c) = Container::load(root, id) else {
        // A directory without state.json: a create killed between its mkdir and its
        // first write. It holds nothing but what create puts there.
        if force && dir.is_dir() && only_runtime_files(&dir) {
            std::fs::remove_dir_all(&dir).map_err(|e| RtError(format!("cannot remove the state of {id}: {e}")))?;
            remove_root_if_empty(root);
            return Ok(());
        }
        return Err(super::no_container(id));
    };
    match c.status(root) {
        "stopped" => {}
        _ if force => {
            if c.pid > 0 {
                let _ = k.kill(c.pid, libc::SIGKILL);
            }
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while c.pid > 0 && state::alive(c.pid, c.pid_start) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        status => return Err(RtError(format!("container {id} is {status}: stop it first, or use delete --force"))),
    }
    // Killed while frozen, its processes die once thawed (v1 keeps them otherwise).
    if freezer::is_frozen(&c.cgroup_dirs) {
        let _ = freezer::set(k, &c.cgroup_dirs, false);
    }
    // Removing a cgroup kills what is left in it (a half-made container's init); a
    // cgroup the container joined (a pod's) is not ours to remove.
    if !c.cgroup_shared {
        for dir in &c.cgroup_dirs {
            let _ = crate::primitives::cgroups::remove_dir(k, dir);
        }
    }
    std::fs::remove_dir_all(&dir).map_err(|e| RtError(format!("cannot remove the state of {id}: {e}")))?;
    let state = serde_json::to_string(&c.oci("stopped")).unwrap_or_default();
    super::hooks::run_all_warning(&c.poststop, &state);
    remove_root_if_empty(root);
    Ok(())
}

/// Whether a directory holds only what `create` writes before state.json exists.
fn only_runtime_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).into_iter().flatten().flatten().all(|e| {
        let name = e.file_name();
        name == EXEC_FIFO || name == ".state.json.tmp"
    })
}

fn remove_root_if_empty(root: &Path) {
    if std::fs::read_dir(root).map(|mut d| d.next().is_none()).unwrap_or(false) {
        let _ = std::fs::remove_dir(root);
    }
}

/// `learnctr run`: create, start, wait, delete; the container's exit code. With
/// `detach`, create and start, then return: the container runs on, as after
/// `create` + `start`.
pub fn run(k: &dyn Kernel, opts: &CreateOptions, detach: bool) -> Rt<i32> {
    let (root, id) = (opts.root, opts.id);
    let c = create(k, opts)?;
    let started = start(root, id);
    if detach {
        if started.is_err() {
            let _ = delete(k, root, id, true);
        }
        return started.map(|_| 0);
    }
    let code = if started.is_ok() { process::wait_exit_code(c.pid).unwrap_or(1) } else { 1 };
    let _ = process::wait_exit_code(c.pid);
    timing::mark("container exited");
    delete(k, root, id, true)?;
    timing::mark("deleted");
    started.map(|_| code)
}

/// `learnctr list`.
pub fn list(root: &Path) -> Vec<(Container, &'static str)> {
    state::list(root)
        .into_iter()
        .map(|c| {
            let status = c.status(root);
            (c, status)
        })
        .collect()
}
