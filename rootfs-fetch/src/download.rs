//! Download one file over HTTP(S) and verify its SHA-256 before anyone may use it.
//!
//! The bytes go to a temporary file in the destination directory while their hash is computed;
//! only when the whole body arrived and the hash matches the pinned one is the file renamed to
//! its final name. Any failure — offline, timeout, cut connection, wrong hash, full disk —
//! leaves no file behind.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::error::{show, Error, Result};
use crate::fsutil::TempPath;

/// No root filesystem tarball we fetch is anywhere near this; a bigger body is refused.
const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// How to download.
pub(crate) struct Options {
    /// Limit for connecting, and for the server to start answering.
    pub connect_timeout: Duration,
    /// Show a progress bar (only if stderr is a terminal).
    pub progress: bool,
}

/// Download `url` to `dest`, keeping it only if its SHA-256 is `expected_sha256` (lowercase hex).
pub(crate) fn download_verified(url: &str, dest: &Path, expected_sha256: &str, opts: &Options) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let file_name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = TempPath::new(dir, &file_name);

    let agent = agent(opts.connect_timeout);
    let response = agent.get(url).call().map_err(|e| from_ureq(url, opts.connect_timeout, e))?;
    let announced: Option<u64> =
        response.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    if announced.is_some_and(|n| n > MAX_BYTES) {
        return Err(Error::TooLarge { url: url.to_string(), limit_mb: MAX_BYTES >> 20 });
    }
    let mut body = response.into_body().into_reader();

    let bar = progress_bar(opts.progress, announced, &file_name);
    let write_err = |e| Error::io("write", show(dest), e);
    let mut out = File::create(tmp.path()).map_err(write_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut received: u64 = 0;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(from_io(url, opts.connect_timeout, e)),
        };
        received += n as u64;
        if received > MAX_BYTES {
            return Err(Error::TooLarge { url: url.to_string(), limit_mb: MAX_BYTES >> 20 });
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(write_err)?;
        if let Some(bar) = &bar {
            bar.inc(n as u64);
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    // ureq already checks Content-Length, but a short body must never pass silently.
    if announced.is_some_and(|n| n != received) {
        return Err(Error::Truncated { what: url.to_string() });
    }

    let got = hex(&hasher.finalize());
    if !got.eq_ignore_ascii_case(expected_sha256) {
        return Err(Error::ChecksumMismatch { file: file_name, expected: expected_sha256.to_ascii_lowercase(), got });
    }
    // Make sure the bytes are on disk before the name says "complete".
    out.sync_all().map_err(write_err)?;
    drop(out);
    tmp.persist(dest).map_err(|e| Error::io("install", show(dest), e))
}

/// SHA-256 of a file, as lowercase hex (used to re-check a cached download).
pub(crate) fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match f.read(&mut buf)? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A blocking HTTP client with short timeouts: `t` to connect and for the response to start,
/// and 10 × `t` of silence allowed in the middle of the body (slow links still work).
fn agent(t: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_resolve(Some(t))
        .timeout_connect(Some(t))
        .timeout_send_request(Some(t))
        .timeout_recv_response(Some(t))
        .timeout_per_read(Some(t * 10))
        .build()
        .new_agent()
}

fn progress_bar(wanted: bool, len: Option<u64>, name: &str) -> Option<ProgressBar> {
    if !wanted || !io::stderr().is_terminal() {
        return None;
    }
    let bar = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(name.to_string());
    Some(bar)
}

/// Turn a ureq error into our error: could not connect = Offline, silence = Timeout, ...
fn from_ureq(url: &str, t: Duration, e: ureq::Error) -> Error {
    use ureq::Timeout as T;
    let url_s = url.to_string();
    match e {
        ureq::Error::StatusCode(status) => Error::HttpStatus { url: url_s, status },
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => Error::Offline { url: url_s },
        ureq::Error::Timeout(T::Resolve | T::Connect) => Error::Offline { url: url_s },
        // A stall in the middle of the body is allowed 10 × t (see `agent`).
        ureq::Error::Timeout(T::PerRead) => Error::Timeout { url: url_s, seconds: (t * 10).as_secs().max(1) },
        ureq::Error::Timeout(_) => Error::Timeout { url: url_s, seconds: t.as_secs().max(1) },
        ureq::Error::Io(io) => from_io(url, t, io),
        other => Error::io("download", url, io::Error::other(other.to_string())),
    }
}

fn from_io(url: &str, t: Duration, e: io::Error) -> Error {
    // ureq wraps its own errors (such as a timeout while reading the body) in io::Error.
    if e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
        return match e.into_inner().and_then(|b| b.downcast::<ureq::Error>().ok()) {
            Some(inner) => from_ureq(url, t, *inner),
            None => Error::Truncated { what: url.to_string() },
        };
    }
    let url_s = url.to_string();
    match e.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::AddrNotAvailable
        | io::ErrorKind::NetworkDown => Error::Offline { url: url_s },
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            Error::Timeout { url: url_s, seconds: t.as_secs().max(1) }
        }
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            Error::Truncated { what: url_s }
        }
        // A name that does not resolve (no DNS, no network): std reports getaddrinfo's
        // failure with this text and no specific kind.
        _ if e.to_string().contains("failed to lookup address") => Error::Offline { url: url_s },
        _ => Error::io("download", url, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_of_known_sha256() {
        // SHA-256 of the empty string.
        assert_eq!(hex(&Sha256::digest(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
