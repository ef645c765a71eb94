//! Errors and notes.
//!
//! Every failure has its own variant, a stable dotted `code()` such as `rootfs.offline`, and the
//! named values of its sentence in `args()`. The English sentence comes from
//! `messages.en.txt` (compiled in), so the main crate can render the same code in Italian or
//! Portuguese from its own files and nothing here hard-codes English twice.

use std::fmt;
use std::io;
use std::path::Path;

/// The English templates, `code = sentence with {placeholders}`, one per line.
pub const MESSAGES_EN: &str = include_str!("../messages.en.txt");

/// The operations an `Io` error names; each has a phrase `rootfs.op.<op>` with `{path}`.
pub(crate) const OPS: &[&str] = &[
    "read",
    "write",
    "open",
    "inspect",
    "create_dir",
    "read_dir",
    "set_mode",
    "copy",
    "link",
    "remove",
    "install",
    "resolve",
    "download",
    "unpack",
    "metadata",
];

fn op_code(op: &str) -> &'static str {
    match op {
        "read" => "rootfs.op.read",
        "write" => "rootfs.op.write",
        "open" => "rootfs.op.open",
        "inspect" => "rootfs.op.inspect",
        "create_dir" => "rootfs.op.create_dir",
        "read_dir" => "rootfs.op.read_dir",
        "set_mode" => "rootfs.op.set_mode",
        "copy" => "rootfs.op.copy",
        "link" => "rootfs.op.link",
        "remove" => "rootfs.op.remove",
        "install" => "rootfs.op.install",
        "resolve" => "rootfs.op.resolve",
        "download" => "rootfs.op.download",
        "metadata" => "rootfs.op.metadata",
        _ => "rootfs.op.unpack",
    }
}

/// Look up the English template of `code` (None if the file has no such line).
pub fn template(code: &str) -> Option<&'static str> {
    MESSAGES_EN
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once(" = "))
        .find(|(c, _)| c.trim() == code)
        .map(|(_, t)| t.trim())
}

/// Fill `{name}` placeholders of `template` with `args`. Unknown placeholders stay as they are.
pub fn render(template: &str, args: &[(&'static str, String)]) -> String {
    let mut out = template.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// Render a code with its args in English; falls back to the code itself if a template is missing
/// (a unit test makes sure that never happens).
fn render_code(code: &'static str, args: &[(&'static str, String)]) -> String {
    match template(code) {
        Some(t) => render(t, args),
        None => code.to_string(),
    }
}

/// Everything that can go wrong while getting a root filesystem.
#[derive(Debug)]
pub enum Error {
    /// DNS failed, the connection was refused, or connecting took longer than the connect timeout.
    Offline { url: String },
    /// The server accepted the connection but stayed silent too long.
    Timeout { url: String, seconds: u64 },
    /// The server answered with an HTTP error status.
    HttpStatus { url: String, status: u16 },
    /// The server sent (or announced) far more data than a root filesystem needs.
    TooLarge { url: String, limit_mb: u64 },
    /// A download or a compressed stream stopped before its end.
    Truncated { what: String },
    /// The downloaded bytes are not the pinned ones.
    ChecksumMismatch { file: String, expected: String, got: String },
    /// No Alpine release is pinned for this CPU architecture.
    NoAlpineForArch { arch: String },
    /// No statically linked busybox exists in the usual places.
    NoStaticBusybox { searched: String },
    /// The busybox the caller named is dynamically linked (or not an ELF file at all).
    BusyboxNotStatic { path: String },
    /// `busybox --list-full` could not be run.
    BusyboxListFailed { path: String, detail: String },
    /// The busybox lacks an applet the lessons need.
    BusyboxMissingApplet { path: String, applet: String },
    /// An archive entry tried to escape the target directory or is otherwise unsafe.
    UnsafeEntry { path: String, why: String },
    /// An archive entry's path is longer than PATH_MAX (4096) or has a name longer than 255 bytes.
    PathTooLong { path: String },
    /// The archive is damaged: a header after the first entry, or its compressed data, cannot
    /// be read. Never the parser's own message: it quotes the bytes it read.
    BadArchive { what: String },
    /// The file is not a tar archive at all (its first header cannot be read).
    NotAnArchive { what: String },
    /// The archive is valid but holds no entry.
    EmptyArchive { what: String },
    /// The archive is compressed with something other than gzip.
    UnsupportedCompression { what: String, kind: String },
    /// A directory to import is empty.
    EmptyDirectory { path: String },
    /// A directory to import holds the store itself (`/`, for instance).
    HoldsStore { path: String, store: String },
    /// No root filesystem has this name.
    NotFound { name: String },
    /// A root filesystem with this name is already there.
    AlreadyExists { name: String },
    /// The name is not allowed.
    BadName { name: String },
    /// A path the caller gave does not exist.
    PathNotFound { path: String },
    /// A path the caller gave is not a directory.
    NotADirectory { path: String },
    /// A directory the caller gave has no `bin/sh`.
    NoShell { path: String },
    /// `fetch(Any)`: both Alpine and BusyBox failed.
    NothingAvailable { alpine: Box<Error>, busybox: Box<Error> },
    /// A file system operation failed: `op` is the code of its phrase (`rootfs.op.write` is
    /// "write {path}"), `path` what it was done to.
    Io { op: &'static str, path: String, source: io::Error },
}

impl Error {
    /// The stable key of this error, used to find its sentence in every language.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Offline { .. } => "rootfs.offline",
            Error::Timeout { .. } => "rootfs.timeout",
            Error::HttpStatus { .. } => "rootfs.http_status",
            Error::TooLarge { .. } => "rootfs.too_large",
            Error::Truncated { .. } => "rootfs.truncated",
            Error::ChecksumMismatch { .. } => "rootfs.checksum_mismatch",
            Error::NoAlpineForArch { .. } => "rootfs.no_alpine_for_arch",
            Error::NoStaticBusybox { .. } => "rootfs.no_static_busybox",
            Error::BusyboxNotStatic { .. } => "rootfs.busybox_not_static",
            Error::BusyboxListFailed { .. } => "rootfs.busybox_list_failed",
            Error::BusyboxMissingApplet { .. } => "rootfs.busybox_missing_applet",
            Error::UnsafeEntry { .. } => "rootfs.unsafe_entry",
            Error::PathTooLong { .. } => "rootfs.path_too_long",
            Error::BadArchive { .. } => "rootfs.bad_archive",
            Error::NotAnArchive { .. } => "rootfs.not_an_archive",
            Error::EmptyArchive { .. } => "rootfs.empty_archive",
            Error::UnsupportedCompression { .. } => "rootfs.unsupported_compression",
            Error::EmptyDirectory { .. } => "rootfs.empty_directory",
            Error::HoldsStore { .. } => "rootfs.holds_store",
            Error::NotFound { .. } => "rootfs.not_found",
            Error::AlreadyExists { .. } => "rootfs.already_exists",
            Error::BadName { .. } => "rootfs.bad_name",
            Error::PathNotFound { .. } => "rootfs.path_not_found",
            Error::NotADirectory { .. } => "rootfs.not_a_directory",
            Error::NoShell { .. } => "rootfs.no_shell",
            Error::NothingAvailable { .. } => "rootfs.nothing_available",
            Error::Io { .. } => "rootfs.io",
        }
    }

    /// The named values that appear in the sentence, e.g. `[("url", "https://…")]`.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        match self {
            Error::Offline { url } => vec![("url", url.clone())],
            Error::Timeout { url, seconds } => vec![("url", url.clone()), ("seconds", seconds.to_string())],
            Error::HttpStatus { url, status } => vec![("url", url.clone()), ("status", status.to_string())],
            Error::TooLarge { url, limit_mb } => vec![("url", url.clone()), ("limit_mb", limit_mb.to_string())],
            Error::Truncated { what } => vec![("what", what.clone())],
            Error::ChecksumMismatch { file, expected, got } => {
                vec![("file", file.clone()), ("expected", expected.clone()), ("got", got.clone())]
            }
            Error::NoAlpineForArch { arch } => vec![("arch", arch.clone())],
            Error::NoStaticBusybox { searched } => vec![("searched", searched.clone())],
            Error::BusyboxNotStatic { path } => vec![("path", path.clone())],
            Error::BusyboxListFailed { path, detail } => vec![("path", path.clone()), ("detail", detail.clone())],
            Error::BusyboxMissingApplet { path, applet } => vec![("path", path.clone()), ("applet", applet.clone())],
            Error::UnsafeEntry { path, why } => vec![("path", path.clone()), ("why", why.clone())],
            Error::PathTooLong { path } => vec![("path", path.clone())],
            Error::BadArchive { what } | Error::NotAnArchive { what } | Error::EmptyArchive { what } => {
                vec![("what", what.clone())]
            }
            Error::UnsupportedCompression { what, kind } => vec![("what", what.clone()), ("kind", kind.clone())],
            Error::HoldsStore { path, store } => vec![("path", path.clone()), ("store", store.clone())],
            Error::NotFound { name } | Error::AlreadyExists { name } | Error::BadName { name } => {
                vec![("name", name.clone())]
            }
            Error::PathNotFound { path }
            | Error::NotADirectory { path }
            | Error::NoShell { path }
            | Error::EmptyDirectory { path } => {
                vec![("path", path.clone())]
            }
            Error::NothingAvailable { alpine, busybox } => {
                vec![("alpine", alpine.to_string()), ("busybox", busybox.to_string())]
            }
            Error::Io { op, path, source } => {
                vec![("what", render_code(op_code(op), &[("path", path.clone())])), ("detail", source.to_string())]
            }
        }
    }

    /// Helper: wrap an `io::Error` with the operation (one of `OPS`) and its path.
    pub(crate) fn io(op: &'static str, path: impl Into<String>, source: io::Error) -> Error {
        debug_assert!(OPS.contains(&op), "unknown operation {op}");
        Error::Io { op, path: path.into(), source }
    }

    /// For `Io`: the code of the operation's phrase (`rootfs.op.write`), its path and the
    /// error, so a caller can say all three in another language.
    pub fn io_parts(&self) -> Option<(&'static str, &str, &io::Error)> {
        match self {
            Error::Io { op, path, source } => Some((op_code(op), path, source)),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render_code(self.code(), &self.args()))
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Something worth telling the learner that is not an error: an entry skipped while unpacking,
/// or the fact that BusyBox was used because Alpine could not be downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Stable key, e.g. `rootfs.note.skipped_device`; its English sentence is in messages.en.txt.
    pub code: &'static str,
    /// The named values of the sentence.
    pub args: Vec<(&'static str, String)>,
}

impl Note {
    pub(crate) fn new(code: &'static str, args: Vec<(&'static str, String)>) -> Note {
        Note { code, args }
    }

    /// A note about one archive entry (`{path}` is the only value).
    pub(crate) fn entry(code: &'static str, path: &str) -> Note {
        Note::new(code, vec![("path", path.to_string())])
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render_code(self.code, &self.args))
    }
}

/// Shorthand used everywhere in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Show a path in messages (lossy for non-UTF-8 names, which is fine for humans).
pub(crate) fn show(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of every variant, so the test below covers every code.
    fn every_error() -> Vec<Error> {
        let s = || "x".to_string();
        vec![
            Error::Offline { url: s() },
            Error::Timeout { url: s(), seconds: 3 },
            Error::HttpStatus { url: s(), status: 404 },
            Error::TooLarge { url: s(), limit_mb: 256 },
            Error::Truncated { what: s() },
            Error::ChecksumMismatch { file: s(), expected: s(), got: s() },
            Error::NoAlpineForArch { arch: s() },
            Error::NoStaticBusybox { searched: s() },
            Error::BusyboxNotStatic { path: s() },
            Error::BusyboxListFailed { path: s(), detail: s() },
            Error::BusyboxMissingApplet { path: s(), applet: s() },
            Error::UnsafeEntry { path: s(), why: s() },
            Error::PathTooLong { path: s() },
            Error::BadArchive { what: s() },
            Error::NotAnArchive { what: s() },
            Error::EmptyArchive { what: s() },
            Error::UnsupportedCompression { what: s(), kind: s() },
            Error::EmptyDirectory { path: s() },
            Error::HoldsStore { path: s(), store: s() },
            Error::NotFound { name: s() },
            Error::AlreadyExists { name: s() },
            Error::BadName { name: s() },
            Error::PathNotFound { path: s() },
            Error::NotADirectory { path: s() },
            Error::NoShell { path: s() },
            Error::NothingAvailable {
                alpine: Box::new(Error::Offline { url: s() }),
                busybox: Box::new(Error::NoStaticBusybox { searched: s() }),
            },
            Error::io("read", "x", io::Error::other("boom")),
        ]
    }

    const NOTE_CODES: &[&str] = &[
        "rootfs.note.fell_back_to_busybox",
        "rootfs.note.stripped_absolute",
        "rootfs.note.skipped_device",
        "rootfs.note.skipped_fifo",
        "rootfs.note.skipped_other",
        "rootfs.note.dropped_setid",
        "rootfs.note.replaced_symlink",
        "rootfs.note.no_shell",
    ];

    #[test]
    fn every_code_has_a_template_and_every_placeholder_an_arg() {
        for e in every_error() {
            let t = template(e.code()).unwrap_or_else(|| panic!("no template for {}", e.code()));
            let rendered = e.to_string();
            assert!(!rendered.contains('{'), "{} leaves a placeholder: {rendered}", e.code());
            assert!(!rendered.starts_with(char::is_uppercase), "{} starts with a capital: {rendered}", e.code());
            assert!(rendered.ends_with('.'), "{} is not one sentence: {rendered}", e.code());
            for (name, _) in e.args() {
                assert!(t.contains(&format!("{{{name}}}")), "{} template lacks {{{name}}}", e.code());
            }
        }
        for code in NOTE_CODES.iter().copied().chain(OPS.iter().map(|op| op_code(op))) {
            assert!(template(code).is_some(), "no template for {code}");
        }
        for op in OPS {
            assert_eq!(op_code(op), format!("rootfs.op.{op}"), "{op} has a phrase of its own");
        }
    }

    #[test]
    fn every_template_line_is_used() {
        // The file must not keep sentences for codes that no longer exist.
        let mut known: Vec<&str> = every_error().iter().map(|e| e.code()).collect();
        known.extend_from_slice(NOTE_CODES);
        known.extend(OPS.iter().map(|op| op_code(op)));
        for line in MESSAGES_EN.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            let (code, _) = line.split_once(" = ").expect("line of the form `code = template`");
            assert!(known.contains(&code.trim()), "unused code {code}");
        }
    }

    #[test]
    fn display_renders_values() {
        let e = Error::ChecksumMismatch { file: "f.tgz".into(), expected: "aa".into(), got: "bb".into() };
        assert_eq!(
            e.to_string(),
            "the file f.tgz has SHA-256 bb but aa was expected, so it was deleted and nothing was unpacked; \
             try again, and if it happens again do not trust this network or mirror."
        );
        let n = Note::entry("rootfs.note.skipped_fifo", "dev/fifo");
        assert_eq!(n.to_string(), "the archive entry dev/fifo is a named pipe (FIFO); it was skipped.");
        let e = Error::io("write", "/x/y.tar.gz", io::Error::from(io::ErrorKind::NotFound));
        assert!(e.to_string().starts_with("could not write /x/y.tar.gz ("), "{e}");
        assert_eq!(e.io_parts().map(|(op, path, _)| (op, path)), Some(("rootfs.op.write", "/x/y.tar.gz")));
    }
}
