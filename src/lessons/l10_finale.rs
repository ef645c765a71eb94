//! Lesson 10, the finale: one container with everything the course built, made the way
//! `learnctr shell` makes it (the bundle of `src/shell/bundle.rs`, run by lesson 8's
//! runtime), and the checks of every earlier lesson proven again on it, from the host.
//!
//! Each step makes its own container and removes it when the step ends.

use super::side_by_side;
use crate::course::{Ctx, Failure, Lesson, Step};
use crate::instruments::inside::Inside;
use crate::instruments::probe::{self, Answer, Probe};
use crate::primitives::capabilities::{Mask, DOCKER_DEFAULT};
use crate::primitives::isolate::Plan;
use crate::primitives::namespaces::Namespace;
use crate::primitives::{mountinfo, net_client};
use crate::runtime::{self, spec, state};
use crate::shell::{bundle, network, observe, Deleting, Options};
use std::path::Path;

pub fn lesson() -> Lesson {
    Lesson {
        number: 10,
        name: "finale",
        needs_rootfs: true,
        steps: vec![
            Step {
                id: "bundle",
                shell: &["learnctr shell --trace -- true    # {{shell.whole_finale}}"],
                key: &["execveat(", "pivot_root("],
                run: make_bundle,
            },
            Step {
                id: "create",
                shell: &["learnctr shell --hostname learnctr -- sleep 3600 &", "lsns -p PID; cat /proc/PID/mountinfo"],
                key: &["clone3(", "unshare("],
                run: create,
            },
            Step {
                id: "privileges",
                shell: &["grep -E 'Cap|NoNewPrivs|Seccomp' /proc/PID/status"],
                key: &["capset(", "seccomp(", "PR_SET_NO_NEW_PRIVS"],
                run: privileges,
            },
            Step {
                id: "network",
                shell: &["learnctr shell --net -- ip addr", "busybox ping -c 3 10.231.42.2"],
                key: &["kind=\"veth\"", "IFLA_NET_NS_PID"],
                run: network,
            },
            Step {
                id: "runc",
                shell: &["runc run --bundle BUNDLE demo    # {{shell.same_bundle}}"],
                key: &[],
                run: with_runc,
            },
            Step {
                id: "built",
                shell: &["learnctr shell --net --memory 64M --cpus 0.5 --pids 64"],
                key: &["memory.max", "memory.limit_in_bytes", "pids.max"],
                run: built,
            },
        ],
    }
}

const ROOT: &str = state::DEFAULT_ROOT;

/// The finale's container of one step; dropping it removes the network, the
/// container (cgroups, state), then the bundle and its overlay, in that order.
struct Finale {
    net: Option<network::Network>,
    _deleting: Deleting<'static>,
    c: state::Container,
    _bundle: bundle::Bundle,
}

/// The bundle of `learnctr shell` for `command`, in learnctr's own mount namespace.
fn make(ctx: &Ctx, command: &[&str]) -> Result<(bundle::Bundle, Options, String), Failure> {
    let o = Options { command: command.iter().map(|s| s.to_string()).collect(), ..Options::default() };
    let id = format!("lesson10-{}-{}", ctx.step, std::process::id());
    let mut config = bundle::config(&o, &id).map_err(|e| Failure::new(e.0))?;
    // learnctr's own namespaces are read before it leaves the host's mount namespace.
    observe::host_namespaces();
    bundle::private_mounts(ctx.k).map_err(|e| Failure::new(e.0))?;
    let lower = ctx.rootfs()?;
    let b = bundle::Bundle::make(ctx.k, Path::new(&lower), &id, &mut config).map_err(|e| Failure::new(e.0))?;
    Ok((b, o, id))
}

/// Create (not start) the finale's container running `command`.
fn finale(ctx: &Ctx, command: &[&str], net: bool) -> Result<Finale, Failure> {
    let (b, _, id) = make(ctx, command)?;
    let (c, deleting) = crate::shell::create(ctx.k, Path::new(ROOT), &id, &b.dir).map_err(|e| Failure::new(e.0))?;
    let net = if net { Some(network::connect(ctx.k, c.pid, ctx.subnet).map_err(|e| Failure::new(e.0))?) } else { None };
    Ok(Finale { net, _deleting: deleting, c, _bundle: b })
}

fn make_bundle(ctx: &mut Ctx) -> Result<(), Failure> {
    let (b, _, _) = make(ctx, &["/bin/sh"])?;
    ctx.fact("label.bundle", b.dir.display());
    let (loaded, _) = spec::load(&b.dir).map_err(|e| Failure::new(e.to_string()))?;
    let linux = loaded.linux().clone().unwrap_or_default();
    let namespaces: Vec<String> = linux
        .namespaces()
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|n| format!("{:?}", n.typ()).to_lowercase())
        .collect();
    ctx.observe("field.namespaces", "", namespaces.join(" "));
    // What the file says, read back (not the constants it was written from).
    let bounding = loaded
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
        .and_then(|c| c.bounding().as_ref())
        .map(|set| set.len())
        .unwrap_or(0);
    ctx.observe("field.capabilities", "", bounding);
    // Whole calls, and the ioctl requests matched on an argument, counted apart; of
    // the calls, the ones this architecture has (lesson 6's trace counts those).
    let rules = linux.seccomp().as_ref().and_then(|s| s.syscalls().clone()).unwrap_or_default();
    let (whole, ioctls): (Vec<_>, Vec<_>) = rules.iter().partition(|r| r.args().is_none());
    let names: Vec<String> = whole.iter().flat_map(|r| r.names().clone()).collect();
    let known = crate::primitives::seccomp::this_arch()
        .and_then(|arch| crate::primitives::seccomp::deny("count", &names, arch, true))
        .map(|p| p.denied.len())
        .unwrap_or(names.len());
    let denied = crate::i18n::fill(
        &ctx.s("value.seccomp_denied"),
        &[("names", &names.len()), ("known", &known), ("ioctls", &ioctls.len())],
    );
    ctx.observe("field.seccomp", "", denied);
    let resources = linux.resources().clone().unwrap_or_default();
    let memory = resources.memory().as_ref().and_then(|m| m.limit()).unwrap_or(0);
    ctx.observe("field.memory", "", format!("{} MiB", memory >> 20));
    ctx.observe("field.pids", "", resources.pids().as_ref().map(|p| p.limit()).unwrap_or(0));
    let rootfs = b.dir.join("rootfs").display().to_string();
    let ours = mountinfo::parse(&std::fs::read_to_string("/proc/self/mountinfo")?);
    let overlay = mountinfo::at(&ours, &rootfs).map(|m| m.fstype.clone()).unwrap_or_default();
    // The learner's shell (our parent) is still in the host's mount namespace.
    let parent = nix::unistd::getppid().as_raw();
    let hosts = std::fs::read_to_string(format!("/proc/{parent}/mountinfo")).unwrap_or_default();
    let on_host = mountinfo::at(&mountinfo::parse(&hosts), &rootfs).is_some();
    ctx.observe("label.overlay", if on_host { &overlay } else { "—" }, &overlay);
    ctx.check("check.bundle.valid", namespaces.len() == 6, namespaces.join(" "));
    ctx.check("check.bundle.overlay", overlay == "overlay" && b.writable, &overlay);
    ctx.check("check.bundle.private", !on_host, if on_host { "visible on the host" } else { "—" });
    Ok(())
}

/// The kinds of filesystem a container is made of; anything else inside would be a
/// piece of the host.
const CONTAINER_FS: [&str; 8] = ["overlay", "proc", "tmpfs", "devpts", "mqueue", "sysfs", "cgroup", "cgroup2"];

fn create(ctx: &mut Ctx) -> Result<(), Failure> {
    let f = finale(ctx, &["sleep", "3600"], false)?;
    let pid = f.c.pid;
    let seen = observe::observe(ctx.k, &f.c).map_err(|e| Failure::new(e.0))?;
    // Lesson 1: six new namespaces, the user namespace shared (as runc's default).
    for n in &seen.namespaces {
        ctx.observe_raw(n.kind.proc_name(), &n.host, &n.container);
    }
    let new: Vec<&str> = seen.namespaces.iter().filter(|n| n.is_new()).map(|n| n.kind.proc_name()).collect();
    ctx.check("check.create.namespaces", new.len() == 6 && !new.contains(&"user"), new.join(" "));
    let ours = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    ctx.observe("label.hostname", ours, &seen.hostname);
    ctx.check("check.create.hostname", seen.hostname == "learnctr", &seen.hostname);
    // Lessons 3 and 4: the root, and nothing of the host's filesystems inside.
    let table = mountinfo::parse(&std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))?);
    let foreign: Vec<String> = table
        .iter()
        .filter(|m| !CONTAINER_FS.contains(&m.fstype.as_str()))
        .map(|m| format!("{} ({})", m.mount_point, m.fstype))
        .collect();
    ctx.observe("label.root", "", &seen.root_fs);
    ctx.observe("label.mounts", "", table.len());
    ctx.check("check.create.root", seen.root_fs == "overlay" && foreign.is_empty(), foreign.join(", "));
    let nspid = observe::status_field_all(pid, "NSpid");
    ctx.observe("label.pid", pid, nspid.split_whitespace().last().unwrap_or("?"));
    ctx.check("check.create.pid1", nspid.split_whitespace().last() == Some("1"), &nspid);
    let devices: Vec<String> = probe::list_dir(&format!("/proc/{pid}/root/dev")).map_err(Failure::new)?;
    ctx.observe("label.dev", "", devices.join(" "));
    ctx.check(
        "check.create.dev",
        ["null", "zero", "urandom", "tty"].iter().all(|d| devices.iter().any(|x| x == d)) && devices.len() <= 20,
        devices.len(),
    );
    let sys_ro = mountinfo::at(&table, "/sys").is_some_and(|m| m.read_only());
    ctx.check("check.create.sys", sys_ro, if sys_ro { "ro" } else { "rw" });
    // The first of runc's masked /proc files this kernel has.
    let masked = ["kcore", "keys", "timer_list", "sched_debug"]
        .iter()
        .map(|f| format!("/proc/{f}"))
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| "/proc/kcore".into());
    let st = probe::stat(&format!("/proc/{pid}/root{masked}")).map_err(Failure::new)?;
    let shown = format!("{masked}: {} {}:{}", st.kind, st.rdev.0, st.rdev.1);
    ctx.observe("label.masked", "", &shown);
    ctx.check("check.create.masked", st.kind == "char" && st.rdev == (1, 3), shown);
    // Lesson 5: the limits, read back from the cgroup's files.
    for (file, value) in &seen.limits {
        ctx.observe_raw(file, "", value);
    }
    let memory = seen.limits.iter().any(|(f, v)| f.starts_with("memory.") && *v == bundle::DEFAULT_MEMORY.to_string());
    let pids = seen.limits.iter().any(|(f, v)| f == "pids.max" && *v == bundle::DEFAULT_PIDS.to_string());
    let limits: Vec<String> = seen.limits.iter().map(|(f, v)| format!("{f}={v}")).collect();
    ctx.check("check.create.limits", memory && pids, limits.join(" "));
    let member = f.c.cgroup_dirs.iter().all(|d| {
        std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default().lines().any(|l| l == pid.to_string())
    });
    ctx.check("check.create.cgroup", member, f.c.cgroup_dirs.len());
    offer_shell(ctx, f, &["hostname", "ps", "cat /proc/self/mountinfo", "ls /dev"])
}

/// At the pause, a shell that joins the container's namespaces, as `nsenter` would (it
/// keeps root's full privileges: the container's own limits are applied to what
/// `learnctr exec` or the container runs, not to a joined shell). The container lives
/// until the step ends.
fn offer_shell(ctx: &mut Ctx, f: Finale, inside: &[&str]) -> Result<(), Failure> {
    let pid = f.c.pid;
    let kinds = [Namespace::Uts, Namespace::Ipc, Namespace::Net, Namespace::Pid, Namespace::Cgroup, Namespace::Mount];
    let helper = ctx.start(Plan::join(pid, &kinds))?;
    let outside = vec![
        format!("sudo learnctr exec {} sh", f.c.id),
        format!("sudo nsenter -t {pid} -a sh"),
        format!("lsns -p {pid}"),
        format!("cat /proc/{pid}/status"),
    ];
    ctx.hold(Box::new(f));
    ctx.inspect(helper, inside, outside);
    Ok(())
}

fn privileges(ctx: &mut Ctx) -> Result<(), Failure> {
    let f = finale(ctx, &["sleep", "3600"], false)?;
    let pid = f.c.pid;
    let seen = observe::observe(ctx.k, &f.c).map_err(|e| Failure::new(e.0))?;
    let docker = Mask::from_names(&DOCKER_DEFAULT).map_err(Failure::new)?;
    ctx.observe("label.bounding", "", seen.bounding.summary());
    ctx.check(
        "check.privileges.caps",
        seen.bounding == docker && seen.effective == docker,
        seen.bounding.names().len(),
    );
    ctx.check("check.privileges.nnp", seen.no_new_privs, seen.no_new_privs);
    // seccomp: installed last, right before execve, so it appears once `start` ran.
    let before = seen.seccomp_mode;
    runtime::start(Path::new(ROOT), &f.c.id).map_err(|e| Failure::new(e.0))?;
    let after = observe::status_field(pid, "Seccomp").unwrap_or_default();
    ctx.observe("label.seccomp_created", "", before);
    ctx.observe("label.seccomp_running", "", &after);
    ctx.check("check.privileges.seccomp", before == 0 && after == "2", format!("{before} → {after}"));
    // A call of the deny list, tried inside with the container's own settings: exit 0
    // only if unshare failed with EPERM (busybox names the errno in its message).
    let script = "unshare -U true 2>&1 | grep -q 'Operation not permitted'";
    let argv: Vec<String> = ["sh", "-c", script].iter().map(|s| s.to_string()).collect();
    let exec = runtime::exec::ExecOptions { command: argv, ..Default::default() };
    let code = runtime::exec(ctx.k, Path::new(ROOT), &f.c.id, &exec).map_err(|e| Failure::new(e.0))?;
    let answer = if code == 0 { "EPERM".to_string() } else { format!("≠ EPERM (exit {code})") };
    ctx.observe("label.unshare", "", &answer);
    // Only where this kernel would let the container make a user namespace without
    // the profile does the refusal prove the profile.
    match crate::host::doctor::userns_restriction() {
        None => ctx.check("check.privileges.denied", code == 0, answer),
        Some(setting) => ctx.fact("label.userns_restricted", setting),
    }
    Ok(())
}

fn network(ctx: &mut Ctx) -> Result<(), Failure> {
    let f = finale(ctx, &["sleep", "3600"], true)?;
    let net = f.net.as_ref().ok_or_else(|| Failure::new("no network".into()))?;
    let helper = Inside::start(ctx.k, Plan::join(f.c.pid, &[Namespace::Net]))?;
    let inside = match helper.ask(Probe::Interfaces)? {
        Answer::Interfaces(list) => list,
        _ => Vec::new(),
    };
    drop(helper);
    let shown: Vec<String> = inside.iter().map(|i| format!("{} {}", i.name, i.addresses.join(","))).collect();
    ctx.observe("label.interfaces", &net.host_end, shown.join("; "));
    let eth0 = inside.iter().find(|i| i.name == "eth0");
    let wanted = format!("{}/{}", net.address, net.subnet.prefix);
    ctx.check("check.network.eth0", eth0.is_some_and(|i| i.up && i.addresses.contains(&wanted)), &wanted);
    let master = crate::primitives::netns::master_of(&net.host_end);
    ctx.check("check.network.bridge", master == network::BRIDGE, &master);
    let replies = net_client::ping(ctx.k, net.address, 3, std::time::Duration::from_secs(2))?;
    ctx.observe("label.ping", format!("→ {}", net.address), format!("{} / 3", replies.len()));
    ctx.check("check.network.ping", !replies.is_empty(), replies.len());
    let gateway = format!("ping -c 3 {}", net.gateway);
    offer_shell(ctx, f, &["ip addr", "ip route", &gateway])
}

fn with_runc(ctx: &mut Ctx) -> Result<(), Failure> {
    let (b, _, id) = make(ctx, &["/bin/sh"])?;
    side_by_side::step(ctx, &b.dir, &id)
}

fn built(ctx: &mut Ctx) -> Result<(), Failure> {
    for (label, path) in [
        ("label.code.primitives", "src/primitives/"),
        ("label.code.runtime", "src/runtime/"),
        ("label.code.shell", "src/shell/"),
        ("label.code.lessons", "src/lessons/"),
    ] {
        ctx.fact(label, path);
    }
    // Every step made a container and removed it: the host holds nothing of them.
    let cgroups: Vec<String> = crate::primitives::cgroups::remove::learnctr_cgroups()
        .iter()
        .map(|p| p.display().to_string())
        .filter(|p| p.contains("lesson10-"))
        .collect();
    let links = crate::primitives::netns::learnctr_links();
    let bundles: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("learnctr-lesson10-"))
        .collect();
    let states: Vec<String> =
        state::list(Path::new(ROOT)).into_iter().map(|c| c.id).filter(|i| i.starts_with("lesson10-")).collect();
    let left: Vec<String> = cgroups.into_iter().chain(links).chain(bundles).chain(states).collect();
    ctx.check("check.built.clean", left.is_empty(), if left.is_empty() { "—".into() } else { left.join(", ") });
    Ok(())
}
