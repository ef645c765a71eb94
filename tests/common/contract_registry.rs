//! For tests/images.rs: a private image registry (Distribution 2.8, Debian's
//! docker-registry) on 127.0.0.1, and the image tools (skopeo, umoci, buildah, podman)
//! with storage of their own. Everything lives under one temporary directory in Cargo's
//! scratch space and goes away on Drop, also when a test panics.

use super::engines::{run_for, Private, Ran};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const REGISTRY: &str = "/usr/bin/docker-registry";

// No access log (one line per request would bury a failure's cause), deletes allowed.
// Without http.secret the registry makes one up and warns: harmless for one instance.
const CONFIG: &str = "version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: @DATA@
  delete:
    enabled: true
http:
  addr: 127.0.0.1:@PORT@
";

/// A registry of ours, serving plain HTTP on a free port of 127.0.0.1.
pub struct Registry {
    child: Option<Child>,
    port: u16,
    /// Its configuration, log and storage (`data/`).
    pub dir: PathBuf,
    tmp: Option<tempfile::TempDir>,
}

/// A port nobody listens on now: the kernel's choice for port 0, released. Another
/// process may take it before the registry does; `start` then tries again.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("cannot bind 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

/// `GET path` over HTTP/1.0 on 127.0.0.1:`port` (written by hand: no HTTP crate among the
/// dev-dependencies): the status and the body, or None if nothing answers in 5 s.
pub fn http_get(port: u16, path: &str, accept: &str) -> Option<(u16, String)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: {accept}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

impl Registry {
    /// Start it and wait until `GET /v2/` answers 200; panic with its log if it cannot.
    pub fn start() -> Registry {
        assert!(Path::new(REGISTRY).is_file(), "{REGISTRY} is missing (`make deps` installs docker-registry)");
        let tmp =
            tempfile::Builder::new().prefix("learnctr-registry-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let dir = tmp.path().to_path_buf();
        let mut registry = Registry { child: None, port: 0, dir: dir.clone(), tmp: Some(tmp) };
        let mut logs = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let config = CONFIG.replace("@DATA@", &dir.join("data").display().to_string());
            std::fs::write(dir.join("config.yml"), config.replace("@PORT@", &port.to_string())).unwrap();
            let log_path = dir.join(format!("registry-{attempt}.log"));
            let log = std::fs::File::create(&log_path).unwrap();
            let mut cmd = Command::new(REGISTRY);
            cmd.arg("serve").arg(dir.join("config.yml"));
            // Distribution reads REGISTRY_* variables as configuration: none of the host's.
            for (key, _) in std::env::vars_os().filter(|(k, _)| k.to_string_lossy().starts_with("REGISTRY_")) {
                cmd.env_remove(key);
            }
            cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
            let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {REGISTRY}: {e}"));
            registry.child = Some(child);
            registry.port = port;
            let answers = || http_get(port, "/v2/", "*/*").is_some_and(|(status, _)| status == 200);
            let child = registry.child.as_mut().unwrap();
            super::wait_until(Duration::from_secs(20), || answers() || child.try_wait().ok().flatten().is_some());
            if answers() {
                return registry;
            }
            // Most likely the port was taken in between: stop this one and try another.
            registry.stop();
            logs.push_str(&std::fs::read_to_string(&log_path).unwrap_or_default());
        }
        panic!("the registry did not start on 127.0.0.1 in 5 attempts; its logs:\n{logs}");
    }

    /// "127.0.0.1:PORT", the host part of the references pushed to it.
    pub fn url(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the registry keeps the bytes of blob `digest` ("sha256:HEX").
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }

    /// `GET /v2/REPO/manifests/TAG`: its status (200 when the registry holds it).
    pub fn manifest_status(&self, repo: &str, tag: &str) -> Option<u16> {
        let accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, \
                      application/vnd.docker.distribution.manifest.v2+json, \
                      application/vnd.docker.distribution.manifest.list.v2+json";
        http_get(self.port, &format!("/v2/{repo}/manifests/{tag}"), accept).map(|(s, _)| s)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            super::wait_until(Duration::from_secs(10), || child.try_wait().ok().flatten().is_some());
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        if let Some(Err(e)) = self.tmp.take().map(|t| t.close()) {
            eprintln!("registry: cannot remove {}: {e}", self.dir.display());
        }
    }
}

/// skopeo, umoci, buildah and podman with nothing of the host's: storage (vfs) and
/// configuration under our directory, and, as in tests/common/engines.rs, a mount
/// namespace of ours where /var/lib/containers (c/image's blob-info cache for root,
/// whatever the flags) and /etc/containers (only our policy.json) are directories of
/// ours. Registries are reached only on 127.0.0.1, without TLS.
pub struct Tools {
    /// Takes down the namespace's holder and anything naming our directory, unmounts
    /// what is left under it and removes it.
    _private: Private,
    holder: String,
    pub dir: PathBuf,
}

const POLICY: &str = r#"{"default": [{"type": "insecureAcceptAnything"}]}"#;
const CONTAINERS_CONF: &str = "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"none\"\ntmp_dir = \
                               \"@DIR@/tmp\"\nimage_copy_tmp_dir = \"@DIR@/tmp\"\n";
const STORAGE_CONF: &str = "[storage]\ndriver = \"vfs\"\ngraphroot = \"@DIR@/root\"\nrunroot = \"@DIR@/runroot\"\n";

impl Tools {
    pub fn new() -> Tools {
        let mut private = Private::new();
        let dir = private.dir.clone();
        let fill = |t: &str| t.replace("@DIR@", &dir.display().to_string());
        for sub in ["tmp", "root", "runroot", "shadow/etc/containers"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("shadow/etc/containers/policy.json"), POLICY).unwrap();
        std::fs::write(dir.join("policy.json"), POLICY).unwrap();
        std::fs::write(dir.join("registries.conf"), "unqualified-search-registries = []\n").unwrap();
        std::fs::write(dir.join("containers.conf"), fill(CONTAINERS_CONF)).unwrap();
        std::fs::write(dir.join("storage.conf"), fill(STORAGE_CONF)).unwrap();
        // Without /var/lib/containers the tools would create it: then all of /var/lib.
        let cache = if Path::new("/var/lib/containers").is_dir() { "/var/lib/containers" } else { "/var/lib" };
        let shadows: Vec<&str> = [cache, "/etc/containers"].into_iter().filter(|h| Path::new(h).is_dir()).collect();
        let holder = private.holder(&shadows);
        Tools { _private: private, holder, dir }
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.holder, "-m", "--", program]).args(args);
        let path = |f: &str| self.dir.join(f);
        cmd.env("TMPDIR", path("tmp"))
            .env("CONTAINERS_CONF", path("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", path("storage.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", path("registries.conf"))
            .env_remove("REGISTRY_AUTH_FILE");
        cmd
    }

    fn storage_flags(&self) -> Vec<String> {
        let path = |f: &str| self.dir.join(f).display().to_string();
        ["--root", &path("root"), "--runroot", &path("runroot"), "--storage-driver", "vfs"].map(String::from).to_vec()
    }

    /// `skopeo ARGS` with our policy (copies to 127.0.0.1 need `--dest-tls-verify=false`).
    pub fn skopeo(&self, args: &[&str]) -> Ran {
        let policy = self.dir.join("policy.json").display().to_string();
        let mut all = vec!["--policy", policy.as_str()];
        all.extend_from_slice(args);
        run_for(self.command("skopeo", &all), 120)
    }

    pub fn umoci(&self, args: &[&str]) -> Ran {
        run_for(self.command("umoci", args), 120)
    }

    pub fn buildah(&self, args: &[&str]) -> Ran {
        let flags = self.storage_flags();
        let all: Vec<&str> = flags.iter().map(String::as_str).chain(args.iter().copied()).collect();
        run_for(self.command("buildah", &all), 120)
    }

    pub fn podman(&self, args: &[&str]) -> Ran {
        let mut flags = self.storage_flags();
        flags.extend(["--cgroup-manager", "cgroupfs", "--events-backend", "none"].map(String::from));
        let all: Vec<&str> = flags.iter().map(String::as_str).chain(args.iter().copied()).collect();
        run_for(self.command("podman", &all), 120)
    }

    /// `image` in our containers-storage, as skopeo names it.
    pub fn storage_ref(&self, image: &str) -> String {
        let path = |f: &str| self.dir.join(f).display().to_string();
        format!("containers-storage:[vfs@{}+{}]{image}", path("root"), path("runroot"))
    }
}

impl Drop for Tools {
    fn drop(&mut self) {
        // buildah's working containers hold nothing but files with vfs; removing them
        // first keeps their storage consistent if the directory is looked at later.
        self.buildah(&["rm", "--all"]);
    }
}
