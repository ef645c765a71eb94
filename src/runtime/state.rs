//! The state of a container, kept in `ROOT/ID/state.json` (`--root`, default
//! `/run/learnctr`), and what `learnctr state` prints (the OCI state: ociVersion, id,
//! status, pid, bundle, annotations).

use crate::primitives::process;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_ROOT: &str = "/run/learnctr";

/// The name of the FIFO the container's init waits on between `create` and `start`.
pub const EXEC_FIFO: &str = "exec.fifo";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// The container's process (PID 1 inside), and its start time (a reused pid is
    /// never mistaken for it).
    pub pid: i32,
    pub pid_start: u64,
    /// While `create` runs: the learnctr that creates it (pid, start time). If that
    /// process dies first, the container is `stopped` and `delete --force` removes
    /// what it had made.
    #[serde(default)]
    pub creator: Option<(i32, u64)>,
    pub created: String,
    pub cgroup_dirs: Vec<PathBuf>,
    /// The cgroup's path below each hierarchy's root (for `update`).
    #[serde(default)]
    pub cgroup_name: String,
    /// The cgroup existed before (a pod's, named by `cgroupsPath`): the container
    /// joined it, and `delete` leaves it and the other processes in it alone.
    #[serde(default)]
    pub cgroup_shared: bool,
    pub annotations: HashMap<String, String>,
    /// Hooks to run at start and at delete, copied from config.json at create.
    #[serde(default)]
    pub prestart: Vec<super::hooks::Hook>,
    pub poststart: Vec<super::hooks::Hook>,
    pub poststop: Vec<super::hooks::Hook>,
}

/// The OCI state, as `state` prints it and hooks read it on stdin.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub status: &'a str,
    pub pid: i32,
    pub bundle: &'a Path,
    /// runc's two extra fields, which containerd's go-runc reads (`created` as an
    /// RFC 3339 time).
    pub rootfs: &'a Path,
    pub created: &'a str,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: &'a HashMap<String, String>,
}

/// Container ids: letters, digits, `_ + - .`, as runc allows; `journal` is learnctr's
/// own folder in the default root.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id != "journal"
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c))
}

impl Container {
    pub fn dir(root: &Path, id: &str) -> PathBuf {
        root.join(id)
    }

    pub fn load(root: &Path, id: &str) -> Option<Container> {
        let text = std::fs::read(Self::dir(root, id).join("state.json")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Save atomically: a temporary file, then rename.
    pub fn save(&self, root: &Path) -> std::io::Result<()> {
        let dir = Self::dir(root, &self.id);
        let tmp = dir.join(".state.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        std::fs::rename(tmp, dir.join("state.json"))
    }

    /// creating: `create` still runs; created: init runs and still waits on the
    /// FIFO; running: it has exec'd the container's process; paused: its cgroup is
    /// frozen; stopped: that process is gone (or `create` died before it finished).
    pub fn status(&self, root: &Path) -> &'static str {
        if let Some((pid, start)) = self.creator {
            return if process::still_running(pid, start) { "creating" } else { "stopped" };
        }
        if !alive(self.pid, self.pid_start) {
            "stopped"
        } else if Self::dir(root, &self.id).join(EXEC_FIFO).exists() {
            "created"
        } else if crate::primitives::cgroups::freezer::is_frozen(&self.cgroup_dirs) {
            "paused"
        } else {
            "running"
        }
    }

    pub fn oci<'a>(&'a self, status: &'a str) -> OciState<'a> {
        OciState {
            oci_version: "1.0.2",
            id: &self.id,
            status,
            pid: self.pid,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            annotations: &self.annotations,
        }
    }
}

/// Alive and not a zombie.
pub fn alive(pid: i32, start: u64) -> bool {
    if !process::still_running(pid, start) {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next()).unwrap_or("");
    state != "Z" && state != "X"
}

/// Every container under a root.
pub fn list(root: &Path) -> Vec<Container> {
    let mut out: Vec<Container> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|id| Container::load(root, &id))
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_follow_runc() {
        for ok in ["abc", "my-container_1", "a.b+c"] {
            assert!(super::valid_id(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "journal", "x y", "é"] {
            assert!(!super::valid_id(bad), "{bad}");
        }
    }
}

/// The current UTC time in RFC 3339 with nanoseconds, as runc and logrus write it.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

/// Seconds since 1970 as a UTC date (Howard Hinnant's civil-from-days).
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn times_are_rfc3339_in_utc() {
        assert_eq!(super::rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(super::rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(super::rfc3339(1_796_083_199, 0), "2026-11-30T23:59:59.000000000Z");
    }
}
