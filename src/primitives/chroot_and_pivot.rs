//! Changing the root directory: `chroot`, its escape, and `pivot_root`.
//!
//! `chroot(2)` changes one thing: where path lookup of *this process* starts. The
//! mount table, the other processes and the current directory stay as they were —
//! which is why it can be escaped. `pivot_root(2)` changes the root *mount* of the
//! whole mount namespace; once the old root is unmounted, nothing of the host's
//! filesystem is left to escape to.

use super::error::Result;
use super::kernel::Kernel;
use nix::mount::{MntFlags, MsFlags};
use std::os::unix::fs::MetadataExt;

/// `chroot ROOT` as the shell does it: chroot, then chdir("/") so that the current
/// directory is inside the new root too.
pub fn chroot_into(k: &dyn Kernel, root: &str) -> Result<()> {
    k.chroot(root)?;
    k.chdir("/")
}

/// The classic chroot escape (needs CAP_SYS_CHROOT, which root inside has). The
/// caller stands at its root's `/` (`chroot_into` and `pivot_into` both end there).
///
/// 1. chroot into a subdirectory, *without* chdir: the current directory is now
///    outside (above) our root;
/// 2. `..` stops only when it meets the process's root; ours is below us, so
///    chdir("..") climbs until it reaches the top of the mount tree, where `..` is
///    `.` itself: the last chdir("..") does not move;
/// 3. chroot(".") makes that top our root.
///
/// After a chroot, the top is the host's `/`. After `pivot_root`, the top of this
/// namespace's mount tree is the root filesystem: the first chdir("..") already stays.
pub fn break_out_of_chroot(k: &dyn Kernel, subdir: &str) -> Result<()> {
    k.chroot(subdir)?;
    // A bound on the climb, in case `..` never settles (it always does).
    for _ in 0..256 {
        let before = inode_of(".");
        k.chdir("..")?;
        if inode_of(".") == before {
            break;
        }
    }
    k.chroot(".")
}

fn inode_of(path: &str) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Bind-mount the root filesystem onto itself. `pivot_root` needs the new root to be
/// a mount point, and a plain directory is not one until it is bound on itself.
pub fn bind_onto_itself(k: &dyn Kernel, root: &str) -> Result<()> {
    k.mount(Some(root), root, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
}

/// `pivot_root` the way runc does it, without a `put_old` directory:
///
/// - chdir into the new root and `pivot_root(".", ".")`: the new root becomes `/`
///   and the old root is stacked on the same place, on top of it;
/// - make the old root a slave (`MS_SLAVE|MS_REC`) so that unmounting it can never
///   propagate anywhere else;
/// - `umount2(".", MNT_DETACH)` takes the old root (the top of the stack) away, with
///   everything mounted below it — the host's whole filesystem, as seen from here;
/// - chdir("/") to stand on the new root.
///
/// The classic form, `pivot_root(new, new/oldroot)` then `umount2("/oldroot")`, needs
/// a directory in the rootfs (which may be read-only) and leaves it behind.
pub fn pivot_into(k: &dyn Kernel, root: &str) -> Result<()> {
    k.chdir(root)?;
    k.pivot_root(".", ".")?;
    k.mount(None, ".", None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)?;
    k.umount2(".", MntFlags::MNT_DETACH)?;
    k.chdir("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::Fake;

    #[test]
    fn pivot_follows_runc() {
        let fake = Fake::new();
        bind_onto_itself(&fake, "/r").unwrap();
        pivot_into(&fake, "/r").unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                "mount(\"/r\", \"/r\", NULL, MS_BIND|MS_REC, NULL)",
                "chdir(\"/r\")",
                "pivot_root(\".\", \".\")",
                "mount(NULL, \".\", NULL, MS_REC|MS_SLAVE, NULL)",
                "umount2(\".\", MNT_DETACH)",
                "chdir(\"/\")",
            ]
        );
    }

    #[test]
    fn chroot_then_chdir() {
        let fake = Fake::new();
        chroot_into(&fake, "/r").unwrap();
        assert_eq!(fake.calls(), vec!["chroot(\"/r\")", "chdir(\"/\")"]);
    }

    #[test]
    fn a_failed_pivot_stops_the_sequence() {
        let fake = Fake::new();
        fake.fail("pivot_root", nix::errno::Errno::EINVAL);
        assert!(pivot_into(&fake, "/r").is_err());
        assert_eq!(fake.calls().last().unwrap(), "pivot_root(\".\", \".\")");
    }
}
