//! A real registry for the image tests: Debian's `docker-registry` (distribution 2.8) on
//! 127.0.0.1, on a free port, storing in a temporary directory; killed and removed on drop.
//! And the interoperability references (buildah, skopeo, umoci, podman), each with storage
//! of its own, never the machine's.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub struct Registry {
    pub address: String,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        let data = dir.path().join("data");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n",
                data.display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (make deps installs it)");
        let listening = super::wait_until(Duration::from_secs(10), || TcpStream::connect(&address).is_ok());
        assert!(listening, "docker-registry did not listen on {address}");
        Registry { address, dir, child }
    }

    /// The data file of a blob in the registry's storage (to tamper with it).
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.path().join(format!("data/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// buildah, skopeo, umoci and podman with storage of their own under `dir`.
pub struct Tools {
    pub dir: tempfile::TempDir,
}

impl Tools {
    pub fn new() -> Tools {
        let dir = tempfile::tempdir().unwrap();
        // podman reads no containers.conf of the machine's, and keeps its state here. Its
        // default nofile limit is above what a root without CAP_SYS_RESOURCE may set (as
        // on this CI machine): the containers get this process's own limits instead.
        let (_, nofile) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        let conf = format!(
            "[containers]\ndefault_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc=32768:32768\"]\n[engine]\ntmp_dir = \"{}\"\n",
            dir.path().join("tmp").display()
        );
        std::fs::write(dir.path().join("containers.conf"), conf).unwrap();
        Tools { dir }
    }

    fn storage(&self) -> Vec<String> {
        let d = self.dir.path();
        vec![
            format!("--root={}", d.join("root").display()),
            format!("--runroot={}", d.join("runroot").display()),
            "--storage-driver=vfs".into(),
        ]
    }

    /// Run a tool in a mount namespace of its own with a tmpfs over /var/lib: skopeo and
    /// buildah write a blob-info cache to /var/lib/containers whatever their storage
    /// flags say, and the host must not keep it.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount -t tmpfs learnctr-test /var/lib && exec \"$@\"",
            "sh",
            program,
        ]);
        if matches!(program, "buildah" | "podman") {
            cmd.args(self.storage());
        }
        if program == "podman" {
            cmd.args(["--cgroup-manager=cgroupfs", "--events-backend=none", "--runtime=runc"]);
            cmd.env("CONTAINERS_CONF", self.dir.path().join("containers.conf"));
        }
        let out = cmd.args(args).stdin(Stdio::null()).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// An OCI layout at `layout` (tag `demo`) made by buildah from `rootfs`, with this Cmd.
    pub fn buildah_layout(&self, rootfs: &Path, layout: &Path, cmd: &str) {
        let out = self.run("buildah", &["from", "scratch"]);
        let ctr = String::from_utf8_lossy(&out.stdout).trim().to_string();
        self.run("buildah", &["copy", &ctr, &format!("{}/", rootfs.display()), "/"]);
        self.run("buildah", &["config", "--cmd", cmd, &ctr]);
        self.run("buildah", &["commit", "--quiet", &ctr, &format!("oci:{}:demo", layout.display())]);
        self.run("buildah", &["rm", &ctr]);
    }
}

impl Drop for Tools {
    fn drop(&mut self) {
        // podman and buildah may leave mounts of their storage behind.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let dir = self.dir.path().display().to_string();
        let mut points: Vec<&str> =
            mounts.lines().filter_map(|l| l.split(' ').nth(4)).filter(|p| p.starts_with(&dir)).collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}
