//! Private container engines for tests/engines.rs: Podman, and Docker on its own
//! containerd, each under one temporary directory with its own sockets, data and
//! configuration. The host's engine directories are never used, and a Drop guard takes
//! everything down again on success, failure or panic.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const IMAGE: &str = "localhost/learnctr-test:1";

/// Where the engines keep host-wide state: the tests must neither read nor write them.
const SACRED: &str = "/etc/containers /etc/docker /etc/cni /var/lib/docker /var/lib/containers /var/lib/containerd \
                      /var/lib/cni /opt/containerd /run/containers /run/libpod";
/// containerd 1.6 puts shim sockets in /run/containerd/s and dockerd 20.10 makes
/// /run/docker/plugins whatever their configuration, and runc under Podman keeps its
/// state in /run/runc: what we add there is removed.
const RUN_DIRS: &str = "/run/containerd /run/docker /run/runc";
/// What CNI's bridge plugin, dockerd (its key quota) or a container could change.
const SYSCTLS: &str = "net/ipv4/ip_forward net/ipv4/conf/all/forwarding net/ipv6/conf/all/forwarding \
                       net/bridge/bridge-nf-call-iptables kernel/keys/root_maxkeys kernel/keys/root_maxbytes kernel/msgmax";
/// The engines' processes, as /proc/PID/comm names them (truncated to 15 bytes).
const ENGINE_PROCESSES: &str = "dockerd containerd containerd-shim conmon podman ctr docker-proxy";
/// Cgroup directories the engines make (cgroupfs driver, no systemd), and ours.
const ENGINE_CGROUPS: &str = "libpod docker conmon learnctr-engines";

fn words(list: &str) -> Vec<&str> {
    list.split_whitespace().collect()
}

/// One finished command; `code` is None when a signal or the timeout ended it.
pub struct Ran {
    pub argv: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn show(&self) -> String {
        format!("$ {}\n  exit {:?}\n  stdout: {:?}\n  stderr: {:?}", self.argv, self.code, self.stdout, self.stderr)
    }
}

/// Read a pipe in a thread, chunk by chunk; `until` takes what arrived by then, even if
/// a daemon the command started keeps the pipe open.
fn drain(pipe: Option<impl Read + Send + 'static>) -> impl FnOnce(Instant) -> String {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
    }
    move |until| {
        let mut all = Vec::new();
        while let Ok(chunk) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            all.extend(chunk);
        }
        String::from_utf8_lossy(&all).into_owned()
    }
}

/// Run `cmd` with stdin closed for at most `secs` seconds; on timeout its process
/// group (its own) is killed, so one hung case cannot hang the suite.
pub fn run_for(mut cmd: Command, secs: u64) -> Ran {
    let words = std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(|a| a.to_string_lossy());
    let argv = words.collect::<Vec<_>>().join(" ");
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Ran { argv, code: None, stdout: String::new(), stderr: format!("cannot start: {e}") },
    };
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let mut status = None;
    super::wait_until(Duration::from_secs(secs), || match child.try_wait() {
        Ok(None) => false,
        ended => {
            status = ended.ok().flatten();
            true
        }
    });
    if status.is_none() {
        let _ = nix::sys::signal::killpg(pid(child.id() as i32), nix::sys::signal::Signal::SIGKILL);
        let _ = child.wait();
    }
    let grace = Instant::now() + Duration::from_secs(1);
    let (stdout, mut stderr) = (out(grace), err(grace));
    // The Docker client's own word about the host (our dockerd runs with
    // --ip-forward=false, and a fresh host has net.ipv4.ip_forward = 0): not the
    // runtime's output, and the same with runc and learnctr.
    let docker_note = "WARNING: IPv4 forwarding is disabled. Networking will not work.\n";
    if stderr.starts_with(docker_note) {
        stderr = stderr[docker_note.len()..].to_string();
    }
    if status.is_none() {
        stderr.push_str(&format!("\n[killed after {secs} s]"));
    }
    Ran { argv, code: status.and_then(|s| s.code()), stdout, stderr }
}

fn pid(p: i32) -> nix::unistd::Pid {
    nix::unistd::Pid::from_raw(p)
}

/// Host state beyond `super::host_state()` that an engine could touch: what it is, and
/// its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostExtras(Vec<(&'static str, Vec<String>)>);

impl HostExtras {
    fn get(&self, what: &str) -> &[String] {
        self.0.iter().find(|(w, _)| *w == what).map(|(_, v)| v.as_slice()).unwrap_or_default()
    }
}

/// Every path under `roots`, with its size and mtime when `meta`.
fn trees(roots: &str, meta: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = words(roots).iter().map(PathBuf::from).collect();
    while let Some(p) = stack.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else { continue };
        let line = format!("{} {} {}.{}", p.display(), m.len(), m.mtime(), m.mtime_nsec());
        out.push(if meta { line } else { p.display().to_string() });
        if m.is_dir() && out.len() < 20000 {
            stack.extend(std::fs::read_dir(&p).into_iter().flatten().flatten().map(|e| e.path()));
        }
    }
    out.sort();
    out
}

fn cmdline(pid: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()).replace('\0', " ")
}

fn processes() -> impl Iterator<Item = String> {
    let names = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    names.map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.parse::<u32>().is_ok())
}

fn engine_processes() -> Vec<String> {
    let comm = |p: &str| std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default().trim().to_string();
    // A zombie holds nothing but its number, until PID 1 (not ours to wait for) reaps it.
    let zombie = |p: &str| std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default().contains(") Z ");
    let engine = |p: &String| words(ENGINE_PROCESSES).contains(&comm(p).as_str()) && !zombie(p);
    let mut found: Vec<String> =
        processes().filter(engine).map(|p| format!("{p} {}: {}", comm(&p), cmdline(&p))).collect();
    found.sort();
    found
}

/// Cgroup directories (at most 6 levels under /sys/fs/cgroup) whose path `wanted`
/// accepts, deepest first.
fn cgroups(wanted: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten().filter(|e| e.path().is_dir()) {
            if wanted(&e.path().display().to_string()) {
                found.push(e.path());
            }
            if e.path().components().count() < 10 {
                stack.push(e.path());
            }
        }
    }
    found.sort_by_key(|p| (std::cmp::Reverse(p.components().count()), p.clone()));
    found
}

fn engine_cgroup(path: &str) -> bool {
    words(ENGINE_CGROUPS).iter().any(|w| path.contains(w))
}

fn iptables() -> Vec<String> {
    let Ok(out) = Command::new("iptables-save").output() else { return vec!["no iptables-save".into()] };
    // Comments carry the time, chain lines their counters: neither is state.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().filter(|l| !l.starts_with('#')).map(|l| l.split(" [").next().unwrap_or(l).to_string()).collect()
}

const SACRED_FILES: &str = "the engines' host directories (sizes, mtimes)";
const RUN_FILES: &str = "/run/containerd, /run/docker and /run/runc";
const SYSCTL_VALUES: &str = "host sysctls";
const ENGINE_CGROUP_DIRS: &str = "engine cgroups";

pub fn host_extras() -> HostExtras {
    let sysctl =
        |s: &str| format!("{s}={}", std::fs::read_to_string(format!("/proc/sys/{s}")).unwrap_or_default().trim());
    HostExtras(vec![
        (SACRED_FILES, trees(SACRED, true)),
        (RUN_FILES, trees(RUN_DIRS, false)),
        (SYSCTL_VALUES, words(SYSCTLS).into_iter().map(sysctl).collect()),
        ("iptables-save", iptables()),
        ("engine processes (PID comm: cmdline)", engine_processes()),
        (ENGINE_CGROUP_DIRS, cgroups(&engine_cgroup).iter().map(|p| p.display().to_string()).collect()),
    ])
}

pub fn assert_same_extras(before: &HostExtras, after: &HostExtras, when: &str) {
    let new = |a: &[String], b: &[String]| b.iter().filter(|x| !a.contains(x)).cloned().collect::<Vec<_>>();
    for ((what, b), (_, a)) in before.0.iter().zip(&after.0) {
        assert!(b == a, "{when}: {what} changed\nnew: {:#?}\ngone: {:#?}", new(b, a), new(a, b));
    }
}

/// The first of `candidates` ("10.233.42": a /24) that no host route or address uses.
fn free_subnet(candidates: &[&str]) -> String {
    let used = |args: &[&str]| Command::new("ip").args(args).output().map(|o| super::text(&o).0).unwrap_or_default();
    let (routes, addrs) = (used(&["route", "show", "table", "all"]), used(&["-4", "addr"]));
    let free = candidates.iter().find(|c| !routes.contains(&format!("{c}.")) && !addrs.contains(&format!("{c}.")));
    free.unwrap_or_else(|| panic!("every candidate subnet {candidates:?} is used on this host")).to_string()
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip").args(args).status().map(|s| s.success()).unwrap_or(false)
}

/// Our directory, daemons, bridges and containers; dropping it takes everything down
/// and puts back what the engines changed on the host.
pub struct Private {
    pub dir: PathBuf,
    tmp: Option<tempfile::TempDir>,
    before: HostExtras,
    daemons: Vec<Child>,
    bridges: Vec<String>,
    cleanups: Vec<Command>,
    /// Directories whose entries are our containers' ids: cgroups named after them are ours.
    id_dirs: Vec<PathBuf>,
    /// A name of ours for cgroups (Docker's cgroup parent, ctr's namespace).
    unique: String,
}

impl Private {
    pub fn new() -> Private {
        let before = host_extras();
        let tmp = tempfile::Builder::new().prefix("learnctr-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let (dir, unique) = (tmp.path().to_path_buf(), format!("learnctr-engines-{}", std::process::id()));
        let (daemons, bridges, cleanups, id_dirs) = (vec![], vec![], vec![], vec![]);
        Private { dir, tmp: Some(tmp), before, daemons, bridges, cleanups, id_dirs, unique }
    }

    /// A bridge of ours, the first free `prefix`N, with `subnet`.1/24 on it.
    fn bridge(&mut self, prefix: &str, subnet: &str) -> String {
        let name = (0..10).map(|n| format!("{prefix}{n}")).find(|n| !Path::new("/sys/class/net").join(n).exists());
        let name = name.unwrap_or_else(|| panic!("no free bridge name {prefix}0-9"));
        assert!(ip(&["link", "add", &name, "type", "bridge"]), "cannot create the bridge {name}");
        self.bridges.push(name.clone());
        assert!(ip(&["addr", "add", &format!("{subnet}.1/24"), "dev", &name]) && ip(&["link", "set", &name, "up"]));
        name
    }

    /// Start a daemon of ours, its output to DIR/NAME.log, and wait until it listens
    /// on `socket`; else panic with the end of its log.
    fn daemon(&mut self, name: &str, mut cmd: Command, socket: &Path) {
        let log_path = self.dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut exited = None;
        let listening = super::wait_until(Duration::from_secs(30), || {
            exited = child.try_wait().ok().flatten();
            exited.is_none() && std::os::unix::net::UnixStream::connect(socket).is_ok()
        });
        self.daemons.push(child);
        if !listening {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(25).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!("{name} did not start ({exited:?}); its log ends with:\n{}", tail.join("\n"));
        }
    }

    /// Cgroups of ours: named after one of our containers, or our unique name.
    fn our_cgroups(&self) -> Vec<PathBuf> {
        let entries = self.id_dirs.iter().flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten());
        let ids: Vec<String> = entries.map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        let ids: Vec<&String> = ids.iter().filter(|n| n.len() >= 12).collect();
        cgroups(&|p: &str| p.contains(&self.unique) || ids.iter().any(|id| p.contains(id.as_str())))
    }

    /// Ours: processes naming our directory (daemons, shims, conmon, podman's cleanup),
    /// and those in our containers' cgroups. Nothing else is ever signalled.
    fn kill_ours(&self) {
        let (me, dir) = (std::process::id().to_string(), self.dir.display().to_string());
        for _ in 0..50 {
            let mut pids: Vec<String> = processes().filter(|p| *p != me && cmdline(p).contains(&dir)).collect();
            for cg in self.our_cgroups() {
                let procs = std::fs::read_to_string(cg.join("cgroup.procs")).unwrap_or_default();
                pids.extend(procs.lines().map(str::to_string));
            }
            if pids.is_empty() {
                return;
            }
            for p in pids.iter().filter_map(|p| p.trim().parse().ok()) {
                let _ = nix::sys::signal::kill(pid(p), nix::sys::signal::Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("engines: processes of ours survive SIGKILL");
    }

    /// Our cgroups, and the engine cgroups that are new and empty (rmdir refuses a
    /// non-empty one, so another engine's are safe).
    fn remove_cgroups(&self) {
        let new = |p: &str| engine_cgroup(p) && !self.before.get(ENGINE_CGROUP_DIRS).iter().any(|b| b == p);
        for _ in 0..30 {
            let mut left = self.our_cgroups();
            left.extend(cgroups(&new));
            left.retain(|d| std::fs::remove_dir(d).is_err() && d.exists());
            if left.is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Everything mounted under our directory, deepest first, lazily.
    fn unmount_all(&self) {
        let dir = self.dir.display().to_string();
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let points = info.lines().filter_map(|l| l.split(' ').nth(4)).map(|p| p.replace("\\040", " "));
        let mut points: Vec<String> = points.filter(|p| p.starts_with(&dir)).collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }

    /// New in /run/containerd, /run/docker and /run/runc: dead sockets and empty directories (a
    /// live socket is another engine's). Then the sysctls.
    fn restore_host(&self) {
        let mut new: Vec<String> =
            trees(RUN_DIRS, false).into_iter().filter(|p| !self.before.get(RUN_FILES).contains(p)).collect();
        new.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in new {
            match std::fs::symlink_metadata(&p).map(|m| m.file_type()) {
                Ok(t) if t.is_dir() => drop(std::fs::remove_dir(&p)),
                Ok(t) if t.is_socket() && std::os::unix::net::UnixStream::connect(&p).is_err() => {
                    drop(std::fs::remove_file(&p))
                }
                _ => {}
            }
        }
        for (name, value) in self.before.get(SYSCTL_VALUES).iter().filter_map(|l| l.split_once('=')) {
            let now = std::fs::read_to_string(format!("/proc/sys/{name}")).unwrap_or_default();
            if now.trim() != value {
                eprintln!("engines: {name} became {}; put back {value}", now.trim());
                let _ = std::fs::write(format!("/proc/sys/{name}"), value);
            }
        }
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        for cmd in self.cleanups.drain(..) {
            run_for(cmd, 60);
        }
        // dockerd before its containerd; SIGTERM lets dockerd unmount and tidy up.
        for child in self.daemons.iter_mut().rev() {
            let _ = nix::sys::signal::kill(pid(child.id() as i32), nix::sys::signal::Signal::SIGTERM);
            super::wait_until(Duration::from_secs(15), || child.try_wait().ok().flatten().is_some());
            let _ = child.kill();
            let _ = child.wait();
        }
        self.kill_ours();
        self.remove_cgroups();
        self.unmount_all();
        for b in &self.bridges {
            ip(&["link", "del", b]);
        }
        self.restore_host();
        if let Some(Err(e)) = self.tmp.take().map(|t| t.close()) {
            eprintln!("engines: cannot remove {}: {e}", self.dir.display());
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Podman,
    Docker,
}

/// How to call one private engine's command line with a runtime of our choice.
pub struct Engine {
    pub kind: Kind,
    argv0: Vec<String>,
    env: Vec<(String, String)>,
    /// Scratch space of ours for the cases (volumes).
    pub dir: PathBuf,
    /// The bridge network's /24 as "10.233.42": the gateway is .1.
    pub subnet: String,
    /// `ctr` on the same containerd, in a namespace of ours (Docker only).
    ctr: Vec<String>,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Engine {
    /// Podman takes the runtime as a global option, Docker on `run` and `create` (the
    /// container keeps it for its later commands).
    pub fn argv(&self, runtime: &str, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> =
            self.argv0.iter().map(String::as_str).chain(args.iter().copied()).map(String::from).collect();
        let at = match (self.kind, args.first()) {
            (Kind::Podman, _) => self.argv0.len(),
            (Kind::Docker, Some(&"run" | &"create")) => self.argv0.len() + 1,
            _ => return v,
        };
        v.splice(at..at, ["--runtime".to_string(), runtime.to_string()]);
        v
    }

    fn command(&self, argv: &[String]) -> Command {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]).envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    pub fn run(&self, runtime: &str, args: &[&str]) -> Ran {
        run_for(self.command(&self.argv(runtime, args)), 90)
    }

    /// The same through `script`, which gives it a terminal (for `-it`).
    pub fn run_tty(&self, runtime: &str, args: &[&str]) -> Ran {
        let line: Vec<String> = self.argv(runtime, args).iter().map(|a| quote(a)).collect();
        run_for(self.command(&["script", "-qec", &line.join(" "), "/dev/null"].map(String::from)), 90)
    }

    /// The same with `input` on its stdin (for `-i`), through `sh -c 'printf … | …'`.
    pub fn run_with_input(&self, runtime: &str, args: &[&str], input: &str) -> Ran {
        let line: Vec<String> = self.argv(runtime, args).iter().map(|a| quote(a)).collect();
        let script = format!("printf %s {} | {}", quote(input), line.join(" "));
        run_for(self.command(&["sh", "-c", &script].map(String::from)), 90)
    }

    /// `ctr run --rm ARGS` with `runtime` (runc, or learnctr) as the runc binary.
    pub fn ctr_run(&self, runtime: &str, args: &[&str]) -> Ran {
        let binary = if runtime == "learnctr" { super::bin().display().to_string() } else { runtime.to_string() };
        let (fifo, root) = (self.dir.join("ctr-fifo"), self.dir.join("ctr-runc"));
        let (fifo, root) = (fifo.display().to_string(), root.display().to_string());
        let flags = ["run", "--rm", "--fifo-dir", &fifo, "--runc-root", &root, "--runc-binary", &binary];
        let argv: Vec<String> =
            self.ctr.iter().map(String::as_str).chain(flags).chain(args.iter().copied()).map(String::from).collect();
        run_for(self.command(&argv), 90)
    }
}

/// What was started: the engine to call, and the guard that takes it all down.
pub struct Started {
    pub engine: Engine,
    _private: Private,
}

fn must(ran: Ran, what: &str) -> Ran {
    assert_eq!(ran.code, Some(0), "{what} failed:\n{}", ran.show());
    ran
}

/// Write `template` to DIR/`name`, with @DIR@, @BIN@, @NOFILE@, @BRIDGE@, @SUBNET@ and
/// @UNIQUE@ filled in.
fn write(dir: &Path, name: &str, template: &str, fill: &[(&str, &str)]) {
    let text = fill.iter().fold(template.to_string(), |t, (k, v)| t.replace(k, v));
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

/// The BusyBox root filesystem as one tar (for `import`), with a nobody to run as.
fn image_tar(dir: &Path) -> PathBuf {
    let rootfs = super::busybox_rootfs(&dir.join("image"));
    write(&rootfs, "etc/passwd", PASSWD, &[]);
    write(&rootfs, "etc/group", "root:x:0:\nnobody:x:65534:\n", &[]);
    let tar = dir.join("image.tar");
    let made = Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg(".").status();
    assert!(made.map(|s| s.success()).unwrap_or(false), "cannot tar the BusyBox rootfs");
    tar
}

// No CAP_SYS_RESOURCE on the test machines, and podman lowers its own RLIMIT_NPROC to
// 32768: without these ulimits every container fails on setrlimit (with runc too).
const CONTAINERS_CONF: &str = r#"[containers]
default_ulimits = ["nofile=@NOFILE@:@NOFILE@", "nproc=32768:32768"]
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "@DIR@/events.log"
tmp_dir = "@DIR@/tmp"
volume_path = "@DIR@/volumes"
image_copy_tmp_dir = "@DIR@/tmp"
hooks_dir = ["@DIR@/hooks"]
[engine.runtimes]
learnctr = ["@BIN@"]
[network]
network_backend = "cni"
network_config_dir = "@DIR@/net"
"#;
const STORAGE_CONF: &str = "[storage]\ndriver = \"overlay\"\ngraphroot = \"@DIR@/graph\"\nrunroot = \"@DIR@/run\"\n";
// The bridge is ours, with the gateway's address already: isGateway would also switch on
// the host's ip_forward. No portmap, firewall or masquerade: no iptables.
const PODMAN_NETWORK: &str = r#"{"cniVersion": "0.4.0", "name": "podman", "plugins": [
  {"type": "bridge", "bridge": "@BRIDGE@", "isGateway": false, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "@DIR@/cni",
            "ranges": [[{"subnet": "@SUBNET@.0/24", "gateway": "@SUBNET@.1"}]]}},
  {"type": "loopback"}]}"#;
// The debug and metrics sockets are off by default, ttrpc's is next to grpc's.
const CONTAINERD_TOML: &str = r#"version = 2
root = "@DIR@/containerd/root"
state = "@DIR@/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
address = "@DIR@/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
path = "@DIR@/containerd/opt"
"#;
// deprecated-key-path: else dockerd 20.10 writes its trust key to /etc/docker/key.json.
const DAEMON_JSON: &str = r#"{"runtimes": {"learnctr": {"path": "@BIN@"}}, "deprecated-key-path": "@DIR@/key.json",
  "cgroup-parent": "/@UNIQUE@", "shutdown-timeout": 3}"#;

impl Private {
    /// A process holding a mount namespace of ours where directories of ours (under
    /// DIR/shadow) are bound over the host's `shadows`; every podman command enters it.
    pub(super) fn holder(&mut self, shadows: &[&str]) -> String {
        let ours = |host: &str| self.dir.join("shadow").join(&host[1..]);
        shadows.iter().for_each(|h| std::fs::create_dir_all(ours(h)).unwrap());
        let bind = |host: &&str| format!("mount --bind {} {host} && ", quote(&ours(host).display().to_string()));
        let script = format!("{}echo ready && exec sleep 1000000", shadows.iter().map(bind).collect::<String>());
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c", &script]);
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line);
        let id = child.id().to_string();
        self.daemons.push(child);
        assert_eq!(line.trim(), "ready", "cannot make podman's mount namespace ({script})");
        id
    }
}

/// Podman with a private store, network config and mount namespace. Podman 4.3 keeps
/// CNI results in /var/lib/cni/results and its blob cache in /var/lib/containers/cache
/// whatever its configuration: in its namespace those are directories of ours, and
/// /etc/containers holds only our policy.json.
pub fn podman() -> Started {
    let mut p = Private::new();
    let d = p.dir.clone();
    let subnet = free_subnet(&["10.233.42", "10.233.43", "172.31.233"]);
    let bridge = p.bridge("learnctr-pm", &subnet);
    let tar = image_tar(&d);
    let (_, nofile) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let (dir, bin, nofile) = (d.display().to_string(), super::bin().display().to_string(), nofile.to_string());
    let fill =
        [("@DIR@", dir.as_str()), ("@BIN@", &bin), ("@NOFILE@", &nofile), ("@BRIDGE@", &bridge), ("@SUBNET@", &subnet)];
    write(&d, "containers.conf", CONTAINERS_CONF, &fill);
    write(&d, "storage.conf", STORAGE_CONF, &fill);
    write(&d, "registries.conf", "unqualified-search-registries = []\n", &[]);
    write(&d, "net/87-podman-bridge.conflist", PODMAN_NETWORK, &fill);
    write(&d, "shadow/etc/containers/policy.json", r#"{"default": [{"type": "insecureAcceptAnything"}]}"#, &[]);
    for sub in ["tmp", "volumes", "hooks", "cni"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    // Podman would create /var/lib/containers or /var/lib/cni: then all /var/lib is shadowed.
    let written = ["/var/lib/containers", "/var/lib/cni"];
    let written = if written.iter().all(|w| Path::new(w).is_dir()) { written.to_vec() } else { vec!["/var/lib"] };
    let shadows: Vec<&str> =
        written.into_iter().chain(["/etc/containers", "/etc/cni"]).filter(|h| Path::new(h).is_dir()).collect();
    let holder = p.holder(&shadows);
    let env = [("CONTAINERS_CONF", "containers.conf"), ("CONTAINERS_STORAGE_CONF", "storage.conf")];
    let env = env.into_iter().chain([("CONTAINERS_REGISTRIES_CONF", "registries.conf"), ("TMPDIR", "tmp")]);
    let engine = Engine {
        kind: Kind::Podman,
        argv0: ["nsenter", "-t", &holder, "-m", "--", "podman"].map(String::from).to_vec(),
        env: env.map(|(k, f)| (k.to_string(), d.join(f).display().to_string())).collect(),
        dir: d.clone(),
        subnet: subnet.clone(),
        ctr: vec![],
    };
    p.cleanups.push(engine.command(&engine.argv("runc", &["rm", "--all", "--force", "--time", "0"])));
    p.id_dirs.push(d.join("graph/overlay-containers"));
    must(engine.run("runc", &["import", &tar.display().to_string(), IMAGE]), "podman import");
    let net = must(engine.run("runc", &["network", "inspect", "podman"]), "podman network inspect");
    let ours = net.stdout.contains(&format!("\"network_interface\": \"{bridge}\"")) && net.stdout.contains(&subnet);
    assert!(ours, "podman does not use our network config:\n{}", net.show());
    Started { engine, _private: p }
}

/// containerd and dockerd of ours, on our bridge, without iptables or forwarding.
pub fn docker() -> Started {
    let mut p = Private::new();
    let d = p.dir.clone();
    let subnet = free_subnet(&["10.234.42", "10.234.43", "172.31.234"]);
    let bridge = p.bridge("learnctr-dk", &subnet);
    let tar = image_tar(&d);
    let (dir, bin) = (d.display().to_string(), super::bin().display().to_string());
    let fill = [("@DIR@", dir.as_str()), ("@BIN@", &bin), ("@UNIQUE@", &p.unique)];
    write(&d, "containerd.toml", CONTAINERD_TOML, &fill);
    write(&d, "daemon.json", DAEMON_JSON, &fill);
    for sub in ["client", "ctr-fifo", "ctr-runc"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let path = |f: &str| d.join(f).display().to_string();
    let mut containerd = Command::new("containerd");
    containerd.args(["--config", &path("containerd.toml")]);
    p.daemon("containerd", containerd, &d.join("containerd.sock"));
    let mut dockerd = Command::new("/usr/sbin/dockerd");
    dockerd.args(["--config-file", &path("daemon.json"), "--data-root", &path("data"), "--exec-root", &path("exec")]);
    dockerd.args(["--pidfile", &path("docker.pid"), "-H", &format!("unix://{}", path("docker.sock"))]);
    dockerd.args(["--containerd", &path("containerd.sock"), "--bridge", &bridge, "--storage-driver", "overlay2"]);
    dockerd.args(["--iptables=false", "--ip-masq=false", "--ip-forward=false", "--userland-proxy=false"]);
    p.daemon("dockerd", dockerd, &d.join("docker.sock"));
    let engine = Engine {
        kind: Kind::Docker,
        argv0: vec!["/usr/bin/docker".into()],
        env: vec![
            ("DOCKER_CONFIG".into(), path("client")),
            ("DOCKER_HOST".into(), format!("unix://{}", path("docker.sock"))),
        ],
        dir: d.clone(),
        subnet,
        ctr: ["ctr", "--address", &path("containerd.sock"), "--namespace", &p.unique].map(String::from).to_vec(),
    };
    let rm_all = "/usr/bin/docker ps -aq | xargs -r /usr/bin/docker rm -f";
    p.cleanups.push(engine.command(&["sh", "-c", rm_all].map(String::from)));
    p.id_dirs.push(d.join("data/containers"));
    must(engine.run("runc", &["import", &tar.display().to_string(), IMAGE]), "docker import");
    must(engine.run("runc", &["save", "-o", &path("image-archive.tar"), IMAGE]), "docker save");
    let import: Vec<String> =
        engine.ctr.iter().cloned().chain(["images", "import", &path("image-archive.tar")].map(String::from)).collect();
    must(run_for(engine.command(&import), 60), "ctr images import");
    Started { engine, _private: p }
}
