//! Lesson 6: capabilities, no_new_privs and seccomp — what root inside a container may
//! still do.
//!
//! Each step starts a process as root in new namespaces, restricts it the way runc
//! does (or not yet), and attempts privileged operations inside; the kernel's answer
//! (ok, EPERM...) is the proof.

use super::common::*;
use crate::course::{Ctx, Failure, Lesson, Step};
use crate::instruments::attempts::{self, Attempt};
use crate::instruments::probe::{Answer, Probe};
use crate::primitives::capabilities::{self, Mask, DOCKER_DEFAULT, RUNC_SPEC};
use crate::primitives::isolate::Plan;
use crate::primitives::namespaces::Namespace;
use crate::primitives::{mounts, seccomp, trace};

pub fn lesson() -> Lesson {
    Lesson {
        number: 6,
        name: "capabilities",
        needs_rootfs: false,
        steps: vec![
            Step { id: "sets", shell: &["grep Cap /proc/$$/status", "capsh --decode=000001ffffffffff"], key: &[], run: sets },
            Step {
                id: "drop",
                shell: &["setpriv --bounding-set -all,+audit_write,+kill,+net_bind_service --inh-caps -all -- sh -c 'grep Cap /proc/self/status'", "({{shell.runc_capabilities}})"],
                key: &["PR_CAPBSET_DROP", "capset("], run: drop_caps,
            },
            Step { id: "denied", shell: &["hostname x; chown 1000 f; ping -c1 127.0.0.1; mknod n c 1 3; mount -t tmpfs t /mnt"], key: &[], run: denied },
            Step { id: "docker", shell: &["({{shell.docker_default}})"], key: &["capset("], run: docker },
            Step { id: "addback", shell: &["({{shell.add_chown}})"], key: &["capset("], run: add_back },
            Step { id: "nnp", shell: &["setpriv --no-new-privs ./learnctr-whoami", "(config.json: \"noNewPrivileges\": true)"], key: &["PR_SET_NO_NEW_PRIVS", "chmod("], run: nnp },
            Step { id: "seccomp", shell: &["(config.json: \"linux\": { \"seccomp\": { \"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [...] } })"], key: &["seccomp("], run: filter },
            Step { id: "order", shell: &["({{shell.runc_order}})"], key: &["seccomp(", "capset(", "PR_SET_NO_NEW_PRIVS"], run: order },
        ],
    }
}

/// Where the lesson's scratch tmpfs is mounted inside (its own mount namespace).
const SCRATCH: &str = "/mnt";
const FILE: &str = "/mnt/file";

/// How a step's container is restricted.
#[derive(Clone)]
struct Restrictions {
    keep: Option<Mask>,
    no_new_privs: bool,
    seccomp: Option<&'static str>,
    /// Become this user at the end (uid and gid), dropping every capability.
    user: Option<u32>,
    setuid_helper: bool,
}

const NONE: Restrictions =
    Restrictions { keep: None, no_new_privs: false, seccomp: None, user: None, setuid_helper: false };

/// Root in new uts, net, ipc, pid and mount namespaces, with a scratch tmpfs, then the
/// restrictions in runc's order: no_new_privs; seccomp now if there is no
/// no_new_privs (installing it needs CAP_SYS_ADMIN, about to be dropped); the
/// capabilities, bounding set first; seccomp last when no_new_privs allows it.
fn container(r: Restrictions) -> Plan {
    let kinds = [Namespace::Uts, Namespace::Net, Namespace::Ipc, Namespace::Pid, Namespace::Mount];
    Plan::new(&kinds).with_setup(move |k| {
        mounts::make_private(k)?;
        k.mount(Some("tmpfs"), SCRATCH, Some("tmpfs"), nix::mount::MsFlags::empty(), Some("size=512m,mode=1777"))?;
        k.create_file(FILE, 0o644)?;
        if r.setuid_helper {
            attempts::setuid_helper(k, SCRATCH)?;
        }
        if r.no_new_privs {
            k.no_new_privs()?;
        }
        let profile = r.seccomp.map(load_profile).transpose()?;
        if let (Some(p), false) = (&profile, r.no_new_privs) {
            seccomp::install(k, p)?;
        }
        if let Some(keep) = r.keep {
            capabilities::restrict(k, keep)?;
        }
        if let Some(uid) = r.user {
            k.become_user(uid, uid)?;
        }
        if let (Some(p), true) = (&profile, r.no_new_privs) {
            seccomp::install(k, p)?;
        }
        Ok(())
    })
}

fn load_profile(name: &str) -> crate::primitives::Result<seccomp::Profile> {
    seccomp::this_arch().and_then(|arch| seccomp::named(name, arch)).map_err(crate::primitives::Error::Child)
}

fn runc_default() -> Mask {
    Mask::from_names(&RUNC_SPEC).unwrap_or_default()
}

/// Observe the five sets of the host's shell and of the process inside.
fn compare_sets(ctx: &mut Ctx, inside_pid: i32) -> Result<Vec<(&'static str, Mask)>, Failure> {
    let host_pid = nix::unistd::getppid().as_raw();
    let host = capabilities::of_process(Some(host_pid)).or_else(|_| capabilities::of_process(None))?;
    let inside = capabilities::of_process(Some(inside_pid))?;
    for ((name, h), (_, i)) in host.iter().zip(inside.iter()) {
        ctx.observe_raw(name, h.summary(), i.summary());
    }
    Ok(inside)
}

fn set_of(sets: &[(&'static str, Mask)], name: &str) -> Mask {
    sets.iter().find(|(n, _)| *n == name).map(|(_, m)| *m).unwrap_or_default()
}

fn sets(ctx: &mut Ctx) -> Result<(), Failure> {
    let inside = ctx.start(container(NONE))?;
    let sets = compare_sets(ctx, inside.pid())?;
    let host = capabilities::of_process(None)?;
    let full = set_of(&host, "effective");
    ctx.check(
        "check.sets.root_is_root",
        set_of(&sets, "effective") == full && full.0 != 0,
        set_of(&sets, "effective").summary(),
    );
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &["grep Cap /proc/self/status", "hostname changed-inside; hostname"],
        vec![format!("grep Cap /proc/{pid}/status")],
    );
    Ok(())
}

fn drop_caps(ctx: &mut Ctx) -> Result<(), Failure> {
    let keep = runc_default();
    let inside = ctx.start(container(Restrictions { keep: Some(keep), ..NONE }))?;
    let sets = compare_sets(ctx, inside.pid())?;
    for (set, key) in [
        ("bounding", "check.drop.bounding"),
        ("effective", "check.drop.effective"),
        ("permitted", "check.drop.permitted"),
    ] {
        ctx.check(key, set_of(&sets, set) == keep, set_of(&sets, set).summary());
    }
    // runc's config.json names no inheritable and no ambient capabilities.
    for (set, key) in [("inheritable", "check.drop.inheritable"), ("ambient", "check.drop.ambient")] {
        ctx.check(key, set_of(&sets, set).0 == 0, set_of(&sets, set).summary());
    }
    let pid = inside.pid();
    ctx.inspect(inside, &["grep Cap /proc/self/status"], vec![format!("grep Cap /proc/{pid}/status")]);
    Ok(())
}

/// The operations of the demonstration, each with the result expected under runc's
/// default set: denied (EPERM, or EACCES for a low port) unless the capability is kept.
fn operations(ctx: &Ctx) -> Vec<Attempt> {
    vec![
        Attempt::Sethostname(ctx.s("value.hostname_denied")),
        Attempt::Chown(FILE.into()),
        Attempt::RawSocket,
        Attempt::Mknod(format!("{SCRATCH}/null")),
        Attempt::MountTmpfs(SCRATCH.into()),
        Attempt::BindPort(80),
    ]
}

/// An operation as the tables and claims name it: its command, or its name in the
/// lesson's text when it is no command.
fn shown(ctx: &Ctx, op: &Attempt) -> String {
    op.command().unwrap_or_else(|| match op {
        Attempt::UnshareX32 => ctx.s("op.unshare_x32"),
        _ => ctx.s("label.install_filter"),
    })
}

/// Try every operation inside; check each against the capabilities `keep` holds.
fn try_all(
    ctx: &mut Ctx,
    inside: &crate::course::step::Contained,
    keep: Mask,
    key_prefix: &str,
) -> Result<(), Failure> {
    ctx.columns = Some((ctx.s("value.capability"), ctx.s("value.result")));
    for op in operations(ctx) {
        let got = text(inside.ask(Probe::Try(op.clone()))?);
        let cap = op.capability();
        let kept = capabilities::parse(cap).map(|c| keep.contains(c)).unwrap_or(false);
        ctx.observe_raw(&shown(ctx, &op), cap, &got);
        let denied = got == "EPERM" || got == "EACCES";
        let passed = if kept { got == "ok" } else { denied };
        let key = if kept { format!("{key_prefix}.allowed") } else { format!("{key_prefix}.denied") };
        let claim = crate::i18n::fill(&ctx.s(&key), &[("op", &shown(ctx, &op)), ("cap", &cap)]);
        ctx.checks.push(crate::course::step::Check { claim, passed, measured: got });
    }
    Ok(())
}

fn denied(ctx: &mut Ctx) -> Result<(), Failure> {
    let keep = runc_default();
    let inside = ctx.start(container(Restrictions { keep: Some(keep), ..NONE }))?;
    try_all(ctx, &inside, keep, "check.op")?;
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &[
            "hostname x",
            "chown 1000 /mnt/file",
            "ping -c1 127.0.0.1",
            "mknod /mnt/n c 1 3",
            "nc -l -p 80 & sleep 1; kill %1",
        ],
        vec![format!("grep Cap /proc/{pid}/status")],
    );
    Ok(())
}

fn docker(ctx: &mut Ctx) -> Result<(), Failure> {
    let keep = Mask::from_names(&DOCKER_DEFAULT).map_err(Failure::new)?;
    let inside = ctx.start(container(Restrictions { keep: Some(keep), ..NONE }))?;
    try_all(ctx, &inside, keep, "check.op")?;
    Ok(())
}

fn add_back(ctx: &mut Ctx) -> Result<(), Failure> {
    let keep = Mask(runc_default().0 | Mask::from_names(&["CAP_CHOWN"]).map_err(Failure::new)?.0);
    let inside = ctx.start(container(Restrictions { keep: Some(keep), ..NONE }))?;
    let got = text(inside.ask(Probe::Try(Attempt::Chown(FILE.into())))?);
    ctx.columns = Some((ctx.s("value.capability"), ctx.s("value.result")));
    ctx.observe_raw(&shown(ctx, &Attempt::Chown(FILE.into())), "CAP_CHOWN", &got);
    let owner = text(inside.ask(Probe::Owner(FILE.into()))?);
    ctx.observe_raw(&format!("stat {FILE}"), "", &owner);
    ctx.check("check.addback.chown", got == "ok" && owner == "1000:1000", format!("{got}, {owner}"));
    Ok(())
}

fn nnp(ctx: &mut Ctx) -> Result<(), Failure> {
    let helper = format!("{SCRATCH}/{}", attempts::WHOAMI);
    let base = Restrictions { user: Some(65534), setuid_helper: true, ..NONE };
    let plain = ctx.start(container(base.clone()))?;
    let guarded = ctx.start(container(Restrictions { no_new_privs: true, ..base }))?;
    ctx.columns = Some((ctx.s("value.without_nnp"), ctx.s("value.with_nnp")));
    let nnp_field = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("NoNewPrivs:").map(|v| v.trim().to_string()))
            .unwrap_or_default()
    };
    ctx.observe_raw("NoNewPrivs", nnp_field(plain.pid()), nnp_field(guarded.pid()));
    let run = |c: &crate::course::step::Contained| -> Result<String, Failure> {
        match c.ask(Probe::Run(vec![helper.clone()]))? {
            Answer::Output { output, .. } => Ok(output.trim().to_string()),
            other => Ok(other.text()),
        }
    };
    let (without, with) = (run(&plain)?, run(&guarded)?);
    ctx.observe_raw(&format!("{helper} (setuid root)"), &without, &with);
    ctx.check("check.nnp.setuid_gains", without == "uid=65534 euid=0", &without);
    ctx.check("check.nnp.setuid_blocked", with == "uid=65534 euid=65534", &with);
    let filter = Attempt::InstallFilter("lesson".into());
    let (f_without, f_with) = (text(plain.ask(Probe::Try(filter.clone()))?), text(guarded.ask(Probe::Try(filter))?));
    ctx.observe_raw(&ctx.s("label.install_filter"), &f_without, &f_with);
    ctx.check("check.nnp.filter_needs_nnp", f_without == "EACCES", &f_without);
    ctx.check("check.nnp.filter_with_nnp", f_with == "ok", &f_with);
    let pid = plain.pid();
    drop(guarded);
    ctx.inspect(
        plain,
        &["id", "/mnt/learnctr-whoami", "grep NoNewPrivs /proc/self/status"],
        vec![format!("grep -E 'NoNewPrivs|Cap' /proc/{pid}/status")],
    );
    Ok(())
}

fn filter(ctx: &mut Ctx) -> Result<(), Failure> {
    // Root with every capability: whatever seccomp denies, no capability brings back.
    let inside = ctx.start(container(Restrictions { seccomp: Some("lesson"), ..NONE }))?;
    // One table: what the step expects beside what the kernel says, for the status
    // lines and for each call.
    ctx.columns = Some((ctx.s("value.expected"), ctx.s("value.result")));
    let (mode, filters) = seccomp::status(Some(inside.pid()));
    // On x86_64 a second filter guards the x32 numbers (see seccomp.rs).
    let expected_filters = if cfg!(target_arch = "x86_64") { "2" } else { "1" };
    ctx.observe_raw("Seccomp", "2", &mode);
    ctx.observe_raw("Seccomp_filters", expected_filters, &filters);
    ctx.check("check.seccomp.mode", mode == "2" && filters == expected_filters, format!("{mode} {filters}"));
    let mut attempts = vec![
        (Attempt::Unshare(Namespace::Uts), true),
        (Attempt::Keyctl, true),
        (Attempt::MountTmpfs(SCRATCH.into()), true),
        (Attempt::Sethostname(ctx.s("value.hostname_allowed")), false),
        (Attempt::Getpid, false),
    ];
    if cfg!(target_arch = "x86_64") {
        attempts.insert(2, (Attempt::UnshareX32, true));
    }
    for (op, denied) in attempts {
        let got = text(inside.ask(Probe::Try(op.clone()))?);
        ctx.observe_raw(&shown(ctx, &op), if denied { "EPERM" } else { "ok" }, &got);
        let key = if denied { "check.seccomp.denied" } else { "check.seccomp.allowed" };
        let claim = crate::i18n::fill(&ctx.s(key), &[("op", &shown(ctx, &op))]);
        let passed = if denied { got == "EPERM" } else { got == "ok" };
        ctx.checks.push(crate::course::step::Check { claim, passed, measured: got });
    }
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &["grep Seccomp /proc/self/status", "unshare --uts true", "hostname ok-here"],
        vec![format!("grep Seccomp /proc/{pid}/status")],
    );
    Ok(())
}

fn order(ctx: &mut Ctx) -> Result<(), Failure> {
    let keep = runc_default();
    let inside =
        ctx.start(container(Restrictions { keep: Some(keep), no_new_privs: true, seccomp: Some("default"), ..NONE }))?;
    let calls: Vec<String> = trace::recorded().into_iter().filter(|e| e.result == "0").map(|e| e.call).collect();
    let at = |prefix: &str| calls.iter().position(|c| c.starts_with(prefix));
    let steps = [at("prctl(PR_SET_NO_NEW_PRIVS"), at("prctl(PR_CAPBSET_DROP"), at("capset("), at("seccomp(")];
    let in_order = steps.iter().all(Option::is_some) && steps.windows(2).all(|w| w[0] < w[1]);
    ctx.check("check.order.runc", in_order, format!("{steps:?}"));
    let (mode, _) = seccomp::status(Some(inside.pid()));
    let sets = capabilities::of_process(Some(inside.pid()))?;
    ctx.observe_raw("Seccomp", seccomp::status(None).0, &mode);
    ctx.observe_raw(
        "CapEff",
        capabilities::of_process(None).map(|s| set_of(&s, "effective").summary()).unwrap_or_default(),
        set_of(&sets, "effective").summary(),
    );
    ctx.check(
        "check.order.all_applied",
        mode == "2" && set_of(&sets, "effective") == keep,
        format!("{mode} {}", set_of(&sets, "effective").summary()),
    );
    let keyctl = text(inside.ask(Probe::Try(Attempt::Keyctl))?);
    ctx.observe_raw(&shown(ctx, &Attempt::Keyctl), "", &keyctl);
    ctx.check("check.order.profile_denies", keyctl == "EPERM", &keyctl);
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &["grep -E 'Cap|Seccomp|NoNewPrivs' /proc/self/status"],
        vec![format!("grep -E 'Cap|Seccomp|NoNewPrivs' /proc/{pid}/status")],
    );
    Ok(())
}
