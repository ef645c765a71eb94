//! A tiny root filesystem built offline from the host's static `busybox`.
//!
//! BusyBox is one program that acts as hundreds ("applets"): run as `sh` it is a shell, as `ps`
//! it lists processes. A root filesystem needs only that one binary, a symlink per applet
//! pointing to it, a few files in /etc and empty mount points. The binary must be *statically*
//! linked: inside the container there is no /lib, so a dynamically linked program could not
//! even start (its loader, named in the ELF "PT_INTERP" header, would be missing).

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{show, Error, Result};

/// Where distributions put a static busybox, in the order we look.
pub const CANDIDATES: &[&str] = &[
    "/bin/busybox",
    "/usr/bin/busybox",
    "/usr/lib/busybox/busybox-static",
    "/usr/bin/busybox-static",
    "/sbin/busybox",
];

/// Applets the lessons use; a busybox without one of them is refused.
pub const REQUIRED_APPLETS: &[&str] = &["sh", "ps", "mount", "hostname", "ip", "ping", "httpd", "wget"];

/// The directory tree, with modes (`tmp` is world-writable with the sticky bit, like on any Linux).
const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("sbin", 0o755),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
    ("etc", 0o755),
    ("proc", 0o555),
    ("sys", 0o555),
    ("dev", 0o755),
    ("tmp", 0o1777),
    ("root", 0o700),
    ("run", 0o755),
    ("var", 0o755),
];

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\n";
const HOSTNAME: &str = "learnctr\n";
const HOSTS: &str = "127.0.0.1\tlocalhost learnctr\n::1\tlocalhost ip6-localhost ip6-loopback\n";
const OS_RELEASE: &str =
    "NAME=\"BusyBox (learnctr)\"\nID=busybox\nPRETTY_NAME=\"BusyBox root filesystem built by learnctr\"\n";

/// Find a static busybox: the one the caller names, or the first static one in `CANDIDATES`.
pub fn find_static(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = given {
        return match is_static_elf(path) {
            Ok(true) => Ok(path.to_path_buf()),
            Ok(false) => Err(Error::BusyboxNotStatic { path: show(path) }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::PathNotFound { path: show(path) }),
            Err(e) => Err(Error::io("read", show(path), e)),
        };
    }
    CANDIDATES
        .iter()
        .map(Path::new)
        .find(|p| is_static_elf(p).unwrap_or(false))
        .map(Path::to_path_buf)
        .ok_or_else(|| Error::NoStaticBusybox { searched: CANDIDATES.join(", ") })
}

/// True if `path` is an ELF executable without a PT_INTERP program header (= statically linked).
///
/// ELF layout used here: bytes 0..4 are "\x7fELF", byte 4 is the class (1 = 32-bit, 2 = 64-bit),
/// byte 5 the byte order (1 = little, 2 = big endian). The header then says where the program
/// header table is (e_phoff), how big one entry is (e_phentsize) and how many there are
/// (e_phnum). Each entry starts with its 4-byte type; type 3 is PT_INTERP.
pub fn is_static_elf(path: &Path) -> io::Result<bool> {
    let mut f = fs::File::open(path)?;
    let mut h = [0u8; 64];
    if f.read(&mut h)? < 52 || &h[..4] != b"\x7fELF" {
        return Ok(false);
    }
    let big = h[5] == 2;
    let u16_at = |b: &[u8], o: usize| {
        let v = [b[o], b[o + 1]];
        if big {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        }
    };
    let u32_at = |b: &[u8], o: usize| {
        let v = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if big {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    };
    let (phoff, phentsize, phnum) = match h[4] {
        1 => (u64::from(u32_at(&h, 0x1c)), u16_at(&h, 0x2a), u16_at(&h, 0x2c)),
        2 => {
            let lo = u64::from(u32_at(&h, 0x20));
            let hi = u64::from(u32_at(&h, 0x24));
            let phoff = if big { (lo << 32) | hi } else { (hi << 32) | lo };
            (phoff, u16_at(&h, 0x36), u16_at(&h, 0x38))
        }
        _ => return Ok(false),
    };
    let table_len = usize::from(phentsize) * usize::from(phnum);
    if phentsize < 4 || table_len > 1 << 20 {
        return Ok(false); // not a sane ELF file
    }
    let mut table = vec![0u8; table_len];
    f.seek(SeekFrom::Start(phoff))?;
    f.read_exact(&mut table)?;
    const PT_INTERP: u32 = 3;
    Ok(table.chunks_exact(usize::from(phentsize)).all(|entry| u32_at(entry, 0) != PT_INTERP))
}

/// The applet paths of a busybox (`bin/sh`, `sbin/ip`, …) from `busybox --list-full`.
pub fn list_applets(busybox: &Path) -> Result<Vec<String>> {
    let out = run(busybox, &["--list-full"])
        .map_err(|e| Error::BusyboxListFailed { path: show(busybox), detail: e.to_string() })?;
    if !out.status.success() {
        return Err(Error::BusyboxListFailed { path: show(busybox), detail: out.status.to_string() });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let applets: Vec<String> = text.lines().map(str::trim).filter(|l| is_plain_relative(l)).map(String::from).collect();
    for needed in REQUIRED_APPLETS {
        if !applets.iter().any(|a| a.rsplit('/').next() == Some(needed)) {
            return Err(Error::BusyboxMissingApplet { path: show(busybox), applet: needed.to_string() });
        }
    }
    Ok(applets)
}

/// The version busybox prints in its banner ("BusyBox v1.35.0 (…) multi-call binary.").
pub fn version(busybox: &Path) -> Option<String> {
    let out = run(busybox, &[]).ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next()?;
    first.split_whitespace().nth(1).map(|v| v.trim_start_matches('v').to_string())
}

/// Run busybox. A file that was just written can be "busy" for a moment (ETXTBSY) when another
/// thread forks while the writer's fd is still open; that passes, so we try a few times.
fn run(busybox: &Path, args: &[&str]) -> io::Result<std::process::Output> {
    const ETXTBSY: i32 = 26;
    let mut tries = 0;
    loop {
        match Command::new(busybox).args(args).output() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < 10 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// A path like `usr/bin/wget`: relative, no `.`/`..`, no empty parts, harmless characters.
fn is_plain_relative(p: &str) -> bool {
    !p.is_empty()
        && p != "bin/busybox"
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
        && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+[".contains(&b))
}

/// Fill the (new, empty) directory `root` with a BusyBox root filesystem.
pub fn populate(root: &Path, busybox: &Path, applets: &[String]) -> Result<()> {
    // Paths inside the new tree are named relative to it (the tree has a temporary name).
    let io_err = |op: &'static str, p: &Path, e| Error::io(op, show(p.strip_prefix(root).unwrap_or(p)), e);
    for (dir, _) in DIRS {
        let p = root.join(dir);
        fs::create_dir_all(&p).map_err(|e| io_err("create_dir", &p, e))?;
    }

    let bin = root.join("bin/busybox");
    fs::copy(busybox, &bin).map_err(|e| io_err("copy", &bin, e))?;
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).map_err(|e| io_err("set_mode", &bin, e))?;

    // One symlink per applet, all pointing to /bin/busybox *inside* the container.
    for applet in applets {
        let link = root.join(applet);
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent).map_err(|e| io_err("create_dir", parent, e))?;
        }
        match symlink("/bin/busybox", &link) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {} // listed twice
            Err(e) => return Err(io_err("link", &link, e)),
        }
    }

    for (name, text) in [
        ("etc/passwd", PASSWD),
        ("etc/group", GROUP),
        ("etc/hostname", HOSTNAME),
        ("etc/hosts", HOSTS),
        ("etc/os-release", OS_RELEASE),
    ] {
        let p = root.join(name);
        fs::write(&p, text).map_err(|e| io_err("write", &p, e))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).map_err(|e| io_err("set_mode", &p, e))?;
    }

    // Modes last: create_dir_all used the umask, and /tmp must be exactly 1777.
    for (dir, mode) in DIRS {
        let p = root.join(dir);
        fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).map_err(|e| io_err("set_mode", &p, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_reader_tells_static_from_dynamic() {
        // /bin/busybox from busybox-static is static; /bin/ls (coreutils) is dynamic.
        if Path::new("/bin/busybox").exists() {
            assert!(is_static_elf(Path::new("/bin/busybox")).unwrap());
        }
        assert!(!is_static_elf(Path::new("/bin/ls")).unwrap());
        // Not an ELF file at all.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("script");
        fs::write(&f, "#!/bin/sh\necho hi\n").unwrap();
        assert!(!is_static_elf(&f).unwrap());
    }

    #[test]
    fn a_dynamic_binary_is_refused_with_install_hints() {
        let e = find_static(Some(Path::new("/bin/ls"))).unwrap_err();
        assert_eq!(e.code(), "rootfs.busybox_not_static");
        assert!(e.to_string().contains("apt-get install busybox-static"));
        let e = Error::NoStaticBusybox { searched: CANDIDATES.join(", ") };
        for hint in ["apt-get install busybox-static", "dnf install busybox", "apk add busybox-static"] {
            assert!(e.to_string().contains(hint), "{hint}");
        }
    }

    #[test]
    fn applet_paths_are_checked() {
        assert!(is_plain_relative("usr/bin/wget"));
        assert!(is_plain_relative("usr/bin/["));
        assert!(!is_plain_relative("/bin/sh"));
        assert!(!is_plain_relative("bin/../../etc/x"));
        assert!(!is_plain_relative("bin/busybox"));
    }
}
