//! The init's mounts, steps 2, 3, 6 and 8 of `init.rs`: the propagation of `/`, then
//! the root filesystem and config.json's `mounts` inside it (the cgroup filesystems
//! among them), made while the host's paths are still reachable; the pivot into it;
//! then, inside, the masked and read-only paths.
//!
//! Every destination is resolved inside the root with `target_in`, which refuses a
//! symlink on the way: a bundle cannot make a mount land on the host.

use super::init::Context;
use crate::primitives::mountinfo;
use crate::primitives::mounts::{self, parse_options};
use crate::primitives::{chroot_and_pivot, masked_paths, Error, Kernel, Result};
use nix::mount::MsFlags;
use oci_spec::runtime::{Mount, Spec};
use std::path::{Path, PathBuf};

/// Step 2: no mount of ours may reach the host. Every mount becomes a slave, as runc
/// does unless rootfsPropagation says otherwise — the host's later mounts still arrive,
/// ours never leave. (A chosen rootfsPropagation is applied after pivot_root.)
pub fn stop_propagation(k: &dyn Kernel) -> Result<()> {
    k.mount(None, "/", None, MsFlags::MS_REC | MsFlags::MS_SLAVE, None)
}

/// Step 3: the rootfs bound onto itself (pivot_root needs a mount point), then every
/// `mounts` entry inside it, in config.json's order. `enter_cgroup` is called before
/// the first cgroup filesystem is mounted: it must show the container's own cgroup.
pub fn mount_rootfs(k: &dyn Kernel, c: &Context, enter_cgroup: &dyn Fn() -> Result<()>) -> Result<()> {
    chroot_and_pivot::bind_onto_itself(k, &c.rootfs.to_string_lossy())?;
    for m in c.spec.mounts().as_deref().unwrap_or(&[]) {
        if matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2")) {
            enter_cgroup()?;
        }
        mount_entry(k, c, m)?;
    }
    Ok(())
}

/// Step 6: `pivot_root` into the rootfs, the old root detached (no path back to the
/// host; lesson 3), then the propagation the bundle asked for.
pub fn pivot_into_rootfs(k: &dyn Kernel, c: &Context) -> Result<()> {
    chroot_and_pivot::pivot_into(k, &c.rootfs.to_string_lossy())?;
    let linux = c.spec.linux().clone().unwrap_or_default();
    if let Some(flag) = linux.rootfs_propagation().as_deref().and_then(mounts::propagation_flag) {
        k.mount(None, "/", None, flag, None)?;
    }
    // A working directory the image lacks is made, as runc makes it (we are inside
    // the new root now: no path can lead out of it).
    if let Some(process) = c.spec.process() {
        let mut dir = PathBuf::from("/");
        for part in process.cwd().components().filter(|c| matches!(c, std::path::Component::Normal(_))) {
            dir.push(part);
            if dir.symlink_metadata().is_err() {
                k.mkdir(&dir.to_string_lossy(), 0o755)?;
            }
        }
    }
    Ok(())
}

/// Step 8: the masked and read-only paths of `/proc` and `/sys` (lesson 4), then a
/// read-only root if config.json asks for one.
pub fn protect_paths(k: &dyn Kernel, spec: &Spec) -> Result<()> {
    let linux = spec.linux().clone().unwrap_or_default();
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
    Ok(())
}

/// Where a mount's destination lands in the rootfs. A symlink on the way must not
/// lead outside: each existing component is checked not to be a symlink.
pub(super) fn target_in(rootfs: &Path, destination: &Path) -> Result<PathBuf> {
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
pub(super) fn make_mount_point(k: &dyn Kernel, rootfs: &Path, target: &Path, file: bool) -> Result<()> {
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
    use crate::primitives::cgroups::hierarchy::{detect_mode, Mode};
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
