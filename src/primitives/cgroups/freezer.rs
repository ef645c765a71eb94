//! Freezing a cgroup (`pause`/`resume`): every process in it stops where it is, with
//! no signal it could catch, and goes on when thawed. v2 has `cgroup.freeze` (`1` or
//! `0`) and reports the result as `frozen 1` in `cgroup.events`; v1 has the freezer
//! controller's `freezer.state` (`FROZEN`, `THAWED`, and `FREEZING` on the way).

use super::super::error::{Error, Result};
use super::super::kernel::Kernel;
use std::path::{Path, PathBuf};

/// The file that freezes one of a container's cgroup directories, and whether it is
/// v2's `cgroup.freeze`.
fn control(dirs: &[PathBuf]) -> Option<(PathBuf, bool)> {
    dirs.iter().find_map(|d| {
        let v2 = d.join("cgroup.freeze");
        let v1 = d.join("freezer.state");
        if v2.exists() {
            Some((v2, true))
        } else if v1.exists() {
            Some((v1, false))
        } else {
            None
        }
    })
}

/// Whether the cgroup is frozen now.
pub fn is_frozen(dirs: &[PathBuf]) -> bool {
    match control(dirs) {
        Some((file, true)) => frozen_v2(file.parent().unwrap_or(Path::new("/"))),
        Some((file, false)) => std::fs::read_to_string(file).is_ok_and(|s| s.trim() == "FROZEN"),
        None => false,
    }
}

fn frozen_v2(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.events")).is_ok_and(|s| s.lines().any(|l| l.trim() == "frozen 1"))
}

/// Freeze or thaw, and wait (at most 2 s) until the kernel says it is done: freezing
/// finishes only once every task has stopped.
pub fn set(k: &dyn Kernel, dirs: &[PathBuf], frozen: bool) -> Result<()> {
    let (file, v2) = control(dirs).ok_or_else(|| {
        Error::Child("this container's cgroup has no freezer (no cgroup.freeze, no freezer.state)".into())
    })?;
    let value = match (v2, frozen) {
        (true, true) => "1",
        (true, false) => "0",
        (false, true) => "FROZEN",
        (false, false) => "THAWED",
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        // v1 may answer FREEZING and need the write again (runc writes it in a loop).
        k.write_file(&file.display().to_string(), value)?;
        if is_frozen(dirs) == frozen {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            let what = if frozen { "freeze" } else { "thaw" };
            return Err(Error::Child(format!("the cgroup did not {what} within 2 seconds")));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
