//! A private Podman for lesson 11, with learnctr registered as its runtime.
//!
//! Nothing of the host's Podman is read or written: its own containers.conf and
//! storage.conf (`CONTAINERS_CONF`, `CONTAINERS_STORAGE_CONF`) point every directory
//! into `/run/learnctr-podman-PID`, and every Podman command runs inside one mount
//! namespace of our own (a process holds it; `nsenter` enters it), so the overlay
//! mounts of Podman's storage never reach the host's mount table, and the files Podman
//! writes in `/var/lib` land in a tmpfs of that namespace. The directory, the
//! holder and the cgroup parent are in the journal: a killed lesson leaves nothing
//! `learnctr cleanup` cannot remove.

use crate::course::step::Contained;
use crate::course::{Ctx, Failure};
use crate::host::journal::{Entry, Object};
use crate::primitives::cgroups::layout;
use crate::primitives::isolate::Plan;
use crate::primitives::namespaces::Namespace;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The image the lesson imports from its root filesystem.
pub const IMAGE: &str = "localhost/learnctr-lesson:11";

/// The cgroup parent of the lesson's containers, under learnctr's own.
pub const CGROUP_PARENT: &str = "/learnctr/lesson11-podman";

pub struct Podman {
    pub dir: PathBuf,
    /// The file learnctr logs every call to (`--runtime-flag debug --runtime-flag log=…`).
    pub calls: PathBuf,
    pub learnctr: PathBuf,
    holder: Option<Contained>,
    cgroup_dirs: Vec<PathBuf>,
    _entries: Vec<Entry>,
}

/// Podman on this machine, if any.
pub fn installed() -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join("podman")).find(|p| p.is_file())
}

impl Podman {
    /// Write the configuration, start the namespace holder, import the image.
    pub fn start(ctx: &Ctx) -> Result<Podman, Failure> {
        let dir = PathBuf::from(format!("/run/learnctr-podman-{}", std::process::id()));
        let mut entries = vec![ctx.journal().record(Object::Dir { path: dir.clone() })?];
        let cgroup_dirs = crate::runtime::resources::cgroup_at(CGROUP_PARENT).dirs();
        for d in &cgroup_dirs {
            entries.push(ctx.journal().record(Object::Cgroup { path: d.clone() })?);
        }
        std::fs::create_dir_all(&dir)?;
        let learnctr = crate::runtime::sealed::original_exe();
        std::fs::write(dir.join("containers.conf"), containers_conf(&dir, &learnctr))?;
        std::fs::write(
            dir.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n",
                dir.display()
            ),
        )?;
        // The holder of the mount namespace: every mount Podman makes stays in it. Podman
        // writes a few files whatever its configuration says (an image cache in
        // /var/lib/containers, CNI results in /var/lib/cni): inside, /var/lib is an
        // empty tmpfs, so they go nowhere. Nothing else in the namespace needs it.
        let holder = ctx.start(Plan::new(&[Namespace::Mount]).with_setup(|k| {
            crate::primitives::mounts::make_private(k)?;
            k.mount(Some("tmpfs"), "/var/lib", Some("tmpfs"), nix::mount::MsFlags::MS_NOSUID, Some("mode=755"))
        }))?;
        let mut podman = Podman {
            calls: dir.join("calls.log"),
            dir,
            learnctr,
            holder: Some(holder),
            cgroup_dirs,
            _entries: entries,
        };
        podman.import(ctx)?;
        Ok(podman)
    }

    /// `podman ARGS`, inside our mount namespace, with our configuration.
    pub fn command(&self, args: &[&str]) -> Command {
        let pid = self.holder.as_ref().map(|h| h.pid()).unwrap_or(0);
        let mut c = Command::new("nsenter");
        c.arg(format!("--mount=/proc/{pid}/ns/mnt"))
            .arg("--")
            .arg("podman")
            .args(args)
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf"))
            .stdin(Stdio::null());
        c
    }

    /// Run `podman ARGS` and return its output; a failure is one sentence.
    pub fn run(&self, args: &[&str]) -> Result<Output, Failure> {
        let out = self.command(args).output()?;
        // A failing `podman run` or `podman exec` is the container's exit code: the
        // caller reads it (and a check shows ✗ when it is not 0).
        if !out.status.success() && !args.iter().any(|a| *a == "run" || *a == "exec") {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(Failure::new(format!("podman {}: {}", args.join(" "), err.trim())));
        }
        Ok(out)
    }

    /// `podman ARGS` with learnctr as the runtime, and the two runtime flags that make
    /// it log every call it gets (`--debug`, `--log FILE`).
    pub fn on_learnctr(&self, args: &[&str]) -> Result<Output, Failure> {
        let (runtime, log) = (self.learnctr.display().to_string(), format!("log={}", self.calls.display()));
        let flags = ["--runtime", &runtime, "--runtime-flag", "debug", "--runtime-flag", &log];
        self.run(&flags.iter().chain(args).copied().collect::<Vec<_>>())
    }

    /// The lesson's root filesystem, as an image (`tar | podman import -`).
    fn import(&mut self, ctx: &Ctx) -> Result<(), Failure> {
        let rootfs = ctx.rootfs()?;
        let mut tar = Command::new("tar").args(["-C", &rootfs, "-c", "."]).stdout(Stdio::piped()).spawn()?;
        let mut import = self.command(&["import", "-", IMAGE]);
        import.stdin(tar.stdout.take().map(Stdio::from).unwrap_or_else(Stdio::null)).stdout(Stdio::null());
        let out = import.output()?;
        let _ = tar.wait();
        if !out.status.success() {
            return Err(Failure::new(format!("podman import: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        Ok(())
    }

    /// learnctr's calls, as its log recorded them: each a line of arguments.
    pub fn calls(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.calls).unwrap_or_default();
        let binary = self.learnctr.display().to_string();
        text.lines()
            .filter(|l| l.contains("level=debug"))
            .filter_map(|l| {
                let msg = l.split_once("msg=")?.1;
                let msg: String = serde_json::from_str(msg).ok()?;
                let args = msg.strip_prefix(&binary)?.trim();
                let args = args.rsplit_once(" (pid ").map(|(a, _)| a).unwrap_or(args);
                Some(args.replace("--debug ", "").replace(&format!("--log={} ", self.calls.display()), ""))
            })
            .collect()
    }
}

/// Remove every container and image, stop the holder, remove the files and cgroups.
impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self
            .command(&["rm", "--all", "--force", "--time", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.command(&["rmi", "--all", "--force"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        // The namespace dies with its last process: its mounts go with it.
        drop(self.holder.take());
        let _ = std::fs::remove_dir_all(&self.dir);
        for dir in &self.cgroup_dirs {
            let _ = layout::remove(dir);
        }
    }
}

fn containers_conf(dir: &Path, learnctr: &Path) -> String {
    let d = dir.display();
    // Root lacking CAP_SYS_RESOURCE (some VMs and CI sandboxes) cannot raise a hard
    // rlimit: then the containers get this process's own limits instead of Podman's
    // defaults (which would make every container fail, under runc too).
    let ulimits = if caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SYS_RESOURCE).unwrap_or(true) {
        String::new()
    } else {
        let (_, nofile) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap_or((1024, 1024));
        format!("default_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc=32768:32768\"]\n")
    };
    format!(
        "[containers]\n{ulimits}log_driver = \"k8s-file\"\n\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
         events_logfile_path = \"{d}/events.log\"\ntmp_dir = \"{d}/tmp\"\nvolume_path = \"{d}/volumes\"\n\n\
         [engine.runtimes]\nlearnctr = [\"{}\"]\n\n[network]\nnetwork_config_dir = \"{d}/net\"\n",
        learnctr.display()
    )
}
