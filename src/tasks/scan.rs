//! Looking for the learner's objects on this machine by what they are: every process
//! in `/proc` that is not learnctr's own, its status fields, namespaces and root.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A process the learner may have started: not learnctr (any copy of this binary,
/// sealed or not, compared by file), not a kernel thread.
pub struct Process {
    pub pid: i32,
    status: String,
}

impl Process {
    /// A field of `/proc/PID/status`: `NoNewPrivs`, `CapBnd`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.status.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
    }

    /// `/proc/PID/ns/KIND` as the kernel names it: `uts:[4026531838]`.
    pub fn namespace(&self, kind: &str) -> Option<String> {
        link(&format!("/proc/{}/ns/{kind}", self.pid))
    }
}

fn link(path: &str) -> Option<String> {
    std::fs::read_link(path).ok().map(|p| p.display().to_string())
}

/// Every process but learnctr's own and the kernel's.
pub fn learners_processes() -> Vec<Process> {
    let ours = file_id(Path::new("/proc/self/exe"));
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let exe = entry.path().join("exe");
        // A kernel thread has no executable; learnctr's processes run this very file.
        let Some(id) = file_id(&exe) else { continue };
        if Some(id) == ours {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else { continue };
        found.push(Process { pid, status });
    }
    found
}

/// Device and inode of a file (through a link such as /proc/PID/exe).
pub fn file_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The namespace of `kind` learnctr itself is in: the host's, for these checks.
pub fn host_namespace(kind: &str) -> Option<String> {
    link(&format!("/proc/self/ns/{kind}"))
}
