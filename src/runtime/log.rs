//! The runtime's log, as runc's `--log FILE --log-format text|json` writes it:
//! logrus lines (`{"level":..,"msg":..,"time":..}` or `time=".." level=.. msg=".."`).
//! Engines give `--log`, read its last `level=error` line when a command fails, and
//! pass the runtime's stderr to the container's own output: so with a log, warnings go
//! only there, never into what the container prints.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

struct Sink {
    path: Option<PathBuf>,
    json: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Set once, by the command line, before any runtime command runs.
pub fn configure(path: Option<PathBuf>, json: bool) {
    let _ = SINK.set(Sink { path, json });
}

/// Whether a `--log` file was given.
pub fn has_file() -> bool {
    SINK.get().is_some_and(|s| s.path.is_some())
}

/// One line at `level` (debug, info, warning, error): in the log file, or on stderr
/// without one.
pub fn line(level: &str, message: &str) {
    let (path, json) = SINK.get().map(|s| (s.path.clone(), s.json)).unwrap_or((None, false));
    let time = super::state::now_rfc3339();
    let text = if json {
        serde_json::json!({"level": level, "msg": message, "time": time}).to_string()
    } else {
        format!("time=\"{time}\" level={level} msg={}", serde_json::Value::from(message))
    };
    match path {
        Some(path) => {
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
                let _ = writeln!(f, "{text}");
            }
        }
        None => eprintln!("{text}"),
    }
}

/// A warning: in the log when there is one, else one plain line on stderr.
pub fn warn(message: &str) {
    if has_file() {
        line("warning", message);
    } else {
        eprintln!("learnctr: warning: {message}");
    }
}
