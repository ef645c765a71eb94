//! Shared helpers of the integration tests: run the real binary, require root, and
//! photograph the host before and after.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The root tests change host-wide state (journal, namespaces, cgroups); they run one
/// at a time.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// True when the test may go on as root. In CI (`CI=true`) a missing root is a
/// failure, never a silent skip.
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: CI=true but the tests are not running as root; root tests must run in CI");
    }
    eprintln!("SKIPPED {test}: needs root (run `make test`, which uses sudo)");
    false
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_learnctr"))
}

/// A learnctr command with no colours, English unless told, and a progress file in a
/// temporary place (the tests never touch a real user's progress).
pub fn learnctr(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LEARNCTR_TEST_HOLD")
        .env("LEARNCTR_PROGRESS_FILE", progress_file());
    cmd
}

/// In Cargo's scratch directory for integration tests (under target/), never in /tmp:
/// the host keeps nothing of a test run.
pub fn progress_file() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("learnctr-test-progress-{}.json", std::process::id()))
}

pub fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// What the host holds that learnctr could have made or changed.
#[derive(Debug, PartialEq, Eq)]
pub struct HostState {
    pub mountinfo: String,
    pub links: Vec<String>,
    pub netns: Vec<String>,
    pub cgroups: Vec<String>,
    pub run_dir: Vec<String>,
    /// `/tmp/learnctr-*` (the finale's bundles).
    pub tmp: Vec<String>,
    /// learnctr's stores on the host (`/var/lib/learnctr`: rootfs, images, layers): the
    /// tests use stores of their own, and never add one there.
    pub stores: Vec<String>,
    pub learnctr_processes: Vec<String>,
    pub routes: String,
}

fn sorted_dir(path: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(path)
        .map(|r| r.flatten().filter_map(|e| e.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn learnctr_cgroups() -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = stack.pop() {
        if dir.components().count() > 7 {
            continue;
        }
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if p.to_string_lossy().contains("learnctr") {
                    found.push(p.display().to_string());
                }
                stack.push(p);
            }
        }
    }
    found.sort();
    found
}

/// Processes running the learnctr binary, other than the ones the test itself runs.
/// Compared by device and inode: a sealed learnctr runs the same file through a
/// detached read-only mount, whose path reads as "/".
fn learnctr_processes() -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let file = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let me = file(&bin());
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().into_string().unwrap_or_default();
        if name.parse::<u32>().is_err() {
            continue;
        }
        if me.is_some() && file(&e.path().join("exe")) == me {
            found.push(name);
        }
    }
    found.sort();
    found
}

pub fn host_state() -> HostState {
    let routes =
        Command::new("ip").args(["route", "show", "table", "all"]).output().map(|o| text(&o).0).unwrap_or_default();
    HostState {
        mountinfo: std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default(),
        links: sorted_dir("/sys/class/net"),
        netns: sorted_dir("/run/netns"),
        cgroups: learnctr_cgroups(),
        run_dir: sorted_dir("/run/learnctr"),
        stores: sorted_dir("/var/lib/learnctr"),
        tmp: sorted_dir(&std::env::temp_dir().display().to_string())
            .into_iter()
            .filter(|n| n.starts_with("learnctr-"))
            .collect(),
        learnctr_processes: learnctr_processes(),
        routes,
    }
}

/// Assert that nothing changed, naming what did.
pub fn assert_same_host(before: &HostState, after: &HostState, when: &str) {
    assert_eq!(before.mountinfo, after.mountinfo, "{when}: the host's mount table changed");
    assert_eq!(before.links, after.links, "{when}: host interfaces changed");
    assert_eq!(before.netns, after.netns, "{when}: named network namespaces changed");
    assert_eq!(before.cgroups, after.cgroups, "{when}: learnctr cgroups remain");
    assert_eq!(before.run_dir, after.run_dir, "{when}: /run/learnctr changed");
    assert_eq!(before.learnctr_processes, after.learnctr_processes, "{when}: learnctr processes remain");
    assert_eq!(before.routes, after.routes, "{when}: host routes changed");
    assert_eq!(before.tmp, after.tmp, "{when}: temporary bundles (learnctr-* in the temporary directory) changed");
    assert_eq!(before.stores, after.stores, "{when}: learnctr's stores in /var/lib/learnctr changed");
}

/// The preamble of a root test, in one value: the test runs alone (`serial`), with a
/// photograph of the host taken first and a temporary directory of its own. The host
/// is compared again where the test says (`assert_same_host`, usually once what it
/// made is removed), not on drop: a check in drop could not fail a test that is
/// already panicking, and would move the moment each test chose.
pub struct RootTest {
    /// Removed before the lock is released (fields drop in this order).
    pub dir: tempfile::TempDir,
    pub before: HostState,
    _alone: MutexGuard<'static, ()>,
}

/// The start of a root test: None when it may not run (not root, outside CI), and the
/// test returns: `let Some(t) = root_test("name") else { return };`.
pub fn root_test(name: &str) -> Option<RootTest> {
    root_test_in(name, &std::env::temp_dir())
}

/// The same with the temporary directory in `parent` (`env!("CARGO_TARGET_TMPDIR")`
/// for a test that must not write to /tmp).
pub fn root_test_in(name: &str, parent: &Path) -> Option<RootTest> {
    if !require_root(name) {
        return None;
    }
    let alone = serial();
    let before = host_state();
    let dir = tempfile::tempdir_in(parent).unwrap();
    Some(RootTest { dir, before, _alone: alone })
}

impl RootTest {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A BusyBox root filesystem in the test's directory (`busybox_rootfs`).
    pub fn busybox(&self) -> PathBuf {
        busybox_rootfs(self.path())
    }

    /// Assert that the host is as it was when the test started, naming what changed.
    pub fn assert_same_host(&self, when: &str) {
        assert_same_host(&self.before, &host_state(), when);
    }
}

/// Poll `done` every 10 ms until it holds or `within` has passed; whether it held.
/// What a test waits for is a state (a status, a file, a process gone), never a time:
/// `assert!(wait_until(Duration::from_secs(5), || ...), "what did not happen")`.
pub fn wait_until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Wait until `stderr` of a spawned child prints `marker`, reading it line by line.
pub fn wait_for_line(reader: &mut impl std::io::BufRead, marker: &str) -> String {
    let mut seen = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => panic!("the process ended before printing {marker:?}; it printed:\n{seen}"),
            Ok(_) => {
                seen.push_str(&line);
                if line.contains(marker) {
                    return seen;
                }
            }
        }
    }
}

/// A BusyBox root filesystem in a temporary directory, built by the real rootfs-fetch
/// code from the host's static busybox (what `learnctr rootfs fetch busybox` does).
pub fn busybox_rootfs(dir: &std::path::Path) -> PathBuf {
    let store = rootfs_fetch::Store::with_dirs(dir.join("cache"), dir.join("rootfs"));
    store.build_busybox(None).unwrap_or_else(|e| panic!("cannot build the BusyBox rootfs: {e}")).path
}

/// A root filesystem whose /bin/sh is the host's dynamically linked shell, with the
/// libraries `ldd` names: the lessons must not depend on static binaries.
pub fn dynamic_rootfs(dir: &std::path::Path) -> PathBuf {
    let root = dir.join("dynamic");
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    let ldd = Command::new("ldd").arg(&sh).output().expect("ldd");
    let libs: Vec<String> = text(&ldd)
        .0
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/')).map(str::to_string))
        .collect();
    assert!(!libs.is_empty(), "/bin/sh is not dynamically linked on this host");
    for file in libs.iter().map(PathBuf::from).chain([sh.clone()]) {
        let target = root.join(file.strip_prefix("/").unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
    let sh_inside = PathBuf::from("/").join(sh.strip_prefix("/").unwrap());
    if sh_inside != std::path::Path::new("/bin/sh") {
        std::os::unix::fs::symlink(&sh_inside, root.join("bin/sh")).unwrap();
    }
    std::fs::write(root.join("etc/hostname"), "dynamic\n").unwrap();
    root
}

/// Start learnctr with `args` and wait until it holds, alive, after the checks of
/// `step` (`LEARNCTR_TEST_HOLD`). Its stderr keeps being drained so it never blocks.
pub fn start_held(args: &[&str], step: &str) -> std::process::Child {
    let mut child = learnctr(args)
        .env("LEARNCTR_TEST_HOLD", step)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    wait_for_line(&mut err, "holding at step");
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    child
}

/// Send a signal to a child learnctr.
pub fn signal(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

/// Whether lessons 8 and 10 will compare with runc: runc on the PATH. In CI it must be
/// (`make deps` installs it), so a missing runc fails instead of shrinking the test.
pub fn runc_available() -> bool {
    let found =
        std::env::var("PATH").unwrap_or_default().split(':').any(|d| std::path::Path::new(d).join("runc").is_file());
    assert!(found || std::env::var("CI").as_deref() != Ok("true"), "CI: runc is not installed (make deps installs it)");
    found
}

/// A bundle in `dir` running `args`, with `edit` applied to its config.json.
pub fn bundle(dir: &std::path::Path, args: &[&str], edit: impl FnOnce(&mut serde_json::Value)) -> std::path::PathBuf {
    let b = dir.join("bundle");
    std::fs::create_dir_all(&b).unwrap();
    let rootfs = busybox_rootfs(dir);
    std::fs::rename(&rootfs, b.join("rootfs")).unwrap();
    let out = learnctr(&["spec", "--bundle", b.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let path = b.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = args.iter().map(|a| serde_json::Value::from(*a)).collect();
    edit(&mut config);
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    b
}

pub fn rt(root: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut full = vec!["--root", root.to_str().unwrap()];
    full.extend_from_slice(args);
    learnctr(&full).output().unwrap()
}

/// `create` with stdio that does not wait for the container: the container inherits
/// it (as with runc), so a captured pipe would stay open until the container exits.
pub fn create(root: &std::path::Path, bundle: &std::path::Path, extra: &[&str], id: &str) -> std::process::ExitStatus {
    let mut args = vec!["--root", root.to_str().unwrap(), "create", "--bundle", bundle.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(id);
    let log = std::fs::File::create(root.with_extension("log")).unwrap();
    learnctr(&args).stdout(std::process::Stdio::null()).stderr(log).status().unwrap()
}
pub mod contract_registry;
pub mod engines;
pub mod registry;
