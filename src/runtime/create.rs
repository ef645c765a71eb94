//! `learnctr create`: from a bundle to an init that waits for `start`.
//!
//! 1. check the bundle and refuse what cannot be applied (`refuse.rs`, `resources.rs`),
//!    before anything exists;
//! 2. `ROOT/ID/state.json` with the status `creating` and the cgroup it will use: a
//!    learnctr killed from here on leaves a container `delete --force` removes whole;
//! 3. `exec.fifo`, the cgroup and its limits (on v2 also the device filter);
//! 4. the child, born in the cgroup on v2 (`clone3`) or moved into it on v1, unshares
//!    the namespaces and forks the init (`spawn.rs` the runtime's side, `child.rs` the
//!    child's, then `init.rs`);
//! 5. `state.json` again, `created`, with the init's pid; the pid file.

use super::spawn::spawn_init;
use super::state::{Container, EXEC_FIFO};
use super::{hooks, refuse, resources, timing, Rt, RtError};
use crate::primitives::cgroups::Cgroup;
use crate::primitives::namespaces::Namespace;
use crate::primitives::{process, Kernel, Linux};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};

pub struct CreateOptions<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    /// `--console-socket`: where to send the master side of the container's terminal.
    pub console_socket: Option<&'a Path>,
    /// For `run`: stay the parent of the container (PR_SET_CHILD_SUBREAPER) to wait
    /// for it, and keep our terminal and session.
    pub foreground: bool,
    /// `--systemd-cgroup`: `cgroupsPath` is systemd's `slice:prefix:name`.
    pub systemd_cgroup: bool,
    /// A session keyring of the container's own (runc's default; `--no-new-keyring`
    /// keeps the caller's): keys the host's session holds stay out of reach.
    pub new_keyring: bool,
    /// `--preserve-fds N`: fds 3 to 3+N-1 pass into the container's process.
    pub preserve_fds: i32,
}

fn namespace_of(kind: LinuxNamespaceType) -> Option<Namespace> {
    Some(match kind {
        LinuxNamespaceType::Pid => Namespace::Pid,
        LinuxNamespaceType::Network => Namespace::Net,
        LinuxNamespaceType::Mount => Namespace::Mount,
        LinuxNamespaceType::Ipc => Namespace::Ipc,
        LinuxNamespaceType::Uts => Namespace::Uts,
        LinuxNamespaceType::User => Namespace::User,
        LinuxNamespaceType::Cgroup => Namespace::Cgroup,
        _ => return None,
    })
}

/// Namespaces to join: the kind and the path of its file.
type Joins = Vec<(Namespace, PathBuf)>;

/// The namespaces to make, and those to join (type and path).
fn namespaces(spec: &Spec) -> Rt<(Vec<Namespace>, Joins)> {
    let mut new = Vec::new();
    let mut join = Vec::new();
    for ns in spec.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default() {
        let kind = namespace_of(ns.typ())
            .ok_or_else(|| RtError(format!("the {:?} namespace is not supported by learnctr", ns.typ())))?;
        match ns.path() {
            Some(path) => join.push((kind, path.clone())),
            None => new.push(kind),
        }
    }
    Ok((new, join))
}

/// `learnctr create`: everything up to the user's program; the init then waits for
/// `start`. Returns the container.
pub fn create(k: &dyn Kernel, opts: &CreateOptions) -> Rt<Container> {
    super::check_id(opts.id)?;
    let bundle = std::fs::canonicalize(opts.bundle)
        .map_err(|_| RtError(crate::i18n::tf("runtime.no_bundle", &[("path", &opts.bundle.display())])))?;
    let (spec, rootfs) = super::spec::load(&bundle)?;
    timing::mark("config.json read");
    // 1. Everything that can be refused is refused now, before anything exists.
    let mut notes = refuse::check(&spec)?;
    let (limits, limit_notes) = resources::limits(&spec)?;
    notes.extend(limit_notes);
    let (new, join) = namespaces(&spec)?;
    let spec_hooks = spec.hooks().clone().unwrap_or_default();
    let hooks_of = |list| hooks::from_spec(list).map_err(RtError);
    let (runtime_hooks, prestart, poststart, poststop) = (
        hooks_of(spec_hooks.create_runtime())?,
        hooks_of(spec_hooks.prestart())?,
        hooks_of(spec_hooks.poststart())?,
        hooks_of(spec_hooks.poststop())?,
    );
    hooks_of(spec_hooks.create_container())?;
    hooks_of(spec_hooks.start_container())?;
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false);
    if terminal && !opts.foreground && opts.console_socket.is_none() {
        return Err(RtError("process.terminal is true: give --console-socket, or set \"terminal\": false".into()));
    }
    for note in &notes {
        super::log::warn(note);
    }
    // 2. The state directory, and at once a state.json that names what will exist.
    let dir = Container::dir(opts.root, opts.id);
    std::fs::create_dir_all(opts.root).map_err(|e| RtError(format!("cannot create {}: {e}", opts.root.display())))?;
    if std::fs::create_dir(&dir).is_err() {
        return Err(RtError(crate::i18n::tf("runtime.exists", &[("id", &opts.id)])));
    }
    let mut undo = Undo { dir: Some(dir.clone()), cgroup: None, pid: None };
    // Searchable by the container's user (to reach exec.fifo), listable by root only.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))
        .map_err(|e| RtError(format!("cannot set the mode of {}: {e}", dir.display())))?;
    let cgroup = resources::cgroup_of(&spec, opts.id, opts.systemd_cgroup)?;
    let mut container = Container {
        id: opts.id.to_string(),
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        pid: 0,
        pid_start: 0,
        creator: Some(process::me()),
        created: now(),
        cgroup_dirs: cgroup.dirs(),
        cgroup_name: cgroup.name.clone(),
        cgroup_shared: cgroup.exists(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        prestart,
        poststart,
        poststop,
    };
    container.save(opts.root).map_err(|e| RtError(format!("cannot write the state: {e}")))?;
    // 3. The FIFO `start` opens, the cgroup and its limits.
    let fifo = dir.join(EXEC_FIFO).display().to_string();
    k.mkfifo(&fifo, 0o622)?;
    // Writable by all (as runc makes it): the init opens it after switching to the
    // container's user. Only root can read it, so only root can `start`.
    k.chmod(&fifo, 0o622)?;
    // In a user namespace the init is root *inside*: the FIFO must belong to the host
    // uid that is mapped to it (as runc chowns it), or it cannot open it.
    if let Some((uid, gid)) = root_ids_on_host(&spec) {
        k.chown(&fifo, uid, gid)?;
    }
    // A cgroup that exists already is joined, as runc does, and never removed by us;
    // one of ours is removed by the guard even if its creation stops half-way.
    if !container.cgroup_shared {
        undo.cgroup = Some(cgroup.clone());
    }
    cgroup.create_or_join(k)?;
    cgroup.apply(k, &limits)?;
    timing::mark("cgroups created, limits written");
    if opts.foreground {
        k.set_child_subreaper()?;
    }
    // 4. The child and the init.
    let (pid, start) = spawn_init(k, &spec, &rootfs, &bundle, &dir, &cgroup, &new, &join, &runtime_hooks, opts)?;
    timing::mark("init ready, waiting for start");
    undo.pid = Some(pid);
    // 5. Created.
    container.pid = pid;
    container.pid_start = start;
    container.creator = None;
    container.save(opts.root).map_err(|e| RtError(format!("cannot write the state: {e}")))?;
    if let Some(pid_file) = opts.pid_file {
        super::write_pid_file(pid_file, pid)?;
    }
    undo.forget();
    Ok(container)
}

/// Remove what a failed create made.
struct Undo {
    dir: Option<PathBuf>,
    cgroup: Option<Cgroup>,
    pid: Option<i32>,
}

impl Undo {
    fn forget(&mut self) {
        self.dir = None;
        self.cgroup = None;
        self.pid = None;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            process::kill_stranded(pid);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.remove(&Linux);
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn now() -> String {
    super::state::now_rfc3339()
}

/// With a user namespace: the host uid and gid of root inside.
fn root_ids_on_host(spec: &Spec) -> Option<(u32, u32)> {
    let linux = spec.linux().as_ref()?;
    linux.namespaces().as_ref()?.iter().find(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none())?;
    let host = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.as_deref().unwrap_or(&[]).iter().find(|m| m.container_id() == 0).map(|m| m.host_id())
    };
    Some((host(linux.uid_mappings())?, host(linux.gid_mappings())?))
}

/// The container's state as hooks read it on stdin.
pub(super) fn hook_state(id: &str, status: &str, pid: i32, bundle: &Path, spec: &Spec) -> String {
    let annotations = spec.annotations().clone().unwrap_or_default();
    serde_json::json!({"ociVersion": "1.0.2", "id": id, "status": status, "pid": pid, "bundle": bundle, "annotations": annotations}).to_string()
}
