//! CVE-2019-5736: a container must never be able to write the runtime's binary.
//!
//! Some learnctr processes run inside a container's namespaces: the init until
//! `start` (PID 1 there), and `learnctr exec`'s process until it becomes the command.
//! A process in the container can name their executable as `/proc/PID/exe`; and a
//! container whose program is a script starting `#!/proc/self/exe` makes the kernel
//! run *the init's own executable* as the container's program. In 2019 that gave an
//! image's author runc's binary on the host: open it through `/proc/PID/exe`, wait for
//! the process to exit, reopen it for writing via `/proc/self/fd/N`, and the next
//! `runc` anyone runs is theirs. Making the process non-dumpable (which runc already
//! was) only stops a container without CAP_SYS_PTRACE from opening it.
//!
//! runc's fix, and learnctr's: before entering any container, the runtime re-executes
//! itself from a copy that cannot be written. learnctr makes it with two calls of the
//! new mount API: `open_tree(OPEN_TREE_CLONE)` clones the mount that holds the binary,
//! reduced to that one file and attached nowhere (no mount table shows it, the host's
//! least of all); `mount_setattr(MOUNT_ATTR_RDONLY)` makes the clone read-only; then
//! `execveat(fd, "", …, AT_EMPTY_PATH)` runs the binary through it. From then on
//! `/proc/PID/exe` of every learnctr process in the container leads to a read-only
//! mount: opening it for writing fails with EROFS. Nothing is copied. Kernels older
//! than 5.12 get runc's older answer: a copy in a sealed memfd (`memfd_create`,
//! `F_SEAL_WRITE`), which costs a copy of the binary. Seed 002's strace shows runc
//! doing the same with a bind mount: `mount("/proc/self/exe", …runc.ram…)`, then
//! `execveat(…, AT_EMPTY_PATH)`.

use crate::primitives::{Kernel, Result};

/// Set in the environment of the re-executed learnctr, and removed at once: the
/// mark holds the path of the binary it was copied from.
const MARK: &str = "LEARNCTR_SEALED";

/// The path learnctr was started from (the sealed copy has no path of its own).
static ORIGINAL: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// The installed learnctr binary: what an engine is told to run (lesson 11).
pub fn original_exe() -> std::path::PathBuf {
    ORIGINAL.get().cloned().or_else(|| std::env::current_exe().ok()).unwrap_or_else(|| "learnctr".into())
}

/// Whether this process already runs from a copy nobody can write: it was re-executed
/// (the mark), or its binary sits on a read-only filesystem anyway.
fn protected() -> bool {
    if let Some(path) = std::env::var_os(MARK) {
        let _ = ORIGINAL.set(path.into());
        // Neither the container nor any other child may inherit the mark (learnctr is
        // still single-threaded here, so changing the environment is safe).
        std::env::remove_var(MARK);
        super::timing::mark("re-executed from the read-only copy (CVE-2019-5736)");
        return true;
    }
    nix::sys::statvfs::statvfs("/proc/self/exe")
        .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// Re-execute learnctr from a read-only copy of itself, unless it already runs from
/// one. Returns only when it already does, or with the error that prevented it.
pub fn ensure(k: &dyn Kernel) -> Result<()> {
    if protected() {
        return Ok(());
    }
    super::timing::mark("sealing: re-executing from a read-only copy");
    let fd = match read_only_clone(k) {
        Ok(fd) => fd,
        Err(_) => sealed_memfd(k)?,
    };
    let argv: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut env: Vec<String> =
        std::env::vars_os().map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy())).collect();
    let original = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
    env.push(format!("{MARK}={original}"));
    let err = k.execveat_fd(fd, argv, env);
    let _ = k.close(fd);
    Err(err)
}

/// The binary through a detached, read-only clone of its mount (Linux 5.12+).
fn read_only_clone(k: &dyn Kernel) -> Result<i32> {
    let fd = k.open_tree_clone("/proc/self/exe")?;
    if let Err(e) = k.mount_setattr_read_only(fd) {
        let _ = k.close(fd);
        return Err(e);
    }
    Ok(fd)
}

/// A copy of the binary in memory, sealed against every change.
fn sealed_memfd(k: &dyn Kernel) -> Result<i32> {
    let fd = k.memfd_create("learnctr-sealed")?;
    let copied = k.copy_file_into("/proc/self/exe", fd).and_then(|_| k.seal_memfd(fd));
    match copied {
        Ok(_) => Ok(fd),
        Err(e) => {
            let _ = k.close(fd);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_clone_is_made_read_only_before_it_runs() {
        let fake = crate::primitives::Fake::new();
        let fd = super::read_only_clone(&fake).unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                "open_tree(AT_FDCWD, \"/proc/self/exe\", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC)".to_string(),
                format!("mount_setattr({fd}, \"\", AT_EMPTY_PATH, {{attr_set=MOUNT_ATTR_RDONLY}}, 32)"),
            ]
        );
        let fake = crate::primitives::Fake::new();
        fake.fail("mount_setattr", nix::errno::Errno::ENOSYS);
        assert!(super::read_only_clone(&fake).is_err());
        assert!(fake.calls().last().unwrap().starts_with("close("), "the clone is closed when it cannot be sealed");
    }
}
