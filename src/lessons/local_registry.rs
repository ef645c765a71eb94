//! A registry of the lesson's own for the pull step: Debian's `docker-registry` (the CNCF
//! distribution registry, the server behind Docker Hub's API) on 127.0.0.1, on a free port,
//! storing in the step's scratch directory. Journaled like every process learnctr starts,
//! and stopped when the step ends. Without the program the step says how to get it.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::course::{Ctx, Failure};
use crate::host::journal::{Entry, Object};

pub struct LocalRegistry {
    /// `127.0.0.1:PORT`.
    pub address: String,
    child: Child,
    _entry: Entry,
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The registry's program, if installed (`docker-registry` on Debian, `registry` upstream).
fn program() -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    ["docker-registry", "registry"].into_iter().find_map(|name| {
        path.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file()).map(|p| p.display().to_string())
    })
}

impl LocalRegistry {
    pub fn start(ctx: &Ctx, dir: &Path) -> Result<Option<LocalRegistry>, Failure> {
        let Some(program) = program() else { return Ok(None) };
        // A free port: the kernel picks one for a listener we close at once.
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let address = format!("127.0.0.1:{port}");
        std::fs::create_dir_all(dir.join("data"))?;
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n",
                dir.join("data").display()
            ),
        )?;
        let child = Command::new(&program)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let pid = child.id() as i32;
        let start = crate::primitives::process::start_time(pid).unwrap_or(0);
        let entry = ctx.journal().record(Object::Process { pid, start })?;
        let registry = LocalRegistry { address: address.clone(), child, _entry: entry };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(&address).is_err() {
            if Instant::now() > deadline {
                return Err(Failure::new(crate::i18n::tf("image.err.registry_start", &[("program", &program)])));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Some(registry))
    }
}
