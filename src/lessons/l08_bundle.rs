//! Lesson 8: a runc-style bundle (`config.json` + a root filesystem) and learnctr's own
//! OCI runtime, built from the primitives of lessons 1 to 7.
//!
//! The bundle lives in a directory of its own under /run/learnctr (journaled, removed
//! when the step ends); its `root.path` points at the lesson's root filesystem,
//! read-only, so nothing in the rootfs changes.

use crate::course::step::Check;
use crate::course::{Ctx, Failure, Lesson, Step};
use crate::host::journal::Object;
use crate::i18n::fill;
use crate::primitives::mountinfo;
use crate::runtime::{self, spec, state::Container, CreateOptions};
use std::path::{Path, PathBuf};

pub fn lesson() -> Lesson {
    Lesson {
        number: 8,
        name: "bundle",
        needs_rootfs: true,
        steps: vec![
            Step { id: "spec", shell: &["mkdir bundle && cd bundle", "learnctr spec      # {{shell.or_runc}}"], key: &[], run: write_spec },
            Step { id: "fields", shell: &["jq . config.json"], key: &[], run: fields },
            Step {
                id: "edit",
                shell: &["jq '.process.terminal=false | .process.args=[\"sh\",\"-c\",\"hostname\"]' config.json > c && mv c config.json"],
                key: &[], run: edit,
            },
            Step {
                id: "lifecycle",
                shell: &["learnctr create demo; learnctr state demo", "learnctr start demo; learnctr state demo", "learnctr kill demo KILL; learnctr delete demo"],
                key: &["exec.fifo", "pivot_root(", "execve("], run: lifecycle,
            },
            Step { id: "checklist", shell: &["learnctr run demo    # create + start + wait + delete"], key: &["devices.deny", "PR_SET_DUMPABLE", "execveat("], run: checklist },
            Step {
                id: "http",
                shell: &[
                    "ip netns add demo    # {{shell.named_netns}}",
                    "jq '.process.terminal=false | .process.args=[\"httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/tmp/www\"] | .mounts += [{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}] | .linux.namespaces |= map(if .type==\"network\" then .path=\"/var/run/netns/demo\" else . end)' config.json > c && mv c config.json",
                    "learnctr run demo &    # {{shell.then_wget}}",
                ],
                key: &["setns(", "IFLA_NET_NS_PID"],
                run: http,
            },
            Step { id: "runc", shell: &["runc run --bundle . demo    # {{shell.same_bundle}}"], key: &[], run: with_runc },
        ],
    }
}

/// A bundle directory for this step, journaled; removed when the step ends (the
/// directory first, then its journal entry).
struct Bundle {
    dir: PathBuf,
    _entry: crate::host::journal::Entry,
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn bundle(ctx: &mut Ctx, args: &[&str]) -> Result<Bundle, Failure> {
    let dir =
        PathBuf::from(format!("{}/lesson8-bundle-{}-{}", crate::host::journal::RUN_DIR, ctx.step, std::process::id()));
    let entry = crate::host::journal::Journal::system().record(Object::Dir { path: dir.clone() })?;
    std::fs::create_dir_all(&dir)?;
    let b = Bundle { dir, _entry: entry };
    let written = spec::write(&b.dir, false).map_err(|e| Failure::new(e.to_string()))?;
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&written)?).map_err(|e| Failure::new(e.to_string()))?;
    config["root"]["path"] = ctx.rootfs()?.into();
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = args.iter().map(|a| serde_json::Value::from(*a)).collect();
    std::fs::write(&written, serde_json::to_vec_pretty(&config).map_err(|e| Failure::new(e.to_string()))?)?;
    Ok(b)
}

fn write_spec(ctx: &mut Ctx) -> Result<(), Failure> {
    let b = bundle(ctx, &["sh"])?;
    let (loaded, rootfs) = spec::load(&b.dir).map_err(|e| Failure::new(e.to_string()))?;
    ctx.fact("label.bundle", b.dir.display());
    ctx.fact("label.rootfs", rootfs.display());
    ctx.check("check.spec.valid", loaded.version().starts_with("1.0"), loaded.version());
    ctx.check("check.spec.rootfs", rootfs.is_dir(), rootfs.display());
    Ok(())
}

fn fields(ctx: &mut Ctx) -> Result<(), Failure> {
    let b = bundle(ctx, &["sh"])?;
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.dir.join("config.json"))?).map_err(|e| Failure::new(e.to_string()))?;
    let entries = ctx.s("value.entries");
    let show = |v: &serde_json::Value| -> String {
        match v {
            serde_json::Value::Array(items) if items.len() > 4 => fill(&entries, &[("n", &items.len())]),
            other => other.to_string(),
        }
    };
    ctx.columns = Some(("config.json".to_string(), ctx.s("value.value")));
    let mut missing = Vec::new();
    for path in [
        "ociVersion",
        "process.terminal",
        "process.user",
        "process.args",
        "process.env",
        "process.cwd",
        "process.capabilities.bounding",
        "process.rlimits",
        "process.noNewPrivileges",
        "root.path",
        "root.readonly",
        "hostname",
        "mounts",
        "linux.resources.devices",
        "linux.namespaces",
        "linux.maskedPaths",
        "linux.readonlyPaths",
    ] {
        let value = path.split('.').fold(&json, |v, key| &v[key]);
        if value.is_null() {
            missing.push(path);
        }
        ctx.observe_raw(path, ctx.s(&format!("field.{path}")), show(value));
    }
    ctx.check("check.fields.present", missing.is_empty(), missing.join(" "));
    let kinds: Vec<&str> = json["linux"]["namespaces"]
        .as_array()
        .map(|a| a.iter().filter_map(|n| n["type"].as_str()).collect())
        .unwrap_or_default();
    ctx.check(
        "check.fields.namespaces",
        ["pid", "network", "ipc", "uts", "mount"].iter().all(|k| kinds.contains(k)),
        kinds.join(" "),
    );
    Ok(())
}

fn edit(ctx: &mut Ctx) -> Result<(), Failure> {
    let b = bundle(ctx, &["sh", "-c", "hostname"])?;
    let config = b.dir.join("config.json");
    let good = std::fs::read_to_string(&config)?;
    // The mistakes a learner makes, each with its sentence.
    let mistakes = [
        ("label.mistake.json", good.replacen("\"ociVersion\"", "ociVersion", 1)),
        ("label.mistake.type", good.replacen("\"terminal\": false", "\"terminal\": \"no\"", 1)),
        ("label.mistake.namespace", good.replacen("\"type\": \"uts\"", "\"type\": \"utc\"", 1)),
        (
            "label.mistake.escape",
            good.replacen(&format!("\"path\": \"{}\"", ctx.rootfs()?), "\"path\": \"../../etc\"", 1),
        ),
    ];
    let mut all_refused = true;
    for (label, broken) in mistakes {
        std::fs::write(&config, &broken)?;
        let answer = match spec::load(&b.dir) {
            Ok(_) => {
                all_refused = false;
                ctx.s("value.accepted")
            }
            // The learner's language, from this lesson's `spec.` and `json.` texts.
            Err(e) => e.describe(&|key| ctx.s(key)).replace(&b.dir.display().to_string(), "BUNDLE"),
        };
        ctx.observe_raw(&ctx.s(label), "", answer);
    }
    std::fs::write(&config, &good)?;
    ctx.columns = Some((String::new(), ctx.s("value.answer")));
    ctx.check("check.edit.refused", all_refused, "");
    let ok = spec::load(&b.dir).is_ok();
    ctx.check("check.edit.valid_again", ok, "");
    Ok(())
}

/// Create a container from a bundle with learnctr's runtime (in this process, so the
/// trace shows every call of `create`, the init's included).
fn create(
    ctx: &mut Ctx,
    b: &Bundle,
    id: &str,
) -> Result<(PathBuf, Container, Vec<crate::host::journal::Entry>), Failure> {
    let root = PathBuf::from(crate::host::journal::RUN_DIR);
    let journal = crate::host::journal::Journal::system();
    // The container outlives nothing of ours, but a crash must not leave it: its state
    // directory and its process go in the journal.
    let mut entries = vec![journal.record(Object::Dir { path: Container::dir(&root, id) })?];
    let opts = CreateOptions {
        root: &root,
        id,
        bundle: &b.dir,
        pid_file: None,
        console_socket: None,
        foreground: false,
        systemd_cgroup: false,
        new_keyring: true,
        preserve_fds: 0,
    };
    let c = runtime::create(ctx.k, &opts).map_err(|e| Failure::new(e.0))?;
    entries.push(journal.record(Object::Process { pid: c.pid, start: c.pid_start })?);
    Ok((root, c, entries))
}

fn status(root: &Path, id: &str) -> String {
    Container::load(root, id).map(|c| c.status(root).to_string()).unwrap_or_else(|| "-".into())
}

fn lifecycle(ctx: &mut Ctx) -> Result<(), Failure> {
    let b = bundle(ctx, &["sleep", "30"])?;
    let id = format!("lesson8-{}", std::process::id());
    let (root, c, _entries) = create(ctx, &b, &id)?;
    let guard = Cleanup { root: root.clone(), id: id.clone() };
    let mut seen = vec![("create".to_string(), status(&root, &id))];
    runtime::start(&root, &id).map_err(|e| Failure::new(e.0))?;
    seen.push(("start".into(), status(&root, &id)));
    runtime::kill(ctx.k, &root, &id, "KILL", false).map_err(|e| Failure::new(e.0))?;
    for _ in 0..200 {
        if status(&root, &id) == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    seen.push(("kill KILL".into(), status(&root, &id)));
    runtime::delete(ctx.k, &root, &id, false).map_err(|e| Failure::new(e.0))?;
    seen.push(("delete".into(), if Container::dir(&root, &id).exists() { ctx.s("value.present") } else { "-".into() }));
    ctx.columns = Some((ctx.s("value.command"), ctx.s("value.status")));
    for (command, state) in &seen {
        ctx.observe_raw(command, "", state);
    }
    let order: Vec<&str> = seen.iter().map(|(_, s)| s.as_str()).collect();
    ctx.check("check.lifecycle.order", order == ["created", "running", "stopped", "-"], order.join(" → "));
    ctx.check("check.lifecycle.pid", c.pid > 1, c.pid);
    drop(guard);
    Ok(())
}

/// Removes the lesson's container if a step fails half-way.
struct Cleanup {
    root: PathBuf,
    id: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if Container::dir(&self.root, &self.id).exists() {
            let _ = runtime::delete(&crate::primitives::Linux, &self.root, &self.id, true);
        }
    }
}

fn checklist(ctx: &mut Ctx) -> Result<(), Failure> {
    let b = bundle(ctx, &["sleep", "30"])?;
    let id = format!("lesson8c-{}", std::process::id());
    let (root, c, _entries) = create(ctx, &b, &id)?;
    let _guard = Cleanup { root: root.clone(), id: id.clone() };
    let pid = c.pid;
    // 0. Before `start`, PID 1 is learnctr's init, inside the container: the file it
    // runs sits on a read-only mount (learnctr re-executed itself from a read-only
    // clone of its binary, runtime/sealed.rs), so nothing can write it (CVE-2019-5736).
    let sealed = nix::sys::statvfs::statvfs(format!("/proc/{pid}/exe").as_str())
        .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        .unwrap_or(false);
    let shown = ctx.s(if sealed { "value.read_only" } else { "value.writable" });
    ctx.observe_raw(&ctx.s("item.sealed"), ctx.s("guard.exe"), &shown);
    let sealed_check = ("check.checklist.sealed", sealed, shown);
    runtime::start(&root, &id).map_err(|e| Failure::new(e.0))?;
    // What we check is the container's program, after the init's execve.
    runtime::wait_for_exec(pid);
    ctx.columns = Some((ctx.s("value.guards"), ctx.s("value.measured_host")));
    let mut checks = vec![sealed_check];
    // 1. Propagation: the container's / is not shared with anything.
    let table = mountinfo::parse(&std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))?);
    let root_mount = mountinfo::at(&table, "/");
    let shown = root_mount.map(super::common::propagation_shown).unwrap_or_default();
    ctx.observe_raw(&ctx.s("item.propagation"), ctx.s("guard.propagation"), &shown);
    let shared = root_mount.is_none_or(|m| m.propagation.iter().any(|t| t.starts_with("shared:")));
    checks.push(("check.checklist.propagation", !shared, shown));
    // 2. No fd of the runtime leaked into the container (CVE-2024-21626).
    let fds: Vec<String> = crate::instruments::probe::list_dir(&format!("/proc/{pid}/fd")).map_err(Failure::new)?;
    ctx.observe_raw(&ctx.s("item.fds"), ctx.s("guard.fds"), fds.join(" "));
    checks.push(("check.checklist.fds", fds.iter().all(|f| ["0", "1", "2"].contains(&f.as_str())), fds.join(" ")));
    // 3. The working directory is inside the container's root.
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).map(|p| p.display().to_string()).unwrap_or_default();
    ctx.observe_raw(&ctx.s("item.cwd"), ctx.s("guard.cwd"), &cwd);
    checks.push(("check.checklist.cwd", cwd == "/", cwd.clone()));
    // 4. The runtime's binary is not the container's: /proc/PID/exe is the program.
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).map(|p| p.display().to_string()).unwrap_or_default();
    ctx.observe_raw(&ctx.s("item.exe"), ctx.s("guard.exe"), &exe);
    checks.push(("check.checklist.exe", !exe.contains("learnctr"), exe.clone()));
    // 5. Masked paths: /proc/kcore or /proc/keys is /dev/null inside.
    let masked = ["/proc/kcore", "/proc/keys", "/proc/timer_list"]
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| crate::instruments::probe::stat(&format!("/proc/{pid}/root{p}")).map(|s| (p.to_string(), s)));
    if let Some(Ok((path, st))) = masked {
        let shown = format!("{path}: {} {}:{}", st.kind, st.rdev.0, st.rdev.1);
        ctx.observe_raw(&ctx.s("item.masked"), ctx.s("guard.masked"), &shown);
        checks.push(("check.checklist.masked", st.kind == "char" && st.rdev == (1, 3), shown));
    }
    for (key, passed, measured) in checks {
        ctx.checks.push(Check { claim: ctx.s(key), passed, measured });
    }
    Ok(())
}

fn with_runc(ctx: &mut Ctx) -> Result<(), Failure> {
    let b = bundle(ctx, &["sh"])?;
    super::side_by_side::step(ctx, &b.dir, &format!("lesson8r-{}", std::process::id()))
}

/// The page the container's web server sends (no `'` or `%`: it goes through a shell's
/// single quotes and printf).
const PAGE: &str = "<h1>learnctr</h1>\n<p>Served by httpd, the program that config.json names.</p>\n";

/// The course notes' last edit: `args` runs a web server, the network namespace is one
/// that already exists (joined by `path`), plugged into a bridge from the host; then
/// the host fetches the page. The notes name the namespace with `ip netns add`, which
/// bind-mounts it on the host; here a process of ours holds it, and config.json joins
/// it through that process's `/proc/PID/ns/net` — the same `setns`, no host mount.
fn http(ctx: &mut Ctx) -> Result<(), Failure> {
    use crate::primitives::isolate::Plan;
    use crate::primitives::namespaces::Namespace;
    let holder = ctx.start(Plan::new(&[Namespace::Net]))?;
    let net = crate::shell::network::connect(ctx.k, holder.pid(), ctx.subnet).map_err(|e| Failure::new(e.0))?;
    let script = format!(
        "mkdir -p /tmp/www && printf '{}' > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www",
        PAGE.replace('\n', "\\n")
    );
    let b = bundle(ctx, &["sh", "-c", &script])?;
    let config_path = b.dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path)?).map_err(|e| Failure::new(e.to_string()))?;
    let netns = format!("/proc/{}/ns/net", holder.pid());
    for ns in config["linux"]["namespaces"].as_array_mut().into_iter().flatten() {
        if ns["type"] == "network" {
            ns["path"] = netns.clone().into();
        }
    }
    // The root is read-only: the page goes in a tmpfs at /tmp.
    if let Some(mounts) = config["mounts"].as_array_mut() {
        mounts.push(serde_json::json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}));
    }
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).map_err(|e| Failure::new(e.to_string()))?)?;
    ctx.fact("label.netns_path", &netns);
    let id = format!("lesson8h-{}", std::process::id());
    let (root, c, _entries) = create(ctx, &b, &id)?;
    let _guard = Cleanup { root: root.clone(), id: id.clone() };
    runtime::start(&root, &id).map_err(|e| Failure::new(e.0))?;
    let theirs = Namespace::Net.link(Some(holder.pid())).unwrap_or_default();
    let joined = Namespace::Net.link(Some(c.pid)).unwrap_or_default();
    ctx.observe("label.net_joined", &theirs, &joined);
    ctx.check("check.http.joined", !joined.is_empty() && joined == theirs, &joined);
    let within = std::time::Duration::from_secs(2);
    let answer = crate::primitives::net_client::http_get_within(net.address, 80, "/", within);
    let (status, body) = answer.unwrap_or_else(|e| (e.to_string(), String::new()));
    ctx.observe("label.http_status", &status, format!("httpd -p 80 ({})", net.address));
    ctx.check("check.http.ok", status.contains(" 200"), &status);
    ctx.check("check.http.body", body == PAGE, body.trim_end());
    Ok(())
}
