//! The bridge between the course and the `rootfs-fetch` crate: which root filesystem a
//! lesson uses, the `learnctr rootfs` commands, and the crate's sentences in the
//! learner's language.

use crate::course::Failure;
use crate::i18n::{self, fill, tf, Lang};
use colored::Colorize;
use rootfs_fetch::{Preference, Store};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The store: `/var/cache/learnctr` and `/var/lib/learnctr/rootfs`, or below
/// `LEARNCTR_STORE_DIR` (the tests use their own).
pub fn store() -> Store {
    match std::env::var_os("LEARNCTR_STORE_DIR") {
        Some(dir) => Store::with_dirs(Path::new(&dir).join("cache"), Path::new(&dir).join("rootfs")),
        None => Store::system(),
    }
}

/// The Italian and Portuguese sentences of the crate's codes (English is the crate's
/// own `messages.en.txt`).
fn translations(lang: Lang) -> Option<&'static HashMap<String, String>> {
    static IT: OnceLock<HashMap<String, String>> = OnceLock::new();
    static PT: OnceLock<HashMap<String, String>> = OnceLock::new();
    match lang {
        Lang::En => None,
        Lang::It => Some(IT.get_or_init(|| i18n::parse_strings(include_str!("../lessons/it/rootfs.txt")))),
        Lang::Pt => Some(PT.get_or_init(|| i18n::parse_strings(include_str!("../lessons/pt/rootfs.txt")))),
    }
}

/// One of the crate's sentences, in the current language (English: the crate's own).
pub fn sentence(code: &str, args: &[(&'static str, String)], english: String) -> String {
    let template = match translations(i18n::current()) {
        Some(t) => t.get(code).map(String::as_str),
        None => rootfs_fetch::template(code),
    };
    match template {
        Some(template) => {
            let args: Vec<(&str, &dyn std::fmt::Display)> =
                args.iter().map(|(k, v)| (*k, v as &dyn std::fmt::Display)).collect();
            fill(template, &args)
        }
        None => english,
    }
}

/// An error of the crate, all in the current language: a failed file operation says
/// what it was doing and why in words (never Rust's "os error"), and both failures of
/// `nothing_available` are said too.
pub fn said(e: &rootfs_fetch::Error) -> String {
    let mut args = e.args();
    let mut set = |name: &'static str, value: String| {
        if let Some(arg) = args.iter_mut().find(|(k, _)| *k == name) {
            arg.1 = value;
        }
    };
    if let Some((op, path, source)) = e.io_parts() {
        set("what", sentence(op, &[("path", path.to_string())], path.to_string()));
        set("detail", i18n::io_reason(source));
    }
    if let rootfs_fetch::Error::NothingAvailable { alpine, busybox } = e {
        set("alpine", said(alpine).trim_end_matches('.').to_string());
        set("busybox", said(busybox).trim_end_matches('.').to_string());
    }
    sentence(e.code(), &args, e.to_string())
}

pub fn failure(e: rootfs_fetch::Error) -> Failure {
    Failure::new(said(&e))
}

/// The notes of an unpack (entries skipped or changed), one sentence each, on stderr.
pub fn show_notes(notes: &[rootfs_fetch::Note]) {
    for note in notes {
        eprintln!("{}", sentence(note.code, &note.args, note.to_string()).yellow());
    }
}

/// What `--rootfs` names: alpine, busybox, a directory (has a `/`), or a stored name.
pub fn preference(choice: Option<&str>) -> Preference {
    match choice {
        None => Preference::Any,
        Some("alpine") => Preference::Alpine,
        Some("busybox") => Preference::Busybox,
        Some(c) if c.contains('/') => Preference::Path(PathBuf::from(c)),
        Some(c) => Preference::Named(c.to_string()),
    }
}

/// The root filesystem for a lesson, fetched on first use; says which one it is.
pub fn for_lesson(choice: Option<&str>, progress: bool) -> Result<PathBuf, Failure> {
    let (path, shown) = resolve(choice, progress)?;
    println!("{}", tf("lesson_rootfs.using", &[("path", &shown)]).dimmed());
    Ok(path)
}

/// The same for `learnctr shell`, which says it on stderr (stdout is the program's).
pub fn for_shell(choice: Option<&str>, progress: bool) -> Result<PathBuf, Failure> {
    let (path, shown) = resolve(choice, progress)?;
    eprintln!("{}", tf("lesson_rootfs.using", &[("path", &shown)]).dimmed());
    Ok(path)
}

fn resolve(choice: Option<&str>, progress: bool) -> Result<(PathBuf, String), Failure> {
    let rootfs = store().progress(progress).ensure(preference(choice)).map_err(failure)?;
    show_notes(&rootfs.notes);
    check(&rootfs.path)?;
    let shown = format!("{} ({}, {})", rootfs.name, rootfs.source.as_str(), rootfs.path.display());
    Ok((rootfs.path, shown))
}

/// The names of the root filesystems already unpacked on this machine.
pub fn installed_names() -> Vec<String> {
    store().list().map(|l| l.into_iter().map(|i| i.name).collect()).unwrap_or_default()
}

/// `learnctr rootfs fetch [alpine|busybox]`.
pub fn fetch(which: Option<&str>, busybox: Option<&Path>, progress: bool) -> Result<(), Failure> {
    let store = store().progress(progress);
    let rootfs = match (which, busybox) {
        (_, Some(path)) => store.build_busybox(Some(path)),
        (None, None) => store.fetch(Preference::Any),
        (Some("alpine"), None) => store.fetch_alpine(),
        (Some("busybox"), None) => store.build_busybox(None),
        (Some(other), None) => return Err(Failure::usage(tf("rootfs.cli.bad_kind", &[("kind", &other)]))),
    }
    .map_err(failure)?;
    show_notes(&rootfs.notes);
    println!("{}", tf("rootfs.cli.ready", &[("name", &rootfs.name), ("path", &rootfs.path.display())]));
    Ok(())
}

/// `learnctr rootfs list`.
pub fn list() -> Result<(), Failure> {
    let entries = store().list().map_err(failure)?;
    if entries.is_empty() {
        println!("{}", i18n::t("rootfs.cli.none"));
    }
    for e in entries {
        let version = e.version.map(|v| format!(" {v}")).unwrap_or_default();
        println!(
            "  {:<20} {:<9}{:<10} {:>6.1} MiB  {}",
            e.name.bold(),
            e.source.as_str(),
            version,
            e.size as f64 / 1048576.0,
            e.path.display()
        );
    }
    Ok(())
}

/// `learnctr rootfs import FILE|DIR [--name NAME]`.
pub fn import(source: &Path, name: Option<&str>) -> Result<(), Failure> {
    let rootfs = store().import(source, name).map_err(failure)?;
    show_notes(&rootfs.notes);
    println!("{}", tf("rootfs.cli.ready", &[("name", &rootfs.name), ("path", &rootfs.path.display())]));
    Ok(())
}

/// `learnctr rootfs export FILE [--name NAME]`: the named one, else the one a lesson
/// would use.
pub fn export(dest: &Path, name: Option<&str>) -> Result<(), Failure> {
    let store = store();
    let name = match name {
        Some(n) => n.to_string(),
        None => default_name(&store)?,
    };
    store.export(&name, dest).map_err(failure)?;
    println!("{}", tf("rootfs.cli.exported", &[("name", &name), ("file", &dest.display())]));
    Ok(())
}

fn default_name(store: &Store) -> Result<String, Failure> {
    let entries = store.list().map_err(failure)?;
    let pick = |kind| entries.iter().find(|e| e.source == kind).map(|e| e.name.clone());
    pick(rootfs_fetch::SourceKind::Alpine)
        .or_else(|| pick(rootfs_fetch::SourceKind::Busybox))
        .or_else(|| entries.first().map(|e| e.name.clone()))
        .ok_or_else(|| Failure::new(i18n::t("rootfs.cli.none_to_export")))
}

/// `learnctr rootfs remove NAME`.
pub fn remove(name: &str) -> Result<(), Failure> {
    store().remove(name).map_err(failure)?;
    println!("{}", tf("rootfs.cli.removed", &[("name", &name)]));
    Ok(())
}

/// The mount points the lessons need in a root filesystem.
const MOUNT_POINTS: [&str; 4] = ["proc", "sys", "dev", "tmp"];

/// Create the mount points the lessons need, if missing (as runc creates them). The
/// store has already checked that the directory exists and has a shell; on a
/// read-only path the creation fails with one clear sentence.
pub fn check(root: &Path) -> Result<(), Failure> {
    let shown = root.display().to_string();
    for dir in MOUNT_POINTS {
        let p = root.join(dir);
        if p.symlink_metadata().is_ok() {
            continue;
        }
        if let Err(e) = std::fs::create_dir(&p) {
            let key = if e.raw_os_error() == Some(libc::EROFS) {
                "lesson_rootfs.read_only"
            } else {
                "lesson_rootfs.cannot_prepare"
            };
            let detail = i18n::io_reason(&e);
            return Err(Failure::new(tf(key, &[("path", &shown), ("dir", &dir), ("detail", &detail)])));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rootfs_sentence_is_translated() {
        let english = i18n::parse_strings(rootfs_fetch::MESSAGES_EN);
        assert!(english.len() > 20);
        for lang in [Lang::It, Lang::Pt] {
            let other = translations(lang).unwrap();
            let mut missing: Vec<_> = english.keys().filter(|k| !other.contains_key(*k)).collect();
            missing.sort();
            assert!(missing.is_empty(), "{} lacks {missing:?}", lang.code());
            for (k, v) in &english {
                for ph in v.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(n, _)| format!("{{{n}}}")) {
                    assert!(other[k].contains(&ph), "{} {k}: lacks {ph}", lang.code());
                }
            }
        }
    }

    #[test]
    fn rootfs_choices() {
        assert_eq!(preference(None), Preference::Any);
        assert_eq!(preference(Some("busybox")), Preference::Busybox);
        assert_eq!(preference(Some("/srv/r")), Preference::Path("/srv/r".into()));
        assert_eq!(preference(Some("mine")), Preference::Named("mine".into()));
    }
}
