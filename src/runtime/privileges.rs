//! What the init gives up before the container's program, steps 11 and 12 of
//! `init.rs` (`drop_privileges` there calls these in order): an AppArmor profile for
//! the next `execve`, every fd of ours close-on-exec, a working directory proven to be
//! inside the container, and the switch to the container's user and capabilities.

use crate::primitives::capabilities::{self, Mask};
use crate::primitives::{Error, Kernel, Result};
use oci_spec::runtime::Process;
use std::path::Path;

/// The AppArmor profile the next `execve` enters (where the host has AppArmor), set
/// while we may still (runc does it here too).
pub fn set_apparmor_profile(k: &dyn Kernel, process: &Process) -> Result<()> {
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
    Ok(())
}

/// No fd of ours from `first` on may pass execve (CVE-2024-21626). Done before a
/// seccomp profile can forbid close_range; older kernels lack it: then fcntl on each
/// open fd.
pub fn close_on_exec_from(k: &dyn Kernel, first: u32) {
    if k.close_range_cloexec(first).is_err() {
        for fd in std::fs::read_dir("/proc/self/fd").into_iter().flatten().flatten() {
            if let Some(fd) = fd.file_name().to_str().and_then(|n| n.parse::<u32>().ok()).filter(|fd| *fd >= first) {
                // A closed one just fails.
                let _ = k.set_cloexec(fd as i32);
            }
        }
    }
}

/// The working directory, first try: as root, verified before any seccomp filter
/// could forbid getcwd (runc tries as root first too). A directory only the
/// container's user may enter answers EACCES: `false`, try again after the switch.
pub fn enter_cwd_as_root(k: &dyn Kernel, cwd: &str) -> Result<bool> {
    match k.chdir(cwd) {
        Ok(()) => {
            verify_cwd(k, cwd)?;
            Ok(true)
        }
        Err(e) if e.errno() == Some(nix::errno::Errno::EACCES) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The working directory, second try: as the container's user.
pub fn enter_cwd(k: &dyn Kernel, cwd: &str) -> Result<()> {
    k.chdir(cwd)?;
    verify_cwd(k, cwd)
}

/// Proof that the working directory is inside the container: a path through a leaked
/// fd (`/proc/self/fd/N`) lands on the host, where getcwd finds no path from our root
/// and answers "(unreachable)", which GetcwdInside turns into ENOENT.
fn verify_cwd(k: &dyn Kernel, cwd: &str) -> Result<()> {
    k.getcwd_inside()
        .map(drop)
        .map_err(|_| Error::Child(format!("the working directory {cwd} is outside the container")))
}

/// Capabilities around the user switch (lesson 6): the bounding set first (it limits
/// all the others and never grows back), then the configured user, with
/// PR_SET_KEEPCAPS keeping the permitted set across setuid, then the effective,
/// permitted and inheritable sets, and the ambient set last.
pub fn switch_user_and_capabilities(k: &dyn Kernel, process: &Process) -> Result<()> {
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
    capabilities::drop_bounding_except(k, bounding)?;
    let user = process.user();
    k.keep_caps(true)?;
    let groups: Vec<u32> = user.additional_gids().clone().unwrap_or_default();
    k.setgroups(groups)?;
    k.setresgid(user.gid())?;
    k.setresuid(user.uid())?;
    k.keep_caps(false)?;
    k.capset(effective, permitted, inheritable)?;
    k.clear_ambient()?;
    // The kernel raises an ambient capability only if it is inheritable and permitted
    // too; `create` has said which ones config.json asks in vain (runc ignores them).
    for cap in Mask(ambient.0 & inheritable.0 & permitted.0).capabilities() {
        k.raise_ambient(cap)?;
    }
    Ok(())
}
