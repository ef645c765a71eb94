//! config.json: writing one like `runc spec`, reading one with precise errors.
//!
//! The `oci-spec` crate holds the types of the OCI runtime specification and reads and
//! writes them with serde. learnctr reads the file itself with `serde_json` so that a
//! mistake is reported with its line and column, then checks what the types cannot:
//! the root filesystem's path.
//!
//! What can be wrong with a bundle, and how each mistake is worded, is `spec_error.rs`.

use super::spec_error::{JsonError, JsonProblem, SpecError};
use crate::i18n::{io_reason, tf};
use oci_spec::runtime::Spec;
use std::path::{Component, Path, PathBuf};

/// The `config.json` that `runc spec` writes (the one in the course notes): `sh` on a
/// terminal, three capabilities (bounding, effective, permitted; no inheritable, and
/// here no ambient either: see below), no_new_privs, a read-only root at `rootfs`, the standard mounts,
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
            // The one difference from runc spec, on purpose: runc spec names the three
            // capabilities as ambient too, which the kernel never raises (nothing is
            // inheritable; runc 1.1 ignores the failure). learnctr's runtime would say
            // so at every run, so its spec does not ask for them (lesson 6).
            caps.set_ambient(None);
            process.set_capabilities(Some(caps));
        }
        spec.set_process(Some(process));
    }
    let v2 = crate::primitives::cgroups::hierarchy::detect_mode() == crate::primitives::cgroups::Mode::Unified;
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
/// The bundle must be an existing directory; config.json is written whole or not at
/// all (a temporary file, removed when anything fails, then renamed), and errors name
/// the bundle, never the temporary file.
pub fn write(bundle: &Path, rootless: bool) -> Result<PathBuf, SpecError> {
    let said = |key: &str| SpecError::Io(tf(key, &[("path", &bundle.display())]));
    let cannot = |e: std::io::Error| {
        SpecError::Io(tf("runtime.spec_cannot_write", &[("dir", &bundle.display()), ("reason", &io_reason(&e))]))
    };
    match std::fs::metadata(bundle) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(said("runtime.spec_no_bundle")),
        Err(e) => return Err(cannot(e)),
        Ok(m) if !m.is_dir() => return Err(said("runtime.spec_not_dir")),
        Ok(_) => {}
    }
    let path = bundle.join("config.json");
    if path.symlink_metadata().is_ok() {
        return Err(SpecError::Io(tf("runtime.spec_exists", &[("path", &path.display())])));
    }
    let spec = default_spec(rootless)?;
    let mut value = serde_json::to_value(&spec).map_err(|e| SpecError::Io(e.to_string()))?;
    // oci-spec keeps each capability set in a HashSet, which serialises in a different
    // order on each run; runc writes them sorted, and so does learnctr.
    if let Some(sets) = value["process"]["capabilities"].as_object_mut() {
        for set in sets.values_mut().filter_map(|v| v.as_array_mut()) {
            set.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    let json = serde_json::to_string_pretty(&value).map_err(|e| SpecError::Io(e.to_string()))?;
    let tmp = bundle.join(".config.json.tmp");
    let written = std::fs::write(&tmp, json + "\n").and_then(|_| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(cannot(e));
    }
    Ok(path)
}

/// Read and check `BUNDLE/config.json`; returns the spec and the root filesystem's
/// absolute path.
pub fn load(bundle: &Path) -> Result<(Spec, PathBuf), SpecError> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|_| SpecError::Missing(path.clone()))?;
    let json_error = |e: &serde_json::Error, field: String| {
        let message = e.to_string().split(" at line ").next().unwrap_or("").to_string();
        let problem = JsonProblem::of(e.classify(), &message);
        SpecError::Json(Box::new(JsonError {
            path: path.clone(),
            line: e.line(),
            column: e.column(),
            field,
            problem,
            message,
        }))
    };
    // serde_path_to_error names the field an error is in (`process.terminal`).
    let mut de = serde_json::Deserializer::from_str(&text);
    let spec: Spec =
        serde_path_to_error::deserialize(&mut de).map_err(|e| json_error(e.inner(), e.path().to_string()))?;
    de.end().map_err(|e| json_error(&e, String::new()))?;
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
    use super::super::spec_error::{Found, Kind, Syntax};
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

    /// What lesson 8 shows: each mistake read into its parts, then worded by a table.
    #[test]
    fn a_mistake_is_read_into_place_field_and_problem() {
        let json = |config: &str| match load(bundle_with(config).path()) {
            Err(SpecError::Json(e)) => {
                let JsonError { line, column, field, problem, .. } = *e;
                (line, column, field, problem)
            }
            other => panic!("{other:?}"),
        };
        let (line, _, _, problem) = json("{\n  ociVersion: \"1.0.2\"\n}");
        assert_eq!((line, problem), (2, JsonProblem::Syntax(Syntax::KeyNotString)));
        let (_, _, field, problem) = json(r#"{"ociVersion":"1.0.2","process":{"cwd":"/","terminal":"no"}}"#);
        assert_eq!(field, "process.terminal");
        let found = Found { kind: Some(Kind::String), text: Some("\"no\"".into()) };
        assert_eq!(problem, JsonProblem::WrongType { found, expected: Kind::Bool });
        let (_, _, field, problem) = json(r#"{"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"utc"}]}}"#);
        assert_eq!(field, "linux.namespaces[0].type");
        assert!(
            matches!(problem, JsonProblem::UnknownVariant { ref value, ref allowed }
            if value == "utc" && allowed.contains(&"uts".to_string())),
            "{problem:?}"
        );
        let (_, _, _, problem) = json(r#"{"ociVersion":"1.0.2","process":{"cwd":"/","args":"sh"}}"#);
        assert!(matches!(problem, JsonProblem::WrongType { expected: Kind::Array, .. }), "{problem:?}");
        let (_, _, _, problem) = json("{\"ociVersion\": \"1.0.2\",}");
        assert_eq!(problem, JsonProblem::Syntax(Syntax::TrailingComma));
        // The table's words, placeholders filled; the English runtime message stays.
        let dir = bundle_with(r#"{"ociVersion":"1.0.2","process":{"cwd":"/","terminal":"no"}}"#);
        let err = load(dir.path()).unwrap_err();
        let words = |k: &str| match k {
            "spec.place" => "{file} L{line} C{column}".to_string(),
            "json.wrong_type" => "{field}: {expected} / {found}".to_string(),
            "json.found.string" => "S {value}".to_string(),
            other => other.to_string(),
        };
        assert!(err.describe(&words).ends_with(": process.terminal: json.kind.bool / S \"no\""));
        assert!(err.to_string().contains("invalid type"), "{err}");
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
