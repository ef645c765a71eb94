//! An image's layers as overlayfs lower directories, the way containerd's overlay
//! snapshotter keeps them: each layer unpacked once into a directory of its own, named by its
//! `diff_id`, its deletions written as overlayfs reads them (see rootfs-fetch's
//! `unpack_layer_for_overlay`). Stacked `lowerdir=top:…:bottom`, they are the image's root
//! filesystem, and nothing is copied per container: `learnctr shell --image` adds a tmpfs
//! upper directory on top.

use std::fs;
use std::path::{Path, PathBuf};

use super::store::{io_fail, Image, Store};
use super::{check, parse_reference};
use crate::course::Failure;
use crate::shell::bundle::ImageRun;

/// Where layer directories are kept: beside the image layout (not inside it, where only
/// the layout's own files belong).
pub fn layers_dir(store: &Store) -> PathBuf {
    store.root().parent().unwrap_or(Path::new("/")).join("layers")
}

/// The directory of each layer of `image`, top first, unpacking the ones not there yet.
pub fn lower_dirs(store: &Store, image: &Image) -> Result<Vec<PathBuf>, Failure> {
    let dir = layers_dir(store);
    fs::create_dir_all(&dir).map_err(|e| io_fail(&dir, e))?;
    let mut lowers = Vec::new();
    for (layer, diff_id) in image.manifest.layers().iter().zip(image.config.rootfs().diff_ids()) {
        let at = dir.join(diff_id.trim_start_matches("sha256:"));
        if !at.is_dir() {
            let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), lowers.len()));
            let digest = layer.digest().to_string();
            let what = format!("layer {}", check::short(&digest));
            let unpacked = rootfs_fetch::unpack_layer_for_overlay(store.open_blob(&digest)?, &tmp, &what);
            match unpacked {
                Ok(report) => crate::course_rootfs::show_notes(&report.notes),
                Err(e) => {
                    let _ = fs::remove_dir_all(&tmp);
                    return Err(crate::course_rootfs::failure(e));
                }
            }
            fs::rename(&tmp, &at).map_err(|e| io_fail(&at, e))?;
        }
        lowers.push(at);
    }
    lowers.reverse();
    Ok(lowers)
}

/// Remove the layer directories no image of the store uses any more.
pub fn remove_unused(store: &Store, used_diff_ids: &std::collections::HashSet<String>) -> Result<(), Failure> {
    let dir = layers_dir(store);
    let Ok(entries) = fs::read_dir(&dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !used_diff_ids.contains(&format!("sha256:{name}")) {
            fs::remove_dir_all(entry.path()).map_err(|e| io_fail(&entry.path(), e))?;
        }
    }
    Ok(())
}

/// `learnctr shell --image REF`: the lower directories and what the image says to run.
pub fn for_shell(reference: &str) -> Result<(Vec<PathBuf>, ImageRun), Failure> {
    let store = Store::open()?;
    let image = store.image(&parse_reference(reference)?)?;
    let lowers = {
        let _lock = store.lock()?;
        lower_dirs(&store, &image)?
    };
    let run = super::build::RunConfig::of(&image.config);
    let args = run.entrypoint.iter().chain(&run.cmd).cloned().collect();
    let cwd = Some(run.working_dir).filter(|w| w.starts_with('/'));
    if !run.user.is_empty() && run.user != "0" && run.user != "root" {
        // The finale runs as root inside; a user the image asks for is refused, not dropped.
        return Err(super::fail("image.err.shell_user", &[("user", &run.user)]));
    }
    Ok((lowers, ImageRun { args, entrypoint: run.entrypoint, env: run.env, cwd }))
}
