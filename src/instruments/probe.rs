//! Probes: what the host asks a process inside namespaces to measure from there.
//!
//! Most are readings (the hostname, a pid, a file, the names in a directory, the
//! network interfaces). The same functions answer for the host (called directly) and
//! for the inside (the isolated process calls them and sends the answer back), so
//! "host view" and "container view" are always measured the same way. Readings are
//! not recorded in the trace: it shows what a lesson does, not how it looks.
//!
//! The others are actions, done inside to see what the kernel allows there: a write
//! attempt (`WriteTest`), workloads that meet a cgroup's limits (`Allocate`,
//! `BurnCpu`, `ForkBomb`: `workload.rs`), privileged operations (`Try`:
//! `attempts.rs`), a file written or a server started (`WriteText`, `Spawn`). The
//! workloads' forks and the attempts go through `kernel/`, so they are in the trace
//! with the kernel's answer.

use super::attempts::{self, Attempt};
use super::workload::{self, Outcome};
use crate::primitives::error::errno_name;
use crate::primitives::namespaces::Namespace;
use crate::primitives::{Kernel, Linux};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;
use std::process::Command;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Probe {
    Hostname,
    /// `getpid()`: what the process believes its pid is.
    Pid,
    /// `getuid()` and `getgid()`.
    Ids,
    /// `/proc/self/ns/KIND` as the process sees it.
    NsLink(Namespace),
    ReadFile(String),
    /// The network interfaces and whether each is up.
    Interfaces,
    /// The owner uid and gid of a path, as `stat` reports them inside.
    Owner(String),
    /// Run a command and capture its output (e.g. `ps`).
    Run(Vec<String>),
    /// The process ids listed in `/proc` (what `ps` would show).
    ProcPids,
    /// The names in a directory, sorted (`ls -A`).
    ListDir(String),
    /// What `stat` says of a path (without following a last symlink).
    Stat(String),
    /// Try to open a file for writing: `writable`, or the errno (`EROFS`...).
    WriteTest(String),
    /// Tasks rather than questions: a child allocates this many bytes...
    Allocate(u64),
    /// ... spins on the CPU for this many milliseconds...
    BurnCpu(u64),
    /// ... or forks until the kernel refuses (at most this many times).
    ForkBomb(u32),
    /// Attempt a privileged operation: `ok` or the errno's name.
    Try(Attempt),
    /// Write a small text file (e.g. the page a web server inside will serve).
    WriteText(String, String),
    /// Start a program in the background (a server); answers with its pid inside.
    Spawn(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    Text(String),
    Number(i64),
    Pair(u32, u32),
    Interfaces(Vec<Interface>),
    Output { status: i32, output: String },
    Stat(FileStat),
    Workload(Outcome),
}

/// The parts of `struct stat` the lessons compare.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    /// `dir`, `file`, `symlink`, `char`, `block`, `fifo`, `socket`.
    pub kind: String,
    pub dev: u64,
    pub ino: u64,
    /// For device nodes: major:minor.
    pub rdev: (u64, u64),
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    pub up: bool,
    /// IPv4 addresses with their prefix length: `10.231.42.2/24`.
    pub addresses: Vec<String>,
}

/// Answer a question from where this process stands.
pub fn answer(probe: &Probe) -> Result<Answer, String> {
    match probe {
        Probe::Hostname => hostname().map(Answer::Text),
        Probe::Pid => Ok(Answer::Number(i64::from(nix::unistd::getpid().as_raw()))),
        Probe::Ids => Ok(Answer::Pair(nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw())),
        Probe::NsLink(ns) => ns.link(None).map(Answer::Text).map_err(|e| e.to_string()),
        Probe::ReadFile(path) => std::fs::read_to_string(path).map(Answer::Text).map_err(|e| format!("{path}: {e}")),
        Probe::Interfaces => interfaces().map(Answer::Interfaces),
        Probe::Owner(path) => {
            std::fs::metadata(path).map(|m| Answer::Pair(m.uid(), m.gid())).map_err(|e| format!("{path}: {e}"))
        }
        Probe::Run(argv) => run(argv),
        Probe::ListDir(path) => list_dir(path).map(|names| Answer::Text(names.join(" "))),
        Probe::Stat(path) => stat(path).map(Answer::Stat),
        Probe::WriteTest(path) => Ok(Answer::Text(write_error(path))),
        Probe::Allocate(bytes) => workload(|k| workload::allocate(k, *bytes)),
        Probe::BurnCpu(millis) => workload(|k| workload::burn_cpu(k, *millis)),
        Probe::ForkBomb(max) => workload(|k| workload::fork_until_refused(k, *max)),
        Probe::Try(what) => Ok(Answer::Text(attempts::attempt(&Linux, what))),
        Probe::WriteText(path, content) => {
            if let Some(dir) = std::path::Path::new(path).parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            std::fs::write(path, content).map(|_| Answer::Text(String::new())).map_err(|e| format!("{path}: {e}"))
        }
        Probe::Spawn(argv) => {
            let (program, args) = argv.split_first().ok_or("empty command")?;
            let child = Command::new(program)
                .args(args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| format!("{program}: {e}"))?;
            Ok(Answer::Number(i64::from(child.id())))
        }
        Probe::ProcPids => {
            proc_pids().map(|p| Answer::Text(p.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" ")))
        }
    }
}

fn workload(run: impl FnOnce(&dyn Kernel) -> crate::primitives::Result<Outcome>) -> Result<Answer, String> {
    run(&Linux).map(Answer::Workload).map_err(|e| e.to_string())
}

/// What opening `path` for writing gets: `writable`, or the errno's name (`EROFS`
/// for a read-only mount). The checks use it as proof.
pub fn write_error(path: &str) -> String {
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(_) => "writable".to_string(),
        Err(e) => errno_name(nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0))),
    }
}

pub fn hostname() -> Result<String, String> {
    nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).map_err(|e| e.desc().to_string())
}

/// The interfaces of the network namespace we are in (getifaddrs asks the kernel over
/// netlink, in our own namespace), sorted by name, each once.
pub fn interfaces() -> Result<Vec<Interface>, String> {
    let mut list: Vec<Interface> = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(|e| e.desc().to_string())? {
        let ipv4 = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()).map(|a| a.ip());
        let prefix = ifa.netmask.as_ref().and_then(|m| m.as_sockaddr_in()).map(|m| u32::from(m.ip()).count_ones());
        let address = ipv4.map(|ip| format!("{ip}/{}", prefix.unwrap_or(32)));
        match list.iter_mut().find(|i| i.name == ifa.interface_name) {
            Some(known) => known.addresses.extend(address),
            None => {
                let up = ifa.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP);
                list.push(Interface { name: ifa.interface_name, up, addresses: address.into_iter().collect() });
            }
        }
    }
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}

/// The numeric entries of `/proc`: the processes of the pid namespace that mounted
/// that proc (not necessarily our own — lesson 4 is about exactly that).
pub fn proc_pids() -> Result<Vec<u32>, String> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .map_err(|e| e.to_string())?
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// The names in a directory, sorted.
pub fn list_dir(path: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .map_err(|e| format!("{path}: {e}"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

pub fn stat(path: &str) -> Result<FileStat, String> {
    use std::os::unix::fs::FileTypeExt;
    let m = std::fs::symlink_metadata(path).map_err(|e| format!("{path}: {e}"))?;
    let t = m.file_type();
    let kind = if t.is_dir() {
        "dir"
    } else if t.is_symlink() {
        "symlink"
    } else if t.is_char_device() {
        "char"
    } else if t.is_block_device() {
        "block"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else {
        "file"
    };
    let rdev = (nix::sys::stat::major(m.rdev()), nix::sys::stat::minor(m.rdev()));
    Ok(FileStat { kind: kind.to_string(), dev: m.dev(), ino: m.ino(), rdev, size: m.size() })
}

/// Output longer than this is cut, so that an answer always fits in one message.
const MAX_OUTPUT: usize = 256 * 1024;

fn run(argv: &[String]) -> Result<Answer, String> {
    let (program, args) = argv.split_first().ok_or("empty command")?;
    // stdin is an empty pipe, not /dev/null: a container without /dev must still work.
    let out = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    if output.len() > MAX_OUTPUT {
        let mut cut = MAX_OUTPUT;
        while !output.is_char_boundary(cut) {
            cut -= 1;
        }
        output.truncate(cut);
        output.push_str("\n[...]\n");
    }
    Ok(Answer::Output { status: out.status.code().unwrap_or(128), output })
}

impl Answer {
    /// The answer as text, for the observation table.
    pub fn text(&self) -> String {
        match self {
            Answer::Text(t) => t.trim_end().to_string(),
            Answer::Number(n) => n.to_string(),
            Answer::Pair(a, b) => format!("{a}:{b}"),
            Answer::Interfaces(list) => list
                .iter()
                .map(|i| {
                    let state = if i.up { "UP" } else { "DOWN" };
                    match i.addresses.is_empty() {
                        true => format!("{} ({state})", i.name),
                        false => format!("{} ({state}, {})", i.name, i.addresses.join(" ")),
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
            Answer::Output { output, .. } => output.trim_end().to_string(),
            Answer::Stat(s) if s.kind == "char" || s.kind == "block" => format!("{} {}:{}", s.kind, s.rdev.0, s.rdev.1),
            Answer::Stat(s) => format!("{} {} bytes", s.kind, s.size),
            Answer::Workload(o) => {
                format!("status {}, cpu {} ms, wall {} ms", o.status, o.cpu_us / 1000, o.wall_us / 1000)
            }
        }
    }
}

/// The running kernel's release, as `uname -r` prints it.
pub fn kernel_release() -> String {
    nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default()
}
