//! `/dev` inside the container (step 4 of `init.rs`): the default devices
//! (`primitives::devices::DEVICES`, the table lesson 4 uses too), the nodes
//! `linux.devices` asks for, and the standard symlinks.
//!
//! Also what a device type of config.json means (`node_of`), for the nodes made here
//! and for the cgroup rules that allow them (`resources.rs`).

use super::mounts::{make_mount_point, target_in};
use super::spec::has_namespace;
use crate::primitives::devices::{self, Type, DEVICES};
use crate::primitives::{Error, Kernel, Result};
use nix::mount::MsFlags;
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Spec};
use std::path::Path;

/// What a `linux.devices` entry makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Device(Type),
    Fifo,
}

/// The node of a config.json device type: `b` a block device, `p` a FIFO, and `c`
/// and `u` (unbuffered, which Linux does not distinguish) a character device — so is
/// `a` ("all"), which only a cgroup rule should name.
pub fn node_of(typ: LinuxDeviceType) -> Node {
    match typ {
        LinuxDeviceType::B => Node::Device(Type::Block),
        LinuxDeviceType::P => Node::Fifo,
        LinuxDeviceType::C | LinuxDeviceType::U | LinuxDeviceType::A => Node::Device(Type::Char),
    }
}

impl Node {
    /// The device type the cgroup rule allowing this node names. A FIFO is no device
    /// (the device controller never asks about one): its rule says `c`, as it always
    /// has, which allows nothing it needs.
    pub fn rule_type(self) -> Type {
        match self {
            Node::Device(typ) => typ,
            Node::Fifo => Type::Char,
        }
    }
}

/// `/dev`, when config.json gives it a tmpfs of its own: the default devices of the
/// runtime spec, then `linux.devices`, with mknod (we are real root; in a user
/// namespace, where mknod is not allowed, runc binds them from the host instead, and
/// so do we), then the symlinks.
pub fn make_dev(k: &dyn Kernel, spec: &Spec, rootfs: &Path) -> Result<()> {
    let dev_is_tmpfs = spec
        .mounts()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|m| m.destination() == Path::new("/dev") && m.typ().as_deref() == Some("tmpfs"));
    if !dev_is_tmpfs {
        return Ok(());
    }
    let in_user_ns = has_namespace(spec, LinuxNamespaceType::User);
    let dev = rootfs.join("dev");
    let d = dev.to_string_lossy().to_string();
    for device in &DEVICES {
        let path = format!("{d}/{}", device.name);
        if Path::new(&path).symlink_metadata().is_ok() {
            continue;
        }
        if in_user_ns {
            k.create_file(&path, 0o666)?;
            k.mount(Some(&format!("/dev/{}", device.name)), &path, None, MsFlags::MS_BIND, None)?;
        } else {
            k.mknod(&path, device.typ == Type::Block, 0o666, device.major, device.minor)?;
            k.chmod(&path, 0o666)?;
        }
    }
    let linux = spec.linux().clone().unwrap_or_default();
    for device in linux.devices().as_deref().unwrap_or(&[]) {
        let path = target_in(rootfs, device.path())?;
        let p = path.to_string_lossy().to_string();
        if path.symlink_metadata().is_ok() {
            k.rmdir(&p).or_else(|_| std::fs::remove_file(&path).map_err(|e| Error::io(p.clone(), e)))?;
        }
        if let Some(parent) = path.parent() {
            make_mount_point(k, rootfs, parent, false)?;
        }
        let node = node_of(device.typ());
        let mode = device.file_mode().unwrap_or(0o666);
        if node == Node::Fifo {
            k.mkfifo(&p, mode)?;
        } else if in_user_ns {
            k.create_file(&p, 0o666)?;
            let host = Path::new("/dev").join(device.path().strip_prefix("/dev").unwrap_or(device.path()));
            k.mount(Some(&host.display().to_string()), &p, None, MsFlags::MS_BIND, None)?;
            continue;
        } else {
            let block = node == Node::Device(Type::Block);
            k.mknod(&p, block, mode, device.major() as u64, device.minor() as u64)?;
        }
        k.chmod(&p, mode)?;
        k.chown(&p, device.uid().unwrap_or(0), device.gid().unwrap_or(0))?;
    }
    for (target, name) in devices::LINKS {
        let link = format!("{d}/{name}");
        if Path::new(&link).symlink_metadata().is_err() {
            k.symlink(target, &link)?;
        }
    }
    Ok(())
}
