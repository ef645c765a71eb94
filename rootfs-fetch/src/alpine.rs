//! The pinned Alpine Linux minirootfs release.
//!
//! "Pinned" means we name one exact release *and* the SHA-256 of its tarball. Whatever server or
//! mirror the bytes come from, they are unpacked only if they hash to this value, so a
//! compromised mirror or a broken download cannot slip anything in.
//!
//! The hashes below were not computed here (this machine cannot reach the Alpine CDN); each
//! comes from a public source that pins the same file, and agrees with several other
//! independent public files that pin it in hex. To move to a newer release, take the value from
//! the `.sha256` file Alpine publishes next to each tarball, and say where it came from.

use crate::error::{Error, Result};

/// The real Alpine download server.
pub const ALPINE_CDN: &str = "https://dl-cdn.alpinelinux.org/alpine";

/// The pinned release.
pub const ALPINE_VERSION: &str = "3.21.3";

/// sha256 of alpine-minirootfs-3.21.3-x86_64.tar.gz.
/// Source: GitHub pyrex41/sq-sandbox, file modules/base-alpine.nix (Nix SRI hash
/// `sha256-GmlImeQGzlXTIzTEesCy77bAbX6HgQLRhAiSrUTNUjk=`, which is this value in base64).
pub const SHA256_X86_64: &str = "1a694899e406ce55d32334c47ac0b2efb6c06d7e878102d1840892ad44cd5239";

/// sha256 of alpine-minirootfs-3.21.3-aarch64.tar.gz.
/// Source: GitHub pyrex41/sq-sandbox, file modules/base-alpine.nix (Nix SRI hash
/// `sha256-6tiks3hnvRnnQX3QeHSOIxLArqNkQD2WdY1j6o/yYeo=`, which is this value in base64).
pub const SHA256_AARCH64: &str = "ead8a4b37867bd19e7417dd078748e2312c0aea364403d96758d63ea8ff261ea";

/// One Alpine minirootfs tarball: which version, for which CPU, and the hash it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlpineRelease {
    /// e.g. "3.21.3"
    pub version: String,
    /// Alpine's name for the architecture, e.g. "x86_64", "aarch64".
    pub arch: String,
    /// Lowercase hex SHA-256 of the .tar.gz file.
    pub sha256: String,
}

impl AlpineRelease {
    /// The pinned release for the CPU this program runs on.
    pub fn pinned_for_host() -> Result<AlpineRelease> {
        AlpineRelease::pinned(host_arch())
    }

    /// The pinned release for an Alpine architecture name; an error says to use BusyBox if
    /// no hash is pinned for it.
    pub fn pinned(arch: &str) -> Result<AlpineRelease> {
        let sha256 = match arch {
            "x86_64" => SHA256_X86_64,
            "aarch64" => SHA256_AARCH64,
            _ => return Err(Error::NoAlpineForArch { arch: arch.to_string() }),
        };
        Ok(AlpineRelease { version: ALPINE_VERSION.into(), arch: arch.into(), sha256: sha256.into() })
    }

    /// `alpine-minirootfs-3.21.3-x86_64.tar.gz`
    pub fn file_name(&self) -> String {
        format!("alpine-minirootfs-{}-{}.tar.gz", self.version, self.arch)
    }

    /// `<base>/v3.21/releases/x86_64/alpine-minirootfs-3.21.3-x86_64.tar.gz`
    pub fn url(&self, base: &str) -> String {
        let branch: Vec<&str> = self.version.split('.').take(2).collect();
        format!("{}/v{}/releases/{}/{}", base.trim_end_matches('/'), branch.join("."), self.arch, self.file_name())
    }

    /// The name of the unpacked root filesystem: `alpine-3.21.3`.
    pub fn rootfs_name(&self) -> String {
        format!("alpine-{}", self.version)
    }
}

/// Alpine's name for the architecture this program was built for.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "arm" => "armv7",
        "powerpc64" => "ppc64le",
        other => other, // x86_64, aarch64, x86, s390x, riscv64, loongarch64 are spelled alike
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_names() {
        let r = AlpineRelease::pinned("x86_64").unwrap();
        assert_eq!(
            r.url("https://dl-cdn.alpinelinux.org/alpine/"),
            "https://dl-cdn.alpinelinux.org/alpine/v3.21/releases/x86_64/alpine-minirootfs-3.21.3-x86_64.tar.gz"
        );
        assert_eq!(r.rootfs_name(), "alpine-3.21.3");
        assert_eq!(r.sha256.len(), 64);
        assert_eq!(AlpineRelease::pinned("aarch64").unwrap().sha256, SHA256_AARCH64);
    }

    #[test]
    fn unpinned_arch_says_use_busybox() {
        let e = AlpineRelease::pinned("s390x").unwrap_err();
        assert_eq!(e.code(), "rootfs.no_alpine_for_arch");
        assert!(e.to_string().contains("no pinned Alpine release for this architecture"));
        assert!(e.to_string().contains("use busybox"));
    }
}
