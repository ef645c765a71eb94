//! Setups that several lessons build their containers with, named for what they build.
//! Each is what a lesson taught, done again as one call by the lessons that come
//! after it: lesson 3's pivot, lesson 4's /proc, /dev and /sys.

use crate::primitives::{chroot_and_pivot, devices, masked_paths, mounts, Kernel, Result};

/// Lesson 3, run inside a new mount namespace: `root` becomes its root. Private
/// propagation, the rootfs bound onto itself, a /proc inside (the probes read it),
/// then runc's pivot.
pub fn pivot_with_proc(k: &dyn Kernel, root: &str) -> Result<()> {
    rootfs_with_proc(k, root)?;
    chroot_and_pivot::pivot_into(k, root)
}

/// Lesson 4's container without /sys (lessons 4 and 7): lesson 3's pivot with a minimal
/// /dev, made before the pivot while the host's device nodes are still reachable to
/// bind from.
pub fn minimal_container(k: &dyn Kernel, root: &str) -> Result<()> {
    rootfs_with_proc(k, root)?;
    devices::populate(k, root)?;
    chroot_and_pivot::pivot_into(k, root)
}

/// [`minimal_container`] with a read-only /sys, and the masked and read-only paths of
/// `runc spec` (applied after the pivot, to the container's own /proc and /sys).
pub fn minimal_container_with_sys(k: &dyn Kernel, root: &str) -> Result<()> {
    rootfs_with_proc(k, root)?;
    devices::populate(k, root)?;
    mounts::mount_sysfs_read_only(k, &format!("{root}/sys"))?;
    chroot_and_pivot::pivot_into(k, root)?;
    masked_paths::apply_defaults(k)
}

/// What comes before every pivot here: no mount event reaches the host, the rootfs is
/// a mount point of its own (pivot_root needs one), and it has its /proc.
fn rootfs_with_proc(k: &dyn Kernel, root: &str) -> Result<()> {
    mounts::make_private(k)?;
    chroot_and_pivot::bind_onto_itself(k, root)?;
    mounts::mount_proc(k, &format!("{root}/proc"))
}
