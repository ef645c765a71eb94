//! From an image to a bundle, as an engine does before it calls the runtime.
//!
//! The root filesystem is the layers applied in order, bottom first, each with its whiteouts
//! (rootfs-fetch's `apply_layer`: a hostile layer never writes or deletes outside). The
//! `config.json` is made of three parts, and `learnctr image unpack` shows which part gave
//! each field:
//!
//! * the **engine**'s defaults: `learnctr spec`'s (namespaces, mounts, capabilities, masked
//!   paths), with `terminal: false`, as `umoci unpack` writes them;
//! * the **image**'s config: `Entrypoint` + `Cmd` become `process.args`, `Env` is added to
//!   the environment, `WorkingDir` is `cwd`, `User` is `user`;
//! * the **user**'s flags: a command replaces `Cmd` (as in `docker run IMAGE CMD`).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::fail;
use super::store::{io_fail, Image, Store};
use crate::course::Failure;

/// One line of the three columns: a field, and what each part says of it ("" = nothing).
pub struct Origin {
    pub field: &'static str,
    pub engine: String,
    pub image: String,
    pub user: String,
}

/// What an unpack made.
pub struct Unpacked {
    pub layers: usize,
    pub whiteouts: u64,
    pub files: u64,
    pub origins: Vec<Origin>,
}

/// Apply the layers of `image` into `rootfs` (an existing, empty directory).
/// Entries skipped (device nodes, FIFOs) or changed are said on stderr, never dropped.
pub fn apply_layers(store: &Store, image: &Image, rootfs: &Path) -> Result<(u64, u64), Failure> {
    let (mut whiteouts, mut files) = (0, 0);
    for layer in image.manifest.layers() {
        let digest = layer.digest().to_string();
        let what = format!("layer {}", super::check::short(&digest));
        let report = rootfs_fetch::apply_layer(store.open_blob(&digest)?, rootfs, &what)
            .map_err(crate::course_rootfs::failure)?;
        crate::course_rootfs::show_notes(&report.notes);
        whiteouts += report.whiteouts;
        files += report.files;
    }
    Ok((whiteouts, files))
}

/// `learnctr image unpack REF DIR`: `DIR/rootfs` and `DIR/config.json`, made under a
/// temporary name beside `DIR` and renamed at the end, so a failure leaves no `DIR`.
pub fn unpack(store: &Store, image: &Image, dir: &Path, command: &[String]) -> Result<Unpacked, Failure> {
    if dir.exists() && fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(fail("image.err.bundle_exists", &[("dir", &dir.display())]));
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = TempDir(parent.join(format!(".learnctr-unpack-{}", std::process::id())));
    let rootfs = tmp.0.join("rootfs");
    fs::create_dir_all(&rootfs).map_err(|e| io_fail(&rootfs, e))?;
    let (whiteouts, files) = apply_layers(store, image, &rootfs)?;
    let (config, origins) = config_json(image, command)?;
    let bytes = serde_json::to_vec_pretty(&config).expect("a JSON value serializes");
    fs::write(tmp.0.join("config.json"), bytes).map_err(|e| io_fail(&tmp.0.join("config.json"), e))?;
    if dir.exists() {
        fs::remove_dir(dir).map_err(|e| io_fail(dir, e))?;
    }
    fs::rename(&tmp.0, dir).map_err(|e| io_fail(dir, e))?;
    std::mem::forget(tmp);
    Ok(Unpacked { layers: image.manifest.layers().len(), whiteouts, files, origins })
}

/// config.json for `image`: engine defaults, then the image's config, then the user's command.
pub fn config_json(image: &Image, command: &[String]) -> Result<(Value, Vec<Origin>), Failure> {
    let spec = crate::runtime::spec::default_spec(false).map_err(|e| Failure::new(e.to_string()))?;
    let mut c = serde_json::to_value(spec).expect("a spec serializes");
    let engine_args = c["process"]["args"].clone();
    let engine_env = c["process"]["env"].clone();
    c["process"]["terminal"] = json!(false);
    c["root"] = json!({ "path": "rootfs", "readonly": false });
    c["hostname"] = json!("learnctr");

    let ic = image.config.config().clone().unwrap_or_default();
    let entrypoint = ic.entrypoint().clone().unwrap_or_default();
    let cmd = ic.cmd().clone().unwrap_or_default();
    let args: Vec<String> = entrypoint.iter().chain(if command.is_empty() { &cmd } else { command }).cloned().collect();
    if args.is_empty() {
        return Err(fail("image.err.no_command", &[("name", &image.name)]));
    }
    c["process"]["args"] = json!(args);

    // The image's variables replace the engine's of the same name.
    let image_env = ic.env().clone().unwrap_or_default();
    c["process"]["env"] = json!(with_image_env(&engine_env, &image_env));

    let cwd = ic.working_dir().clone().filter(|w| !w.is_empty());
    if let Some(cwd) = &cwd {
        if !cwd.starts_with('/') {
            return Err(fail("image.err.relative_cwd", &[("cwd", cwd)]));
        }
        c["process"]["cwd"] = json!(cwd);
    }
    let user = ic.user().clone().filter(|u| !u.is_empty());
    if let Some(user) = &user {
        let (uid, gid) = numeric_user(user)?;
        c["process"]["user"] = json!({ "uid": uid, "gid": gid });
    }

    let show = |v: &Value| if v.is_null() { String::new() } else { v.to_string() };
    let list = |v: &[String]| if v.is_empty() { String::new() } else { json!(v).to_string() };
    let origins = vec![
        Origin {
            field: "process.args",
            engine: show(&engine_args),
            image: list(&[entrypoint, cmd].concat()),
            user: list(command),
        },
        Origin { field: "process.env", engine: show(&engine_env), image: list(&image_env), user: String::new() },
        Origin {
            field: "process.cwd",
            engine: "\"/\"".into(),
            image: cwd.map(|c| json!(c).to_string()).unwrap_or_default(),
            user: String::new(),
        },
        Origin { field: "process.user", engine: "0:0".into(), image: user.unwrap_or_default(), user: String::new() },
        Origin { field: "process.terminal", engine: "false".into(), image: String::new(), user: String::new() },
        Origin { field: "linux.namespaces", engine: namespaces(&c), image: String::new(), user: String::new() },
        Origin {
            field: "root.path",
            engine: "\"rootfs\"".into(),
            image: format!("{} × layer", image.manifest.layers().len()),
            user: String::new(),
        },
    ];
    Ok((c, origins))
}

/// The environment of `process.env` (a JSON array) with the image's variables added; one of
/// the image replaces the engine's of the same name (`PATH=…`), as Docker does.
pub fn with_image_env(engine: &Value, image: &[String]) -> Vec<String> {
    let mut env: Vec<String> =
        engine.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect();
    for var in image {
        let name = var.split('=').next().unwrap_or("");
        env.retain(|e| e.split('=').next() != Some(name));
        env.push(var.clone());
    }
    env
}

fn namespaces(c: &Value) -> String {
    let names: Vec<&str> =
        c["linux"]["namespaces"].as_array().into_iter().flatten().filter_map(|n| n["type"].as_str()).collect();
    names.join(",")
}

/// `1000` or `1000:1000`. A user *name* would be looked up in the image's `/etc/passwd`,
/// a file of the image's author; learnctr asks for numbers instead.
fn numeric_user(user: &str) -> Result<(u32, u32), Failure> {
    let (u, g) = user.split_once(':').unwrap_or((user, user));
    match (u.parse::<u32>(), g.parse::<u32>()) {
        // A uid alone runs with group 0, as Docker does when the name is not in /etc/passwd.
        (Ok(uid), Ok(gid)) => Ok((uid, if user.contains(':') { gid } else { 0 })),
        _ => Err(fail("image.err.user_name", &[("user", &user)])),
    }
}

/// A directory removed with everything in it when dropped (a failed unpack).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
