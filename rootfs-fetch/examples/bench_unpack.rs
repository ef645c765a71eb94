//! Benchmark: unpack an Alpine-minirootfs-sized .tar.gz with rootfs-fetch and with GNU tar.
//!
//! Run: `cargo run --release -p rootfs-fetch --example bench_unpack [N]` (default N = 15).
//!
//! The archive is generated, not downloaded: about 80 directories, 100 files of realistic sizes
//! (a 4 MB "libcrypto", an 800 KB "busybox", many small /etc files), 330 symlinks, ~3.5 MB
//! compressed. Runs alternate between the two tools, each into a fresh directory, and the
//! medians are compared (GNU tar's time includes starting `tar` and its `gzip` child, which
//! is what `tar -xzf` costs).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A small deterministic random generator (xorshift), so every run builds the same archive.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Bytes that compress about like machine code (~40%): random runs mixed with repeats.
fn binary_like(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let chunk = 16 + rng.below(48) as usize;
        if out.len() < 256 || rng.below(100) < 41 {
            for _ in 0..chunk {
                out.push(rng.next() as u8);
            }
        } else {
            let back = 1 + rng.below(out.len().min(8192) as u64) as usize;
            let start = out.len() - back;
            for i in 0..chunk {
                out.push(out[start + i % back]);
            }
        }
    }
    out.truncate(len);
    out
}

/// Text that compresses like config files and scripts.
fn text_like(rng: &mut Rng, len: usize) -> Vec<u8> {
    const WORDS: &[&str] =
        &["root", "alpine", "etc", "bin", "sh", "export", "PATH", "if", "then", "fi", "echo", "the", "=", "#", "\n"];
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
        out.push(b' ');
    }
    out.truncate(len);
    out
}

fn generate(path: &Path) -> std::io::Result<(usize, u64)> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let gz = flate2::write::GzEncoder::new(fs::File::create(path)?, flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    let mut count = 0;
    let mut raw = 0u64;
    let mut add = |b: &mut tar::Builder<_>,
                   p: &str,
                   kind: tar::EntryType,
                   mode: u32,
                   link: Option<&str>,
                   data: &[u8]|
     -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_mtime(1_739_500_000);
        h.set_size(data.len() as u64);
        count += 1;
        raw += data.len() as u64;
        match link {
            Some(l) => b.append_link(&mut h, p, l),
            None => b.append_data(&mut h, p, data),
        }
    };
    use tar::EntryType::{Directory, Regular, Symlink};
    let dirs = [
        "bin",
        "dev",
        "etc",
        "etc/apk",
        "etc/apk/keys",
        "etc/apk/protected_paths.d",
        "etc/conf.d",
        "etc/crontabs",
        "etc/init.d",
        "etc/logrotate.d",
        "etc/modprobe.d",
        "etc/modules-load.d",
        "etc/network",
        "etc/network/if-up.d",
        "etc/opt",
        "etc/periodic",
        "etc/periodic/daily",
        "etc/periodic/hourly",
        "etc/periodic/monthly",
        "etc/periodic/weekly",
        "etc/profile.d",
        "etc/secfixes.d",
        "etc/ssl",
        "etc/ssl/certs",
        "etc/ssl/misc",
        "etc/ssl/private",
        "etc/sysctl.d",
        "home",
        "lib",
        "lib/apk",
        "lib/apk/db",
        "lib/apk/exec",
        "lib/firmware",
        "lib/modules-load.d",
        "lib/sysctl.d",
        "media",
        "media/cdrom",
        "media/floppy",
        "media/usb",
        "mnt",
        "opt",
        "proc",
        "root",
        "run",
        "sbin",
        "srv",
        "sys",
        "tmp",
        "usr",
        "usr/bin",
        "usr/lib",
        "usr/lib/engines-3",
        "usr/lib/ossl-modules",
        "usr/local",
        "usr/local/bin",
        "usr/local/lib",
        "usr/local/share",
        "usr/sbin",
        "usr/share",
        "usr/share/apk",
        "usr/share/apk/keys",
        "usr/share/man",
        "usr/share/misc",
        "usr/share/udhcpc",
        "var",
        "var/cache",
        "var/cache/apk",
        "var/cache/misc",
        "var/empty",
        "var/lib",
        "var/lib/misc",
        "var/lib/udhcpd",
        "var/local",
        "var/lock",
        "var/log",
        "var/mail",
        "var/opt",
        "var/spool",
        "var/spool/cron",
        "var/tmp",
    ];
    add(&mut b, "./", Directory, 0o755, None, b"")?;
    for d in dirs {
        let mode = if d == "tmp" || d == "var/tmp" { 0o1777 } else { 0o755 };
        add(&mut b, &format!("./{d}/"), Directory, mode, None, b"")?;
    }
    // Big binaries and libraries.
    let big: &[(&str, usize)] = &[
        ("bin/busybox", 808_712),
        ("lib/ld-musl-x86_64.so.1", 657_128),
        ("lib/libapk.so.2.14.0", 231_016),
        ("sbin/apk", 67_920),
        ("usr/lib/libcrypto.so.3", 4_338_808),
        ("usr/lib/libssl.so.3", 608_312),
        ("usr/lib/libz.so.1.3.1", 100_184),
        ("usr/bin/ssl_client", 14_272),
        ("usr/bin/scanelf", 79_152),
        ("usr/bin/getconf", 38_928),
        ("usr/bin/iconv", 22_824),
        ("usr/bin/getent", 50_400),
        ("usr/lib/engines-3/afalg.so", 14_480),
        ("usr/lib/engines-3/capi.so", 14_480),
        ("usr/lib/engines-3/loader_attic.so", 71_832),
        ("usr/lib/engines-3/padlock.so", 14_480),
        ("usr/lib/ossl-modules/legacy.so", 137_712),
        ("usr/share/misc/pci.ids", 300_000),
        ("etc/ssl/certs/ca-certificates.crt", 220_000),
        ("etc/services", 12_813),
    ];
    for (p, len) in big {
        let data = if p.ends_with(".ids") || p.ends_with(".crt") || p.ends_with("services") {
            text_like(&mut rng, *len)
        } else {
            binary_like(&mut rng, *len)
        };
        add(&mut b, p, Regular, 0o755, None, &data)?;
    }
    // Many small configuration files and scripts.
    for i in 0..85 {
        let dir =
            ["etc", "etc/init.d", "etc/conf.d", "etc/apk/keys", "etc/profile.d", "usr/share/apk/keys", "lib/apk/db"]
                [i % 7];
        let len = 60 + rng.below(3000) as usize;
        let data = text_like(&mut rng, len);
        add(&mut b, &format!("{dir}/file{i}"), Regular, 0o644, None, &data)?;
    }
    // Busybox applet symlinks and library links.
    for i in 0..320 {
        let dir = ["bin", "sbin", "usr/bin", "usr/sbin"][i % 4];
        add(&mut b, &format!("{dir}/applet{i}"), Symlink, 0o777, Some("/bin/busybox"), b"")?;
    }
    for (p, to) in [
        ("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
        ("lib/libapk.so", "libapk.so.2.14.0"),
        ("usr/lib/libz.so.1", "libz.so.1.3.1"),
        ("usr/bin/ldd", "../../lib/ld-musl-x86_64.so.1"),
        ("bin/sh", "/bin/busybox"),
        ("etc/mtab", "../proc/mounts"),
        ("var/run", "../run"),
        ("var/spool/mail", "../mail"),
    ] {
        add(&mut b, p, Symlink, 0o777, Some(to), b"")?;
    }
    let mut gz = b.into_inner()?;
    gz.flush()?;
    gz.finish()?;
    Ok((count, raw))
}

fn median(v: &mut [Duration]) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(15);
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return eprintln!("cannot create a temporary directory: {e}"),
    };
    let archive = dir.path().join("rootfs.tar.gz");
    let (entries, raw) = match generate(&archive) {
        Ok(x) => x,
        Err(e) => return eprintln!("cannot generate the archive: {e}"),
    };
    let size = fs::metadata(&archive).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "archive: {entries} entries, {:.1} MB of file data, {:.2} MB compressed; {n} runs each",
        raw as f64 / 1e6,
        size as f64 / 1e6
    );

    let (mut ours, mut gnu) = (Vec::new(), Vec::new());
    for i in 0..n {
        let a = dir.path().join(format!("ours-{i}"));
        let started = Instant::now();
        let result = fs::File::open(&archive)
            .map_err(|e| e.to_string())
            .and_then(|f| rootfs_fetch::unpack::unpack(f, &a).map_err(|e| e.to_string()));
        ours.push(started.elapsed());
        if let Err(e) = result {
            return eprintln!("rootfs-fetch failed: {e}");
        }

        let b = dir.path().join(format!("tar-{i}"));
        if let Err(e) = fs::create_dir(&b) {
            return eprintln!("cannot create {}: {e}", b.display());
        }
        let started = Instant::now();
        let status = Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(&b).status();
        gnu.push(started.elapsed());
        if !status.is_ok_and(|s| s.success()) {
            return eprintln!("GNU tar failed");
        }
        let _ = fs::remove_dir_all(&a);
        let _ = fs::remove_dir_all(&b);
    }
    // Decompression alone (no files written), to see what the flate2 backend costs.
    let mut inflate = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let ok = fs::File::open(&archive).and_then(|f| {
            let mut gz = flate2::read::GzDecoder::new(std::io::BufReader::with_capacity(256 * 1024, f));
            std::io::copy(&mut gz, &mut std::io::sink())
        });
        inflate.push(started.elapsed());
        if let Err(e) = ok {
            return eprintln!("gzip failed: {e}");
        }
    }
    eprintln!("gzip decompression alone: median {:.1} ms", median(&mut inflate));
    let (o, g) = (median(&mut ours), median(&mut gnu));
    println!("unpack: rootfs-fetch median {o:.1} ms, GNU tar median {g:.1} ms, ratio {:.2}", o / g);
}
