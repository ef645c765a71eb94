//! The finale's bundle: a `config.json` with what a container engine would ask of
//! runc, and a root filesystem the container may write to without changing the cached
//! one.
//!
//! The root is an overlay: the cached rootfs as the read-only lower layer, a tmpfs as
//! the upper layer that takes every change, so whatever the learner does inside
//! vanishes on exit. It is mounted in a mount namespace of learnctr's own (made a
//! slave of the host's first): the host never sees it, and it vanishes with learnctr.

use crate::host::journal::{Entry, Journal, Object};
use crate::primitives::capabilities::DOCKER_DEFAULT;
use crate::primitives::seccomp::DEFAULT_DENY;
use crate::primitives::Kernel;
use crate::runtime::{spec, Rt, RtError};
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// What the learner asked for on the command line.
#[derive(Clone, Debug)]
pub struct Options {
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    pub pids: Option<i64>,
    pub net: bool,
    pub subnet: Option<String>,
    pub hostname: String,
    pub readonly: bool,
    pub trace: bool,
    pub command: Vec<String>,
    /// The runtime's state directory (the global `--root`).
    pub root: PathBuf,
    /// With `--image`: what the image's config says to run.
    pub image: Option<ImageRun>,
}

/// The parts of an image's config the finale's container takes (`learnctr shell --image`).
#[derive(Clone, Debug, Default)]
pub struct ImageRun {
    /// Entrypoint + Cmd: run when no COMMAND is given.
    pub args: Vec<String>,
    /// Entrypoint alone: a COMMAND comes after it, as in `docker run IMAGE COMMAND`.
    pub entrypoint: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            memory: Some(DEFAULT_MEMORY),
            cpus: None,
            pids: Some(DEFAULT_PIDS),
            net: false,
            subnet: None,
            hostname: "learnctr".into(),
            readonly: false,
            trace: false,
            command: Vec::new(),
            root: PathBuf::from(crate::runtime::state::DEFAULT_ROOT),
            image: None,
        }
    }
}

/// Limits every finale container has unless told otherwise: enough for `apk add`,
/// too little for a runaway process to hurt the laptop.
pub const DEFAULT_MEMORY: u64 = 256 << 20;
pub const DEFAULT_PIDS: i64 = 512;
/// The CPU period the quota of `--cpus` is a share of (runc's and Docker's: 100 ms).
pub const CPU_PERIOD: u64 = 100_000;

/// `64M`, `1G`, `512k` or a number of bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let n: u64 = digits.parse().ok()?;
    let shift = match unit.to_ascii_lowercase().trim_end_matches(['b', 'i']) {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        _ => return None,
    };
    n.checked_mul(1u64 << shift).filter(|bytes| *bytes >= 4 << 20)
}

/// config.json for the finale: `runc spec`'s, then what an engine changes — the
/// command, the environment, Docker's 14 capabilities, the default seccomp profile,
/// the cgroup namespace, the limits, learnctr's cgroup parent.
pub fn config(o: &Options, id: &str) -> Rt<Value> {
    let mut c = serde_json::to_value(spec::default_spec(false)?).map_err(|e| RtError(e.to_string()))?;
    c["root"] = json!({ "path": "rootfs", "readonly": o.readonly });
    c["hostname"] = json!(o.hostname);
    let args: Vec<String> = match (&o.image, o.command.is_empty()) {
        (Some(image), true) if !image.args.is_empty() => image.args.clone(),
        (Some(image), false) => image.entrypoint.iter().chain(&o.command).cloned().collect(),
        (_, true) => vec!["/bin/sh".into()],
        (None, false) => o.command.clone(),
    };
    let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".into());
    let process = &mut c["process"];
    // The container inherits learnctr's stdin, stdout and stderr (the learner's
    // terminal, or a test's pipes): no terminal of its own.
    process["terminal"] = json!(false);
    process["args"] = json!(args);
    process["env"] = json!([
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        format!("TERM={term}"),
        "HOME=/root",
        "PS1=\\h:\\w\\$ "
    ]);
    process["cwd"] = json!("/");
    if let Some(image) = &o.image {
        // The image's variables replace the finale's of the same name; its WorkingDir is cwd.
        process["env"] = json!(crate::image::bundle::with_image_env(&process["env"], &image.env));
        if let Some(cwd) = &image.cwd {
            process["cwd"] = json!(cwd);
        }
    }
    process["noNewPrivileges"] = json!(true);
    process["capabilities"] = json!({
        "bounding": DOCKER_DEFAULT, "effective": DOCKER_DEFAULT, "permitted": DOCKER_DEFAULT,
    });
    let linux = &mut c["linux"];
    linux["namespaces"] = json!([
        {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
    ]);
    linux["cgroupsPath"] = json!(format!("/learnctr/{id}"));
    let mut resources = json!({ "devices": [{ "allow": false, "access": "rwm" }] });
    if let Some(bytes) = o.memory {
        resources["memory"] = json!({ "limit": bytes });
    }
    if let Some(cpus) = o.cpus {
        resources["cpu"] = json!({ "quota": (cpus * CPU_PERIOD as f64).round() as i64, "period": CPU_PERIOD });
    }
    if let Some(pids) = o.pids {
        resources["pids"] = json!({ "limit": pids });
    }
    linux["resources"] = resources;
    // The container shares the learner's terminal: TIOCSTI would push keystrokes into
    // it that the learner's own shell runs after exit, and TIOCLINUX can do the same on
    // a virtual console. Both are refused, matched on the low 32 bits of the request
    // (the kernel ignores the high ones, so a plain 64-bit comparison could be dodged).
    let ioctl_denied = |request: libc::Ioctl| {
        json!({ "names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM,
                "args": [{ "index": 1, "value": 0xffff_ffffu64, "valueTwo": request, "op": "SCMP_CMP_MASKED_EQ" }] })
    };
    linux["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            { "names": DEFAULT_DENY.to_vec(), "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM },
            ioctl_denied(libc::TIOCSTI),
            ioctl_denied(libc::TIOCLINUX),
        ]
    });
    Ok(c)
}

/// Give learnctr a mount namespace of its own (the host's mounts still arrive, its
/// own never leave): the overlay below is mounted there.
pub fn private_mounts(k: &dyn Kernel) -> Rt<()> {
    k.unshare(CloneFlags::CLONE_NEWNS)?;
    k.mount(None, "/", None, MsFlags::MS_REC | MsFlags::MS_SLAVE, None)?;
    Ok(())
}

/// A bundle directory (`/tmp/learnctr-ID`) with `config.json` and `rootfs/`.
pub struct Bundle {
    pub dir: PathBuf,
    /// False when overlayfs was not available: then the cached root is used directly,
    /// read-only.
    pub writable: bool,
    _entry: Entry,
}

impl Bundle {
    /// Make the directory (journaled first), mount the overlay over `lower` at
    /// `rootfs/`, write `config`. Call `private_mounts` before.
    pub fn make(k: &dyn Kernel, lower: &Path, id: &str, config: &mut Value) -> Rt<Bundle> {
        Bundle::make_stacked(k, &[lower.to_path_buf()], id, config)
    }

    /// The same with several read-only layers, the top one first (an image's layers, as
    /// containerd's overlay snapshotter stacks them: `lowerdir=top:…:bottom`).
    pub fn make_stacked(k: &dyn Kernel, lowers: &[PathBuf], id: &str, config: &mut Value) -> Rt<Bundle> {
        let dir = std::env::temp_dir().join(format!("learnctr-{id}"));
        let entry = Journal::system().record(Object::Dir { path: dir.clone() })?;
        std::fs::create_dir(&dir).map_err(|e| RtError(format!("cannot create {}: {e}", dir.display())))?;
        let mut bundle = Bundle { dir, writable: true, _entry: entry };
        let rootfs = bundle.dir.join("rootfs");
        let layers = bundle.dir.join("layers");
        for d in [&rootfs, &layers] {
            std::fs::create_dir(d)?;
        }
        let at = |p: &Path| p.display().to_string();
        k.mount(Some("tmpfs"), &at(&layers), Some("tmpfs"), MsFlags::empty(), Some("mode=0755"))?;
        for d in ["upper", "work"] {
            std::fs::create_dir(layers.join(d))?;
        }
        let data = format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.iter().map(|l| l.display().to_string()).collect::<Vec<_>>().join(":"),
            at(&layers.join("upper")),
            at(&layers.join("work"))
        );
        if let Err(e) = k.mount(Some("overlay"), &at(&rootfs), Some("overlay"), MsFlags::empty(), Some(&data)) {
            // No overlayfs here: the cached root itself, read-only; layers cannot be stacked.
            let [lower] = lowers else {
                return Err(RtError(crate::i18n::tf("finale.no_overlay_for_image", &[("why", &e)])));
            };
            k.mount(Some(&at(lower)), &at(&rootfs), None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
            config["root"]["readonly"] = json!(true);
            bundle.writable = false;
        }
        let text = serde_json::to_string_pretty(config).map_err(|e| RtError(e.to_string()))?;
        std::fs::write(bundle.dir.join("config.json"), text)?;
        Ok(bundle)
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let k: &dyn Kernel = &crate::primitives::Linux;
        for sub in ["rootfs", "layers"] {
            let _ = k.umount2(&self.dir.join(sub).display().to_string(), MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_docker_reads_them() {
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("8388608"), Some(8 << 20));
        assert_eq!(parse_size("1k"), None, "below 4 MiB a shell cannot even start");
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("12T"), None);
    }

    #[test]
    fn the_config_asks_for_everything_the_course_built() {
        let o = Options { cpus: Some(0.5), ..Options::default() };
        let c = config(&o, "shell-1").unwrap();
        assert_eq!(c["process"]["capabilities"]["bounding"].as_array().unwrap().len(), 14);
        assert_eq!(c["process"]["noNewPrivileges"], true);
        assert_eq!(c["linux"]["resources"]["memory"]["limit"], DEFAULT_MEMORY);
        assert_eq!(c["linux"]["resources"]["cpu"]["quota"], 50_000);
        assert_eq!(c["linux"]["resources"]["pids"]["limit"], DEFAULT_PIDS);
        assert_eq!(c["linux"]["namespaces"].as_array().unwrap().len(), 6);
        assert_eq!(c["linux"]["cgroupsPath"], "/learnctr/shell-1");
        assert_eq!(c["linux"]["seccomp"]["syscalls"][0]["names"].as_array().unwrap().len(), DEFAULT_DENY.len());
        assert_eq!(c["linux"]["seccomp"]["syscalls"][1]["args"][0]["valueTwo"], libc::TIOCSTI);
        // And the runtime reads it back, and compiles it.
        let spec: oci_spec::runtime::Spec = serde_json::from_value(c).unwrap();
        let filters =
            crate::runtime::seccomp_profile::compile(spec.linux().as_ref().unwrap().seccomp().as_ref().unwrap());
        assert_eq!(filters.unwrap().len(), 1, "one deny list with the ioctl conditions");
    }
}
