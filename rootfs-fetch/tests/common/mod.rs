//! Helpers shared by the integration tests: generated tarballs, a tiny HTTP server on
//! 127.0.0.1, and snapshots of directory trees to compare.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Append one entry with a raw name written straight into the header, bypassing the tar crate's
/// own path checks (so tests can build hostile archives). Names and link targets longer than
/// 100 bytes get a GNU long-name / long-link entry first, like GNU tar writes them.
pub fn raw_entry<W: Write>(
    b: &mut tar::Builder<W>,
    path: &[u8],
    kind: EntryType,
    mode: u32,
    link: Option<&[u8]>,
    data: &[u8],
) {
    if path.len() > 99 {
        long_entry(b, EntryType::GNULongName, path);
    }
    if let Some(l) = link {
        if l.len() > 99 {
            long_entry(b, EntryType::GNULongLink, l);
        }
    }
    let mut h = Header::new_gnu();
    {
        let name = &mut h.as_old_mut().name;
        let n = path.len().min(99);
        name[..n].copy_from_slice(&path[..n]);
    }
    if let Some(l) = link {
        let field = &mut h.as_old_mut().linkname;
        let n = l.len().min(99);
        field[..n].copy_from_slice(&l[..n]);
    }
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_size(data.len() as u64);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn long_entry<W: Write>(b: &mut tar::Builder<W>, kind: EntryType, value: &[u8]) {
    let mut data = value.to_vec();
    data.push(0);
    let mut h = Header::new_gnu();
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_cksum();
    b.append(&h, &data[..]).unwrap();
}

/// An Alpine-minirootfs-like archive (plain tar): the usual directories, `bin/busybox` with
/// hundreds of applet symlinks to `/bin/busybox` (absolute, as in real rootfs tarballs),
/// /etc files, libraries, a setuid binary, a hard link and a path longer than 100 bytes.
pub fn alpine_like_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, p: &str, mode: u32| {
        raw_entry(b, p.as_bytes(), EntryType::Directory, mode, None, b"")
    };
    let file = |b: &mut tar::Builder<Vec<u8>>, p: &str, mode: u32, data: &[u8]| {
        raw_entry(b, p.as_bytes(), EntryType::Regular, mode, None, data)
    };
    let link = |b: &mut tar::Builder<Vec<u8>>, p: &str, to: &str| {
        raw_entry(b, p.as_bytes(), EntryType::Symlink, 0o777, Some(to.as_bytes()), b"")
    };
    dir(&mut b, "./", 0o755);
    for d in [
        "bin",
        "sbin",
        "etc",
        "etc/apk",
        "lib",
        "usr",
        "usr/bin",
        "usr/sbin",
        "usr/lib",
        "usr/share",
        "var",
        "proc",
        "sys",
        "dev",
        "run",
    ] {
        dir(&mut b, &format!("./{d}/"), 0o755);
    }
    dir(&mut b, "./tmp/", 0o1777);
    dir(&mut b, "./root/", 0o700);
    let busybox: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    file(&mut b, "./bin/busybox", 0o755, &busybox);
    link(&mut b, "./bin/sh", "/bin/busybox");
    for i in 0..300 {
        let dir = ["bin", "sbin", "usr/bin", "usr/sbin"][i % 4];
        link(&mut b, &format!("./{dir}/applet{i}"), "/bin/busybox");
    }
    file(
        &mut b,
        "./etc/os-release",
        0o644,
        b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.21.3\nPRETTY_NAME=\"Alpine Linux v3.21\"\n",
    );
    file(&mut b, "./etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n");
    file(&mut b, "./etc/shadow", 0o640, b"root:*::0:::::\n");
    file(&mut b, "./etc/apk/world", 0o644, b"alpine-baselayout\nbusybox\n");
    for i in 0..60 {
        let data: Vec<u8> = format!("library {i} ").repeat(50 + i * 40).into_bytes();
        file(&mut b, &format!("./usr/lib/lib{i}.so.1"), 0o755, &data);
        link(&mut b, &format!("./usr/lib/lib{i}.so"), &format!("lib{i}.so.1"));
    }
    file(&mut b, "./bin/bbsuid", 0o4755, b"setuid helper");
    raw_entry(&mut b, b"./usr/bin/busybox-hardlink", EntryType::Link, 0o755, Some(b"./bin/busybox"), b"");
    let long = format!("./usr/share/{}/{}", "d".repeat(80), "f".repeat(60));
    dir(&mut b, &format!("./usr/share/{}/", "d".repeat(80)), 0o755);
    file(&mut b, &long, 0o644, b"a file with a long path");
    b.into_inner().unwrap()
}

pub fn alpine_like_tar_gz() -> Vec<u8> {
    gzip(&alpine_like_tar())
}

/// What a tiny test HTTP server answers.
#[derive(Clone)]
pub enum Reply {
    /// 200 with this body.
    File(Vec<u8>),
    /// 200 announcing `Content-Length` of the full body, sending only half, then closing.
    Truncated(Vec<u8>),
    /// Accept the connection, read the request, never answer (for `hold`).
    Silent(Duration),
    /// This status with an empty body.
    Status(u16),
}

pub struct Server {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Number of requests received.
    pub hits: Arc<AtomicUsize>,
    /// Paths requested.
    pub paths: Arc<std::sync::Mutex<Vec<String>>>,
}

/// Serve `reply` on 127.0.0.1 (never anything else) for at most 30 s.
pub fn serve(reply: Reply) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let paths = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (h, p) = (hits.clone(), paths.clone());
    thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, _)) => {
                    let (reply, h, p) = (reply.clone(), h.clone(), p.clone());
                    thread::spawn(move || answer(stream, reply, h, p));
                }
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    Server { base, hits, paths }
}

fn answer(mut s: TcpStream, reply: Reply, hits: Arc<AtomicUsize>, paths: Arc<std::sync::Mutex<Vec<String>>>) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let line = String::from_utf8_lossy(&req).lines().next().unwrap_or("").to_string();
    paths.lock().unwrap().push(line.split(' ').nth(1).unwrap_or("").to_string());
    match reply {
        Reply::File(body) => {
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = s.write_all(&body);
        }
        Reply::Truncated(body) => {
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = s.write_all(&body[..body.len() / 2]);
            let _ = s.flush();
        }
        Reply::Silent(hold) => thread::sleep(hold),
        Reply::Status(code) => {
            let _ = write!(s, "HTTP/1.1 {code} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    }
}

/// A port on 127.0.0.1 where nothing listens (connections are refused).
pub fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}

/// One file system object, as compared between trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir { mode: u32, uid: u32, gid: u32 },
    File { mode: u32, uid: u32, gid: u32, sha256: String },
    Symlink { target: PathBuf },
    Other { mode: u32 },
}

/// Every path under `root` (not following symlinks) with its type, mode, owner and content.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut map = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let mode = m.permissions().mode() & 0o7777;
            let node = if m.is_dir() {
                stack.push(p.clone());
                Node::Dir { mode, uid: m.uid(), gid: m.gid() }
            } else if m.file_type().is_symlink() {
                Node::Symlink { target: fs::read_link(&p).unwrap() }
            } else if m.is_file() {
                Node::File { mode, uid: m.uid(), gid: m.gid(), sha256: sha256_hex(&fs::read(&p).unwrap()) }
            } else {
                Node::Other { mode }
            };
            map.insert(rel, node);
        }
    }
    map
}

/// Names in a directory (empty if it does not exist).
pub fn names(dir: &Path) -> Vec<String> {
    match fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    }
}

pub fn is_root() -> bool {
    rustix_uid() == 0
}

fn rustix_uid() -> u32 {
    fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX)
}

/// For tests that need root: true to go on; false to skip (with a message), but a CI run
/// (CI=true) must not silently skip, so there it panics.
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} needs root and CI=true: run the tests as root");
    }
    eprintln!("skipping {test}: it needs root (run the tests as root)");
    false
}
