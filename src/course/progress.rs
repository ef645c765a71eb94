//! Which lessons the learner has finished, kept for the learner (not for root).
//!
//! Under `sudo`, the file goes to the invoking user's home (`SUDO_USER`) and is owned
//! by that user, so the course remembers the learner, not root:
//! `~/.local/share/learnctr/progress.json` (or `$XDG_DATA_HOME/learnctr/...` when run
//! without sudo). `LEARNCTR_PROGRESS_FILE` overrides the path (the tests use it).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Progress {
    pub done: BTreeSet<u32>,
}

/// Where the progress file lives, and who should own it.
pub struct Place {
    pub file: PathBuf,
    pub owner: Option<(u32, u32)>,
}

pub fn place() -> Option<Place> {
    if let Ok(path) = std::env::var("LEARNCTR_PROGRESS_FILE") {
        return Some(Place { file: PathBuf::from(path), owner: None });
    }
    let sudo_user = std::env::var("SUDO_USER").ok().filter(|u| !u.is_empty() && u != "root");
    if let (Some(user), true) = (sudo_user, nix::unistd::geteuid().is_root()) {
        let account = nix::unistd::User::from_name(&user).ok().flatten()?;
        let file = account.dir.join(".local/share/learnctr/progress.json");
        return Some(Place { file, owner: Some((account.uid.as_raw(), account.gid.as_raw())) });
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(Place { file: base.join("learnctr/progress.json"), owner: None })
}

pub fn load() -> Progress {
    place().and_then(|p| std::fs::read(&p.file).ok()).and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// Save atomically (temporary file, then rename), owned by the learner.
pub fn save(progress: &Progress) -> std::io::Result<()> {
    let Some(place) = place() else { return Ok(()) };
    let dir = place.file.parent().unwrap_or(std::path::Path::new("."));
    let mut created = Vec::new();
    let mut d = Some(dir);
    while let Some(p) = d {
        if p.exists() {
            break;
        }
        created.push(p.to_path_buf());
        d = p.parent();
    }
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(".progress.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(progress).map_err(std::io::Error::other)?)?;
    if let Some((uid, gid)) = place.owner {
        for p in created.iter().chain(std::iter::once(&tmp)) {
            std::os::unix::fs::chown(p, Some(uid), Some(gid))?;
        }
    }
    std::fs::rename(&tmp, &place.file)
}

pub fn mark_done(lesson: u32) -> std::io::Result<()> {
    let mut p = load();
    p.done.insert(lesson);
    save(&p)
}

pub fn reset(lesson: Option<u32>) -> std::io::Result<()> {
    let mut p = load();
    match lesson {
        Some(n) => {
            p.done.remove(&n);
        }
        None => p.done.clear(),
    }
    save(&p)
}
