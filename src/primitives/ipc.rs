//! System V IPC objects, which live in an ipc namespace.

use super::error::Result;
use super::kernel::Kernel;

/// The key of the shared memory segment lesson 1 creates ("lea" in hex-speak, 0x1ea4).
pub const LESSON_SHM_KEY: i32 = 0x1ea4;

/// Create a 4 KiB shared memory segment with `key` (`ipcmk -M 4096`). It exists only
/// in the caller's ipc namespace and is freed with it.
pub fn create_shared_memory(k: &dyn Kernel, key: i32) -> Result<i32> {
    k.shmget(key, 4096, 0o600)
}

/// Whether `/proc/sysvipc/shm` text lists a segment with `key`. The file shows the
/// segments of the reader's ipc namespace; the key column is decimal.
pub fn lists_key(sysvipc_shm: &str, key: i32) -> bool {
    sysvipc_shm.lines().skip(1).any(|l| l.split_whitespace().next() == Some(key.to_string().as_str()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_column_is_decimal() {
        let text = "       key      shmid perms\n      7844          3   600\n";
        assert!(super::lists_key(text, 0x1ea4));
        assert!(!super::lists_key(text, 1));
    }
}
