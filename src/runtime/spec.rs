//! config.json: writing one like `runc spec`, reading one with precise errors.
//!
//! The `oci-spec` crate holds the types of the OCI runtime specification and reads and
//! writes them with serde. learnctr reads the file itself with `serde_json` so that a
//! mistake is reported with its line and column, then checks what the types cannot:
//! the root filesystem's path.

use oci_spec::runtime::Spec;
use std::path::{Component, Path, PathBuf};

/// Why a bundle cannot be used: one sentence each (the CLI prints `Display`).
#[derive(Debug)]
pub enum SpecError {
    Missing(PathBuf),
    /// Bad JSON or a wrong type: serde's message, with line and column.
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    NoRoot,
    RootfsMissing(PathBuf),
    RootfsEscapes(String),
    Io(String),
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpecError::Missing(p) => write!(f, "there is no {}: run `learnctr spec` in the bundle first", p.display()),
            SpecError::Json { path, line, column, message } => {
                write!(f, "{} line {line}, column {column}: {message}", path.display())
            }
            SpecError::NoRoot => write!(f, "config.json has no \"root\": add \"root\": {{\"path\": \"rootfs\"}}"),
            SpecError::RootfsMissing(p) => {
                write!(
                    f,
                    "the root filesystem {} does not exist: unpack one there (learnctr rootfs export, then tar -xzf)",
                    p.display()
                )
            }
            SpecError::RootfsEscapes(p) => {
                write!(f, "root.path \"{p}\" leaves the bundle with \"..\": give a path inside the bundle, such as \"rootfs\"")
            }
            SpecError::Io(what) => write!(f, "{what}"),
        }
    }
}

/// The `config.json` that `runc spec` writes (the one in the course notes): `sh` on a
/// terminal, three capabilities (bounding, effective, permitted; no inheritable and
/// no ambient), no_new_privs, a read-only root at `rootfs`, the standard mounts,
/// masked and read-only paths, a rule that denies every device, and five namespaces
/// (pid, network, ipc, uts, mount) plus cgroup on a cgroup v2 host, as runc adds it.
/// `rootless` maps root to the calling user, drops the network namespace and the
/// cgroup limits, as `runc spec --rootless` does. A test diffs it with the installed
/// `runc spec`.
pub fn default_spec(rootless: bool) -> Result<Spec, SpecError> {
    let mut spec = if rootless {
        let uid = std::env::var("SUDO_UID")
            .ok()
            .and_then(|u| u.parse().ok())
            .unwrap_or_else(|| nix::unistd::getuid().as_raw());
        let gid = std::env::var("SUDO_GID")
            .ok()
            .and_then(|g| g.parse().ok())
            .unwrap_or_else(|| nix::unistd::getgid().as_raw());
        Spec::rootless(uid, gid)
    } else {
        Spec::default()
    };
    spec.set_hostname(Some("runc".to_string()));
    // oci-spec's default differs from runc spec's in four places: terminal, an
    // inheritable set, a cgroup namespace on every host, and empty annotations.
    if spec.annotations().as_ref().is_some_and(|a| a.is_empty()) {
        spec.set_annotations(None);
    }
    if let Some(process) = spec.process().clone() {
        let mut process = process;
        process.set_terminal(Some(true));
        if let Some(caps) = process.capabilities().clone() {
            let mut caps = caps;
            caps.set_inheritable(None);
            process.set_capabilities(Some(caps));
        }
        spec.set_process(Some(process));
    }
    let v2 = crate::primitives::cgroups::layout::detect_mode() == crate::primitives::cgroups::layout::Mode::Unified;
    if let Some(linux) = spec.linux().clone() {
        let mut linux = linux;
        let namespaces = linux.namespaces().clone().unwrap_or_default();
        let namespaces =
            namespaces.into_iter().filter(|n| v2 || n.typ() != oci_spec::runtime::LinuxNamespaceType::Cgroup).collect();
        linux.set_namespaces(Some(namespaces));
        spec.set_linux(Some(linux));
    }
    // runc spec's one device rule: deny every device; the runtime then allows the
    // few every container needs (/dev/null, /dev/zero, ..., the ptys). oci-spec's
    // default has no rule, which would mean no device control at all.
    if let Some(linux) = spec.linux().clone() {
        let mut linux = linux;
        let deny_all = oci_spec::runtime::LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .map_err(|e| SpecError::Io(e.to_string()))?;
        let mut resources = linux.resources().clone().unwrap_or_default();
        resources.set_devices(Some(vec![deny_all]));
        linux.set_resources(Some(resources));
        spec.set_linux(Some(linux));
    }
    Ok(spec)
}

/// A namespace config.json asks to create (no `path` to join).
pub fn new_namespace(spec: &Spec, kind: oci_spec::runtime::LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == kind && n.path().is_none()))
}

/// A namespace config.json names, new or joined.
pub fn has_namespace(spec: &Spec, kind: oci_spec::runtime::LinuxNamespaceType) -> bool {
    spec.linux().as_ref().and_then(|l| l.namespaces().as_ref()).is_some_and(|ns| ns.iter().any(|n| n.typ() == kind))
}

/// Whether this host enforces AppArmor profiles.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.trim() == "Y")
}

/// Write `BUNDLE/config.json` (refusing to overwrite one, as runc does).
pub fn write(bundle: &Path, rootless: bool) -> Result<PathBuf, SpecError> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(SpecError::Io(format!("{} already exists: remove it first to write a new one", path.display())));
    }
    let spec = default_spec(rootless)?;
    let json = serde_json::to_string_pretty(&spec).map_err(|e| SpecError::Io(e.to_string()))?;
    let tmp = bundle.join(".config.json.tmp");
    std::fs::write(&tmp, json + "\n").map_err(|e| SpecError::Io(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, &path).map_err(|e| SpecError::Io(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// Read and check `BUNDLE/config.json`; returns the spec and the root filesystem's
/// absolute path.
pub fn load(bundle: &Path) -> Result<(Spec, PathBuf), SpecError> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|_| SpecError::Missing(path.clone()))?;
    let spec: Spec = serde_json::from_str(&text).map_err(|e| SpecError::Json {
        path: path.clone(),
        line: e.line(),
        column: e.column(),
        message: e.to_string().split(" at line ").next().unwrap_or("").to_string(),
    })?;
    let root = spec.root().as_ref().ok_or(SpecError::NoRoot)?;
    let rootfs = root.path();
    if rootfs.components().any(|c| c == Component::ParentDir) {
        return Err(SpecError::RootfsEscapes(rootfs.display().to_string()));
    }
    let rootfs = if rootfs.is_absolute() { rootfs.clone() } else { bundle.join(rootfs) };
    if !rootfs.is_dir() {
        return Err(SpecError::RootfsMissing(rootfs));
    }
    Ok((spec, rootfs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(config: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        dir
    }

    #[test]
    fn the_default_is_shaped_like_runc_spec() {
        let spec = default_spec(false).unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["hostname"], "runc");
        assert_eq!(json["root"]["path"], "rootfs");
        assert_eq!(json["process"]["args"][0], "sh");
        assert_eq!(json["process"]["noNewPrivileges"], true);
        let caps = json["process"]["capabilities"]["bounding"].as_array().unwrap();
        assert_eq!(caps.len(), 3);
        let ns: Vec<&str> =
            json["linux"]["namespaces"].as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap()).collect();
        for kind in ["pid", "network", "ipc", "uts", "mount"] {
            assert!(ns.contains(&kind), "{ns:?}");
        }
        assert!(json["linux"]["maskedPaths"].as_array().unwrap().iter().any(|p| p == "/proc/kcore"));
    }

    #[test]
    fn bad_json_is_reported_with_line_and_column() {
        let dir = bundle_with("{\n  \"ociVersion\": \"1.0.2\",\n  \"root\": {\"path\": \"rootfs\",}\n}");
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("line 3, column"), "{err}");
    }

    #[test]
    fn a_wrong_type_and_an_unknown_namespace_are_named() {
        let dir = bundle_with(r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":"sh"}}"#);
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("invalid type") && err.contains("column"), "{err}");
        let dir =
            bundle_with(r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"time2"}]}}"#);
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("time2"), "{err}");
    }

    #[test]
    fn the_rootfs_must_exist_and_stay_inside() {
        let dir = bundle_with(r#"{"ociVersion":"1.0.2","root":{"path":"../elsewhere"}}"#);
        assert!(matches!(load(dir.path()), Err(SpecError::RootfsEscapes(_))));
        let dir = bundle_with(r#"{"ociVersion":"1.0.2","root":{"path":"missing"}}"#);
        assert!(matches!(load(dir.path()), Err(SpecError::RootfsMissing(_))));
        let dir = bundle_with(r#"{"ociVersion":"1.0.2"}"#);
        assert!(matches!(load(dir.path()), Err(SpecError::NoRoot)));
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(load(dir.path()), Err(SpecError::Missing(_))));
    }

    #[test]
    fn write_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), false).unwrap();
        assert!(write(dir.path(), false).is_err());
        let (spec, _) = {
            std::fs::create_dir(dir.path().join("rootfs")).unwrap();
            load(dir.path()).unwrap()
        };
        assert_eq!(spec.hostname().as_deref(), Some("runc"));
    }
}
