//! The same bundle run by learnctr and by runc, and what each container says from
//! inside (lessons 8 and 10, when runc is installed).
//!
//! Both run `config.json` unchanged but for the program: a shell script that prints
//! what the course measured in each lesson — hostname, its own PID, the mount points,
//! the capability sets, no_new_privs, the seccomp mode, the cgroup limits, the
//! interfaces, its ids — as `key=value` lines. learnctr runs as its own binary
//! (`learnctr run`), exactly as a learner would type it; runc gets its own state
//! directory. Any line that differs is shown as a difference: the claim is that
//! there is none.

use crate::course::{Ctx, Failure};
use crate::host::journal::{Journal, Object};
use crate::primitives::cgroups::{self, hierarchy};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the container prints, one `key=value` per line.
pub const PROBE: &str = r#"echo "hostname=$(hostname)"
echo "pid=$$"
echo "mounts=$(awk '{print $5}' /proc/self/mountinfo | sort | tr '\n' ' ')"
echo "bounding=$(awk '/^CapBnd/{print $2}' /proc/self/status)"
echo "effective=$(awk '/^CapEff/{print $2}' /proc/self/status)"
echo "no_new_privs=$(awk '/^NoNewPrivs/{print $2}' /proc/self/status)"
echo "seccomp=$(awk '/^Seccomp:/{print $2}' /proc/self/status)"
echo "memory=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null)"
echo "pids=$(cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max 2>/dev/null)"
echo "interfaces=$(ls /sys/class/net | tr '\n' ' ')"
echo "ids=$(id -u):$(id -g)"
"#;

/// The keys, in the order they are shown.
pub const KEYS: [&str; 11] = [
    "hostname",
    "pid",
    "mounts",
    "bounding",
    "effective",
    "no_new_privs",
    "seccomp",
    "memory",
    "pids",
    "interfaces",
    "ids",
];

/// runc on this machine, if any.
pub fn runc() -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join("runc")).find(|p| p.is_file())
}

/// One row: what learnctr's container said, what runc's said.
pub struct Row {
    pub key: &'static str,
    pub learnctr: String,
    pub runc: String,
}

impl Row {
    pub fn differs(&self) -> bool {
        self.learnctr != self.runc
    }
}

/// Run the bundle in `bundle` (its config.json is rewritten to run the probe, with its
/// cgroups under `learnctr/ID`) with both runtimes, one after the other.
pub fn compare(bundle: &Path, runc: &Path, id: &str) -> Result<Vec<Row>, Failure> {
    let config_path = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&config_path)?)
        .map_err(|e| Failure::new(format!("{}: {e}", config_path.display())))?;
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = serde_json::json!(["sh", "-c", PROBE]);
    let cgroups_path = format!("/learnctr/{id}");
    config["linux"]["cgroupsPath"] = cgroups_path.clone().into();
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).map_err(|e| Failure::new(e.to_string()))?)?;
    // This very binary. Not current_exe(): a sealed learnctr (runtime/sealed.rs) runs
    // through a detached mount, whose path reads as "/"; the magic link still leads
    // to the file.
    let learnctr = PathBuf::from("/proc/self/exe");
    let ours = run_probe(&learnctr, bundle, &format!("{id}-learnctr"))?;
    let theirs = run_probe(runc, bundle, &format!("{id}-runc"));
    // runc removes its container's cgroup but not the `learnctr` parents it made in
    // hierarchies learnctr does not use (name=systemd, blkio, ...): remove those too.
    remove_cgroups_everywhere(&cgroups_path);
    let theirs = theirs?;
    Ok(KEYS
        .iter()
        .map(|key| Row {
            key,
            learnctr: ours.get(*key).cloned().unwrap_or_default(),
            runc: theirs.get(*key).cloned().unwrap_or_default(),
        })
        .collect())
}

/// `RUNTIME --root DIR run --bundle B ID`, with a journaled state directory of its own.
fn run_probe(runtime: &Path, bundle: &Path, id: &str) -> Result<BTreeMap<String, String>, Failure> {
    let root = PathBuf::from(format!("/run/learnctr-{id}"));
    let _entry = Journal::system().record(Object::Dir { path: root.clone() })?;
    let out = std::process::Command::new(runtime)
        .args(["--root", &root.display().to_string(), "run", "--bundle", &bundle.display().to_string(), id])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output();
    let _ = std::fs::remove_dir_all(&root);
    let out = out.map_err(|e| Failure::new(format!("{}: {e}", runtime.display())))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Failure::new(format!("{} run: {}", runtime.display(), why.trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect())
}

/// `/sys/fs/cgroup/[HIERARCHY/]PATH` in every hierarchy, then its empty `learnctr`
/// parent.
fn remove_cgroups_everywhere(path: &str) {
    let relative = path.trim_start_matches('/');
    let mut roots = vec![PathBuf::from(hierarchy::ROOT)];
    roots.extend(std::fs::read_dir(hierarchy::ROOT).into_iter().flatten().flatten().map(|e| e.path()));
    for root in roots {
        let dir = root.join(relative);
        if dir.is_dir() {
            let _ = cgroups::remove_dir(&crate::primitives::Linux, &dir);
        }
        // runc removed its own cgroup, not the parents it made: remove them if empty.
        for parent in dir.ancestors().skip(1).take_while(|p| p.starts_with(&root) && *p != root) {
            if cgroups::remove::is_parent(parent) {
                let _ = cgroups::remove_dir(&crate::primitives::Linux, parent);
            }
        }
    }
}

/// The step of lessons 8 and 10: run the bundle with both, show the rows, check that no
/// line differs. Without runc, say how to get it (and check nothing).
pub fn step(ctx: &mut Ctx, bundle: &Path, id: &str) -> Result<(), Failure> {
    let Some(runc) = runc() else {
        ctx.fact("label.runc", ctx.s("value.runc_missing"));
        return Ok(());
    };
    ctx.fact("label.runc", runc.display());
    let rows = compare(bundle, &runc, id)?;
    ctx.columns = Some(("learnctr".to_string(), "runc".to_string()));
    for row in &rows {
        let mark = if row.differs() { " ≠" } else { "" };
        let label = crate::i18n::t(&format!("compare.{}", row.key));
        ctx.observe_raw(&format!("{label}{mark}"), &row.learnctr, &row.runc);
    }
    let differing: Vec<&str> = rows.iter().filter(|r| r.differs()).map(|r| r.key).collect();
    ctx.check(
        "check.runc.same",
        differing.is_empty(),
        if differing.is_empty() { "—".into() } else { differing.join(" ") },
    );
    Ok(())
}
