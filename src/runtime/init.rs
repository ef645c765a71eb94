//! The container's init: what runs in the new namespaces, from `config.json` to the
//! `execve` of the container's process. The order is runc's (and youki's); each step
//! names what it guards against.
//!
//! 1. mount propagation of `/` made a slave (runc's default; `rootfsPropagation`'s choice
//!    after pivot_root) before any mount — otherwise mounts leak to the host (lesson 3);
//! 2. the rootfs bound onto itself, then every `mounts` entry inside it;
//! 3. `/dev`: default devices and `linux.devices`, the standard symlinks (lesson 4);
//! 4. createRuntime hooks (run by the runtime), createContainer hooks (here); prestart
//!    hooks run later, at `start` (runtime spec 1.0.2);
//! 5. `pivot_root`, old root detached — no path back to the host (lesson 3); without
//!    a mount namespace, `chroot` (the host's mounts are the container's then);
//! 6. hostname, domainname and sysctls (`sysctl.rs` said which are allowed), while
//!    `/proc/sys` can still be written;
//! 7. masked and read-only paths of `/proc` and `/sys` (lesson 4); a read-only root;
//! 8. `lo` up in a new network namespace, rlimits, oom_score_adj, I/O priority;
//! 9. no_new_privs; seccomp now only without it (it needs CAP_SYS_ADMIN);
//! 10. capabilities, bounding set first, around the switch to the configured user
//!     (PR_SET_KEEPCAPS keeps them across setuid) (lesson 6); umask;
//! 11. cwd, then `getcwd` must answer a path inside the root (CVE-2024-21626: a host
//!     directory's fd leaked into the init, used as cwd through `/proc/self/fd/N`, gave
//!     the container the host's files), every fd above 2 close-on-exec;
//! 12. wait for `start` on `exec.fifo`, then startContainer hooks;
//! 13. seccomp last with no_new_privs, and `execve`.
//!
//! CVE-2019-5736 (a container overwriting the runtime's binary through /proc/PID/exe):
//! this init is not dumpable (`PR_SET_DUMPABLE` 0), which keeps a container without
//! CAP_SYS_PTRACE from opening its exe, and it runs from a read-only copy of learnctr
//! (`sealed.rs`), which keeps everyone from writing it.

use super::spec::{has_namespace, new_namespace};
use crate::primitives::capabilities::Mask;
use crate::primitives::cgroups::Cgroup;
use crate::primitives::kernel::Call;
use crate::primitives::mountinfo;
use crate::primitives::mounts::{self, parse_options};
use crate::primitives::{chroot_and_pivot, devices, masked_paths, seccomp, Error, Kernel, Result};
use nix::mount::MsFlags;
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};
use std::path::{Path, PathBuf};

/// What the init needs besides config.json.
pub struct Context<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    /// The container's cgroup: without a cgroup namespace, `/sys/fs/cgroup` inside is
    /// a bind of its own directories, never the host's tree.
    pub cgroup: &'a Cgroup,
    pub new_cgroup_ns: bool,
    /// Waits until the runtime has moved us into the container's cgroups, then
    /// unshares the cgroup namespace (its root is the cgroup we are in). Called before
    /// the first cgroup mount, or after all mounts: the mounts before it are made while
    /// the runtime waits for the kernel (see `spawn_init`).
    pub enter_cgroup: &'a dyn Fn() -> Result<()>,
    /// Runs the runtime's hooks (asks the parent to, and waits).
    pub runtime_hooks: &'a dyn Fn() -> Result<()>,
    pub hook_state: String,
}

/// Steps 1 to 8: the root filesystem and the namespaces' settings (then `drop_privileges`).
pub fn prepare(k: &dyn Kernel, c: &Context) -> Result<()> {
    k.invoke(Call::SetDumpable { on: false })?;
    let spec = c.spec;
    let linux = spec.linux().clone().unwrap_or_default();
    let root = c.rootfs.to_string_lossy().to_string();
    let new_mount_ns = has_namespace(spec, LinuxNamespaceType::Mount);
    let entered = std::cell::Cell::new(false);
    if new_mount_ns {
        // 1. No mount of ours may reach the host: every mount becomes a slave, as runc
        // does unless rootfsPropagation says otherwise — the host's later mounts still
        // arrive, ours never leave. (A chosen rootfsPropagation is applied after
        // pivot_root, below.)
        k.mount(None, "/", None, MsFlags::MS_REC | MsFlags::MS_SLAVE, None)?;
        // 2. The rootfs, then the mounts.
        chroot_and_pivot::bind_onto_itself(k, &root)?;
        for m in spec.mounts().as_deref().unwrap_or(&[]) {
            let cgroupfs = matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2"));
            if cgroupfs && !entered.get() {
                (c.enter_cgroup)()?;
                entered.set(true);
            }
            mount_entry(k, c, m)?;
        }
        // 3. /dev, when config.json gives it a tmpfs of its own.
        let dev_is_tmpfs = spec
            .mounts()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .any(|m| m.destination() == Path::new("/dev") && m.typ().as_deref() == Some("tmpfs"));
        if dev_is_tmpfs {
            make_devices(k, c.rootfs, &linux, has_namespace(spec, LinuxNamespaceType::User))?;
        }
    }
    if !entered.get() {
        (c.enter_cgroup)()?;
    }
    // 4. Hooks.
    (c.runtime_hooks)()?;
    let hooks = spec.hooks().clone().unwrap_or_default();
    let create_container = super::hooks::from_spec(hooks.create_container()).map_err(Error::Child)?;
    super::hooks::run_all(&create_container, &c.hook_state).map_err(Error::Child)?;
    if new_mount_ns {
        // 5. pivot_root, then the propagation the bundle asked for.
        chroot_and_pivot::pivot_into(k, &root)?;
        if let Some(flag) = linux.rootfs_propagation().as_deref().and_then(mounts::propagation_flag) {
            k.mount(None, "/", None, flag, None)?;
        }
        // A working directory the image lacks is made, as runc makes it (we are inside
        // the new root now: no path can lead out of it).
        if let Some(process) = spec.process() {
            let mut dir = PathBuf::from("/");
            for part in process.cwd().components().filter(|c| matches!(c, std::path::Component::Normal(_))) {
                dir.push(part);
                if dir.symlink_metadata().is_err() {
                    k.mkdir(&dir.to_string_lossy(), 0o755)?;
                }
            }
        }
    } else {
        // 5 without a mount namespace: the host's mount table is the container's, so
        // nothing can be pivoted; the root filesystem is still its root, by chroot (as
        // runc does). `refuse.rs` has said that config.json's mounts are not made.
        chroot_and_pivot::chroot_into(k, &root)?;
    }
    // 6. Hostname, domainname, sysctls: before /proc/sys becomes read-only (runc's
    // order). refuse.rs has checked that each belongs to a namespace of the container.
    if has_namespace(spec, LinuxNamespaceType::Uts) {
        if let Some(name) = spec.hostname() {
            k.sethostname(name)?;
        }
        if let Some(name) = spec.domainname() {
            k.invoke(Call::Setdomainname { name: name.clone() })?;
        }
    }
    let mut sysctls: Vec<(String, String)> = linux.sysctl().clone().unwrap_or_default().into_iter().collect();
    sysctls.sort();
    for (key, value) in sysctls {
        k.write_file(&super::sysctl::file_of(&key), &value)?;
    }
    if new_mount_ns {
        // 7. Masked and read-only paths, then a read-only root.
        for p in linux.masked_paths().as_deref().unwrap_or(&[]) {
            masked_paths::mask(k, p)?;
        }
        for p in linux.readonly_paths().as_deref().unwrap_or(&[]) {
            masked_paths::make_read_only(k, p)?;
        }
        if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
            k.mount(
                None,
                "/",
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | masked_paths::existing_flags("/"),
                None,
            )?;
        }
    }
    // 8. Loopback up in a new network namespace (runc does it too: a new namespace has
    // only `lo`, and down), then rlimits, oom_score_adj, I/O priority.
    if new_namespace(spec, LinuxNamespaceType::Network) {
        crate::primitives::netlink::Netlink::open()?.up(k, "lo")?;
    }
    process_limits(k, &spec.process().clone().unwrap_or_default())
}

/// rlimits, oom_score_adj and I/O priority of a process (the init's, or an exec's).
pub fn process_limits(k: &dyn Kernel, process: &oci_spec::runtime::Process) -> Result<()> {
    for rl in process.rlimits().as_deref().unwrap_or(&[]) {
        let name = format!("{:?}", rl.typ());
        let resource = rlimit_number(&name).ok_or_else(|| Error::Child(format!("unknown rlimit {name}")))?;
        k.invoke(crate::primitives::kernel::Call::Setrlimit { resource, name, soft: rl.soft(), hard: rl.hard() })?;
    }
    if let Some(adj) = process.oom_score_adj() {
        k.write_file("/proc/self/oom_score_adj", &adj.to_string())?;
    }
    if let Some(io) = process.io_priority() {
        let class = match format!("{:?}", io.class()).as_str() {
            "IoprioClassRt" => 1,
            "IoprioClassBe" => 2,
            _ => 3,
        };
        k.invoke(Call::IoprioSet { class, level: io.priority() as u32 })?;
    }
    Ok(())
}

/// The seccomp filters still to install right before `execve` (with no_new_privs).
pub struct Pending(Vec<seccomp::Profile>);

/// The program to run, as `execve` needs it: found in the container's PATH now, so
/// that a name that is not there fails `create`, as with runc, not a `start` that
/// nobody would hear.
pub fn program_of(spec: &Spec, command: Option<&[String]>) -> Result<(String, Vec<String>, Vec<String>)> {
    let process = spec.process().clone().ok_or_else(|| Error::Child("config.json has no process to start".into()))?;
    let env: Vec<String> = process.env().clone().unwrap_or_default();
    let args: Vec<String> = command.map(|c| c.to_vec()).unwrap_or_else(|| process.args().clone().unwrap_or_default());
    let program = args.first().ok_or_else(|| Error::Child("process.args is empty".into()))?;
    let path = resolve(program, &env).ok_or_else(|| not_found(program))?;
    check_executable(&path)?;
    Ok((path, args, env))
}

/// Steps 9 to 13 at once (`learnctr exec`, which has no `start` to wait for).
pub fn finish(k: &dyn Kernel, spec: &Spec, command: Option<&[String]>, preserve_fds: i32) -> Result<Error> {
    let pending = drop_privileges(k, spec, preserve_fds)?;
    let program = program_of(spec, command)?;
    Ok(exec_program(k, pending, program))
}

/// Steps 9 to 11, before the wait for `start`, as runc does: after them, the waiting
/// init already has the container's user, capabilities and working directory.
/// `preserve_fds` fds after stdio stay open for the program (`--preserve-fds`).
pub fn drop_privileges(k: &dyn Kernel, spec: &Spec, preserve_fds: i32) -> Result<Pending> {
    // Without a process, `create` may still succeed; `start` is what must fail.
    let Some(process) = spec.process().clone() else { return Ok(Pending(Vec::new())) };
    // AppArmor (where the host has it): the profile the next execve enters, set while
    // we may still (runc does it here too).
    if let Some(profile) = process.apparmor_profile() {
        if super::spec::apparmor_enabled() {
            let attr = if Path::new("/proc/self/attr/apparmor/exec").exists() {
                "/proc/self/attr/apparmor/exec"
            } else {
                "/proc/self/attr/exec"
            };
            k.write_file(attr, &format!("exec {profile}"))?;
        }
    }
    let nnp = process.no_new_privileges().unwrap_or(false);
    // No fd of ours may pass execve (CVE-2024-21626). First, before a seccomp profile
    // can forbid close_range; older kernels lack it: then fcntl on each open fd.
    let first = 3 + preserve_fds.max(0) as u32;
    if k.invoke(crate::primitives::kernel::Call::CloseRangeCloexec { first }).is_err() {
        for fd in std::fs::read_dir("/proc/self/fd").into_iter().flatten().flatten() {
            if let Some(fd) = fd.file_name().to_str().and_then(|n| n.parse::<u32>().ok()).filter(|fd| *fd >= first) {
                let fd = fd as i32;
                // SAFETY: fcntl(2) F_SETFD on an fd number; a closed one just fails.
                unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            }
        }
    }
    let profile = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().clone())
        .map(|s| super::seccomp_profile::compile(&s))
        .transpose()?
        .unwrap_or_default();
    // 11, first try: the cwd as root, verified before any seccomp filter could forbid
    // getcwd (runc tries as root first too); a directory only the container's user may
    // enter is tried again after the switch.
    let cwd = process.cwd().display().to_string();
    let entered = match k.chdir(&cwd) {
        Ok(()) => {
            verify_cwd(k, &cwd)?;
            true
        }
        Err(e) if e.errno() == Some(nix::errno::Errno::EACCES) => false,
        Err(e) => return Err(e),
    };
    if nnp {
        k.no_new_privs()?;
    }
    if !nnp {
        for p in &profile {
            seccomp::install(k, p)?;
        }
    }
    // 10. Capabilities around the user switch.
    let caps = process.capabilities().clone().unwrap_or_default();
    let set = |s: &Option<oci_spec::runtime::Capabilities>| -> Mask {
        let names: Vec<String> = s.as_ref().map(|c| c.iter().map(|c| c.to_string()).collect()).unwrap_or_default();
        Mask::from_names(&names.iter().map(|n| format!("CAP_{}", n.trim_start_matches("CAP_"))).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let (bounding, effective, permitted, inheritable, ambient) = (
        set(caps.bounding()),
        set(caps.effective()),
        set(caps.permitted()),
        set(caps.inheritable()),
        set(caps.ambient()),
    );
    for cap in Mask(!bounding.0).capabilities() {
        if caps::has_cap(None, caps::CapSet::Bounding, cap).unwrap_or(false) {
            k.drop_bounding(cap)?;
        }
    }
    let user = process.user();
    k.invoke(crate::primitives::kernel::Call::KeepCaps { on: true })?;
    let groups: Vec<u32> = user.additional_gids().clone().unwrap_or_default();
    k.invoke(crate::primitives::kernel::Call::Setgroups { groups })?;
    k.invoke(crate::primitives::kernel::Call::Setresgid { gid: user.gid() })?;
    k.invoke(crate::primitives::kernel::Call::Setresuid { uid: user.uid() })?;
    k.invoke(crate::primitives::kernel::Call::KeepCaps { on: false })?;
    k.capset(effective, permitted, inheritable)?;
    k.clear_ambient()?;
    // The kernel raises an ambient capability only if it is inheritable and permitted
    // too; `create` has said which ones config.json asks in vain (runc ignores them).
    for cap in Mask(ambient.0 & inheritable.0 & permitted.0).capabilities() {
        k.raise_ambient(cap)?;
    }
    if let Some(mask) = process.user().umask() {
        k.invoke(Call::Umask { mask })?;
    }
    // 11, second try: as the container's user.
    if !entered {
        k.chdir(&cwd)?;
        verify_cwd(k, &cwd)?;
    }
    Ok(Pending(if nnp { profile } else { Vec::new() }))
}

/// Proof that the working directory is inside the container: a path through a leaked
/// fd (`/proc/self/fd/N`) lands on the host, where getcwd finds no path from our root
/// and answers "(unreachable)", which GetcwdInside turns into ENOENT.
fn verify_cwd(k: &dyn Kernel, cwd: &str) -> Result<()> {
    k.invoke(Call::GetcwdInside)
        .map(drop)
        .map_err(|_| Error::Child(format!("the working directory {cwd} is outside the container")))
}

/// Step 13, after `start`: seccomp as late as possible (it may forbid what the init
/// still needs), then the program.
pub fn exec_program(k: &dyn Kernel, pending: Pending, program: (String, Vec<String>, Vec<String>)) -> Error {
    super::timing::mark("init: released by start");
    for p in &pending.0 {
        if let Err(e) = seccomp::install(k, p) {
            return e;
        }
    }
    let (path, args, env) = program;
    super::timing::mark("init: execve");
    k.execve_program(&path, &args, &env)
}

/// runc's words for a missing program, which engines turn into exit code 127
/// ("executable file not found", "no such file or directory").
fn not_found(program: &str) -> Error {
    if program.contains('/') {
        Error::Child(format!("exec: \"{program}\": stat {program}: no such file or directory"))
    } else {
        Error::Child(format!("exec: \"{program}\": executable file not found in $PATH"))
    }
}

/// A program that exists but cannot be run is "permission denied" (exit code 126 in
/// Docker and Podman), said before `start` rather than by a failing `execve`.
fn check_executable(path: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Err(_) => Err(not_found(path)),
        Ok(m) if m.is_dir() || m.permissions().mode() & 0o111 == 0 => {
            Err(Error::Child(format!("exec: \"{path}\": permission denied")))
        }
        Ok(_) => Ok(()),
    }
}

/// `args[0]` as execvp would find it, with the container's PATH.
fn resolve(program: &str, env: &[String]) -> Option<String> {
    if program.contains('/') {
        return Some(program.to_string());
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':').map(|dir| format!("{dir}/{program}")).find(|p| Path::new(p).is_file())
}

fn rlimit_number(name: &str) -> Option<i32> {
    let table: [(&str, i32); 16] = [
        ("RlimitCpu", libc::RLIMIT_CPU as i32),
        ("RlimitFsize", libc::RLIMIT_FSIZE as i32),
        ("RlimitData", libc::RLIMIT_DATA as i32),
        ("RlimitStack", libc::RLIMIT_STACK as i32),
        ("RlimitCore", libc::RLIMIT_CORE as i32),
        ("RlimitRss", libc::RLIMIT_RSS as i32),
        ("RlimitNproc", libc::RLIMIT_NPROC as i32),
        ("RlimitNofile", libc::RLIMIT_NOFILE as i32),
        ("RlimitMemlock", libc::RLIMIT_MEMLOCK as i32),
        ("RlimitAs", libc::RLIMIT_AS as i32),
        ("RlimitLocks", libc::RLIMIT_LOCKS as i32),
        ("RlimitSigpending", libc::RLIMIT_SIGPENDING as i32),
        ("RlimitMsgqueue", libc::RLIMIT_MSGQUEUE as i32),
        ("RlimitNice", libc::RLIMIT_NICE as i32),
        ("RlimitRtprio", libc::RLIMIT_RTPRIO as i32),
        ("RlimitRttime", libc::RLIMIT_RTTIME as i32),
    ];
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// Where a mount's destination lands in the rootfs. A symlink on the way must not
/// lead outside: each existing component is checked not to be a symlink.
fn target_in(rootfs: &Path, destination: &Path) -> Result<PathBuf> {
    let mut path = rootfs.to_path_buf();
    for part in destination.components().filter(|c| matches!(c, std::path::Component::Normal(_))) {
        path.push(part);
        if path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::Child(format!(
                "the mount destination {} goes through a symlink",
                destination.display()
            )));
        }
    }
    Ok(path)
}

/// Create the mount point: a directory, or an empty file for a file bind mount.
fn make_mount_point(k: &dyn Kernel, rootfs: &Path, target: &Path, file: bool) -> Result<()> {
    if target.symlink_metadata().is_ok() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut p = target.parent();
    while let Some(dir) = p {
        if dir.exists() || dir == rootfs {
            break;
        }
        missing.push(dir.to_path_buf());
        p = dir.parent();
    }
    for dir in missing.iter().rev() {
        k.mkdir(&dir.to_string_lossy(), 0o755)?;
    }
    if file {
        k.create_file(&target.to_string_lossy(), 0o644)
    } else {
        k.mkdir(&target.to_string_lossy(), 0o755)
    }
}

fn mount_entry(k: &dyn Kernel, c: &Context, m: &Mount) -> Result<()> {
    let rootfs = c.rootfs;
    let target = target_in(rootfs, m.destination())?;
    let options: Vec<String> = m.options().clone().unwrap_or_default();
    let o = parse_options(&options);
    let kind = m.typ().clone().unwrap_or_default();
    let source = m.source().as_ref().map(|s| s.display().to_string());
    let bind = o.bind || kind == "bind";
    // Anything but a directory (a file, /dev/null, a socket) is bound onto a file.
    let file_source = bind && source.as_deref().is_some_and(|s| Path::new(s).exists() && !Path::new(s).is_dir());
    make_mount_point(k, rootfs, &target, file_source)?;
    let t = target.to_string_lossy().to_string();
    let data = (!o.data.is_empty()).then(|| o.data.join(","));
    if bind {
        k.mount(source.as_deref(), &t, None, MsFlags::MS_BIND | (o.flags & MsFlags::MS_REC), None)?;
        // A bind mount takes its flags only from a remount.
        let extra = o.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !extra.is_empty() {
            k.mount(
                None,
                &t,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra | masked_paths::existing_flags(&t),
                None,
            )?;
        }
    } else if kind == "cgroup" || kind == "cgroup2" {
        mount_cgroups(k, c, &t, o.flags)?;
    } else {
        let result = k.mount(source.as_deref(), &t, Some(&kind), o.flags, data.as_deref());
        match result {
            // sysfs without a network namespace of our own: bind the host's, then make
            // every mount under it read-only too when `ro` was asked (a remount of the
            // top alone would leave /sys/fs/cgroup and the others writable).
            Err(e) if kind == "sysfs" && e.errno() == Some(nix::errno::Errno::EPERM) => {
                k.mount(Some("/sys"), &t, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
                if o.flags.contains(MsFlags::MS_RDONLY) {
                    let table = mountinfo::parse(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
                    for sub in table.iter().filter(|m| Path::new(&m.mount_point).starts_with(&t)) {
                        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
                        k.mount(
                            None,
                            &sub.mount_point,
                            None,
                            flags | masked_paths::existing_flags(&sub.mount_point),
                            None,
                        )?;
                    }
                }
            }
            other => other?,
        }
    }
    if !o.propagation.is_empty() {
        k.mount(None, &t, None, o.propagation, None)?;
    }
    Ok(())
}

/// The cgroup filesystems inside. With a cgroup namespace: cgroup2 on a v2 host; on
/// v1 and hybrid a tmpfs with one cgroup mount per hierarchy, as runc builds it (the
/// namespace makes the container's cgroup their root). Without one, a fresh mount
/// would show the host's whole tree — other tenants' cgroups, and the root's limits
/// instead of the container's — so, as runc does, the container's own directories
/// are bound there instead.
fn mount_cgroups(k: &dyn Kernel, c: &Context, target: &str, flags: MsFlags) -> Result<()> {
    use crate::primitives::cgroups::layout::{detect_mode, Mode};
    let read_only = flags.contains(MsFlags::MS_RDONLY);
    let bind = |source: &std::path::Path, dir: &str| -> Result<()> {
        k.mount(Some(&source.display().to_string()), dir, None, MsFlags::MS_BIND, None)?;
        let extra = flags & (MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
        k.mount(
            None,
            dir,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra | masked_paths::existing_flags(dir),
            None,
        )
    };
    if detect_mode() == Mode::Unified {
        return match (c.new_cgroup_ns, c.cgroup.dirs().first()) {
            (false, Some(own)) => bind(own, target),
            _ => k.mount(Some("cgroup"), target, Some("cgroup2"), flags, None),
        };
    }
    k.mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=755"),
    )?;
    let host = mountinfo::parse(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
    for m in host.iter().filter(|m| m.fstype == "cgroup" && m.mount_point.starts_with("/sys/fs/cgroup/")) {
        let name = m.mount_point.trim_start_matches("/sys/fs/cgroup/");
        let dir = format!("{target}/{name}");
        let own = c.cgroup.hierarchy.root.join(name).join(&c.cgroup.name);
        if !c.new_cgroup_ns && !own.is_dir() {
            // A hierarchy the container is not in: nothing of its own to show.
            continue;
        }
        k.mkdir(&dir, 0o755)?;
        if c.new_cgroup_ns {
            let controllers =
                m.super_options.iter().filter(|o| *o != "rw" && *o != "ro").cloned().collect::<Vec<_>>().join(",");
            k.mount(Some("cgroup"), &dir, Some("cgroup"), flags, Some(&controllers))?;
        } else {
            bind(&own, &dir)?;
        }
        // Co-mounted controllers (`cpu,cpuacct`) are reached by each name, as on the host.
        if name.contains(',') {
            for part in name.split(',') {
                let link = format!("{target}/{part}");
                if Path::new(&link).symlink_metadata().is_err() {
                    k.symlink(name, &link)?;
                }
            }
        }
    }
    if read_only {
        k.mount(
            None,
            target,
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("mode=755"),
        )?;
    }
    Ok(())
}

/// The default devices of the runtime spec, then `linux.devices`, with mknod (we are
/// real root; in a user namespace runc binds them from the host instead).
fn make_devices(k: &dyn Kernel, rootfs: &Path, linux: &oci_spec::runtime::Linux, in_user_ns: bool) -> Result<()> {
    let dev = rootfs.join("dev");
    let d = dev.to_string_lossy().to_string();
    let defaults: [(&str, u64, u64); 6] =
        [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];
    for (name, major, minor) in defaults {
        let path = format!("{d}/{name}");
        if Path::new(&path).symlink_metadata().is_ok() {
            continue;
        }
        if in_user_ns {
            // mknod is not allowed in a user namespace: bind the host's node instead.
            k.create_file(&path, 0o666)?;
            k.mount(Some(&format!("/dev/{name}")), &path, None, MsFlags::MS_BIND, None)?;
        } else {
            k.invoke(crate::primitives::kernel::Call::Mknod {
                path: path.clone(),
                block: false,
                mode: 0o666,
                major,
                minor,
            })?;
            k.invoke(crate::primitives::kernel::Call::Chmod { path, mode: 0o666 })?;
        }
    }
    for device in linux.devices().as_deref().unwrap_or(&[]) {
        let path = target_in(rootfs, device.path())?;
        let p = path.to_string_lossy().to_string();
        if path.symlink_metadata().is_ok() {
            k.rmdir(&p).or_else(|_| std::fs::remove_file(&path).map_err(|e| Error::io(p.clone(), e)))?;
        }
        if let Some(parent) = path.parent() {
            make_mount_point(k, rootfs, parent, false)?;
        }
        let kind = format!("{:?}", device.typ());
        let block = kind == "B";
        let mode = device.file_mode().unwrap_or(0o666);
        if kind == "P" {
            k.invoke(crate::primitives::kernel::Call::Mkfifo { path: p.clone(), mode })?;
        } else if in_user_ns {
            k.create_file(&p, 0o666)?;
            let host = Path::new("/dev").join(device.path().strip_prefix("/dev").unwrap_or(device.path()));
            k.mount(Some(&host.display().to_string()), &p, None, MsFlags::MS_BIND, None)?;
            continue;
        } else {
            k.invoke(crate::primitives::kernel::Call::Mknod {
                path: p.clone(),
                block,
                mode,
                major: device.major() as u64,
                minor: device.minor() as u64,
            })?;
        }
        k.invoke(crate::primitives::kernel::Call::Chmod { path: p.clone(), mode })?;
        k.invoke(crate::primitives::kernel::Call::Chown {
            path: p,
            uid: device.uid().unwrap_or(0),
            gid: device.gid().unwrap_or(0),
        })?;
    }
    for (target, name) in devices::LINKS {
        let link = format!("{d}/{name}");
        if Path::new(&link).symlink_metadata().is_err() {
            k.symlink(target, &link)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::cgroups::{Cgroup, Hierarchy, Mode};
    use crate::primitives::Fake;

    /// The init's order, pinned on the recording kernel (youki freezes its init this
    /// way): every call the steps above name, in the order they name them.
    #[test]
    fn the_init_follows_runcs_order() {
        let rootfs = tempfile::tempdir().unwrap();
        let mut json = serde_json::to_value(super::super::spec::default_spec(false).unwrap()).unwrap();
        // No network namespace: bringing `lo` up would open a real netlink socket.
        json["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "network");
        json["linux"]["sysctl"] = serde_json::json!({"kernel.shmmax": "1000"});
        json["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
        let spec: Spec = serde_json::from_value(json).unwrap();
        let cgroup = Cgroup::new(Hierarchy::at(Mode::Unified, rootfs.path()), "t", &[]);
        let entered = std::cell::Cell::new(0);
        let hooks_ran = std::cell::Cell::new(0);
        let enter = || {
            entered.set(entered.get() + 1);
            Ok(())
        };
        let runtime_hooks = || {
            hooks_ran.set(hooks_ran.get() + 1);
            Ok(())
        };
        let c = Context {
            spec: &spec,
            rootfs: rootfs.path(),
            cgroup: &cgroup,
            new_cgroup_ns: false,
            enter_cgroup: &enter,
            runtime_hooks: &runtime_hooks,
            hook_state: String::new(),
        };
        let fake = Fake::new();
        prepare(&fake, &c).unwrap();
        drop_privileges(&fake, &spec, 0).unwrap();
        assert_eq!((entered.get(), hooks_ran.get()), (1, 1));
        let calls = fake.calls();
        let order = [
            "prctl(PR_SET_DUMPABLE, 0)",
            "mount(NULL, \"/\", NULL, MS_REC|MS_SLAVE, NULL)",
            "mount(\"proc\"",
            "pivot_root(",
            "sethostname(\"runc\"",
            "write(\"/proc/sys/kernel/shmmax\", \"1000\")",
            "mount(\"/dev/null\", \"/proc/",
            "mount(\"/proc/sys\", \"/proc/sys\", NULL, MS_RDONLY|MS_REMOUNT",
            "close_range(3",
            "chdir(\"/\")",
            "getcwd(",
            "prctl(PR_SET_NO_NEW_PRIVS",
            "prctl(PR_CAPBSET_DROP",
            "prctl(PR_SET_KEEPCAPS, 1)",
            "setresgid(1000",
            "setresuid(1000",
            "capset(",
        ];
        // Each call is looked for after the one before it.
        let mut from = 0;
        for prefix in order {
            match calls[from..].iter().position(|c| c.starts_with(prefix)) {
                Some(i) => from += i + 1,
                None => panic!("no {prefix} after call {from}:\n{calls:#?}"),
            }
        }
    }
}
