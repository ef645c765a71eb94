//! Lesson 1: namespaces, one at a time.
//!
//! Each step starts a process in one new namespace (`unshare`), shows the namespace's
//! inode from outside and from inside, and proves with the kernel's own files what
//! the namespace isolates. The last steps join an existing namespace (`setns`, what
//! `nsenter` does) and put all of them together.

use crate::course::{Ctx, Failure, Lesson, Step};
use crate::instruments::probe::{self, Answer, Probe};
use crate::primitives::idmap::IdMap;
use crate::primitives::isolate::Plan;
use crate::primitives::namespaces::{inode_of, Namespace};
use crate::primitives::{ipc, mounts};

pub fn lesson() -> Lesson {
    Lesson {
        number: 1,
        name: "namespaces",
        needs_rootfs: false,
        steps: vec![
            Step { id: "uts", shell: &["unshare --uts sh -c 'hostname learnctr-uts; hostname'"], key: &["sethostname("], run: uts },
            Step { id: "pid", shell: &["unshare --pid --fork sh -c 'echo $$'"], key: &["CLONE_NEWPID"], run: pid },
            Step {
                id: "mount",
                shell: &["unshare --mount sh -c 'mount --make-rprivate /; mount -t tmpfs learnctr-lesson1 /mnt; grep /mnt /proc/self/mountinfo'"],
                key: &["\"tmpfs\", 0"], run: mount,
            },
            Step { id: "ipc", shell: &["unshare --ipc sh -c 'ipcmk -M 4096; ipcs -m'"], key: &["shmget("], run: ipc },
            Step { id: "net", shell: &["unshare --net ip link"], key: &["CLONE_NEWNET"], run: net },
            Step {
                id: "user",
                shell: &[
                    "unshare --user sleep 600 & sleep 1",
                    "echo '0 100000 1' > /proc/$!/uid_map; echo '0 100000 1' > /proc/$!/gid_map",
                    "nsenter -t $! -U sh -c 'id; cat /proc/self/uid_map'",
                ],
                key: &["uid_map", "gid_map", "setresuid("], run: user,
            },
            Step { id: "cgroup", shell: &["unshare --cgroup cat /proc/self/cgroup"], key: &["CLONE_NEWCGROUP"], run: cgroup },
            Step { id: "setns", shell: &[
                    "unshare --uts --net sh -c 'hostname learnctr-target; sleep 600' & sleep 1",
                    "nsenter --target $! --uts --net hostname",
                ], key: &["setns("], run: setns },
            Step {
                id: "together",
                shell: &["unshare --fork --pid --mount --uts --ipc --net --cgroup --mount-proc sh"],
                key: &["unshare("], run: together,
            },
        ],
    }
}

/// The hostname the uts step sets inside.
const UTS_HOSTNAME: &str = "learnctr-uts";
/// The source name of the tmpfs the mount step mounts (it shows in mountinfo).
const TMPFS_SOURCE: &str = "learnctr-lesson1";
/// uid and gid 0 inside the user namespace are this uid and gid outside.
const OUTSIDE_ID: u32 = 100_000;

fn host_hostname() -> String {
    probe::hostname().unwrap_or_default()
}

fn text(answer: Answer) -> String {
    answer.text()
}

/// The same question, answered by learnctr itself on the host.
fn on_host(question: &Probe) -> Result<String, Failure> {
    probe::answer(question).map(|a| a.text()).map_err(Failure::new)
}

/// Observe one namespace from both sides and check that they differ. Returns the
/// inside link, read by the process itself.
fn compare_namespace(ctx: &mut Ctx, inside: &crate::course::step::Contained, ns: Namespace) -> Result<String, Failure> {
    let host_link = ns.link(None)?;
    let inside_link = text(inside.ask(Probe::NsLink(ns))?);
    let from_outside = ns.link(Some(inside.pid())).unwrap_or_default();
    ctx.observe("label.ns", &host_link, &inside_link);
    let differs = inode_of(&host_link).is_some() && inode_of(&host_link) != inode_of(&inside_link);
    ctx.check(
        "check.ns.differs",
        differs && from_outside == inside_link,
        format!("{host_link} / {inside_link} / /proc/{}/ns: {from_outside}", inside.pid()),
    );
    Ok(inside_link)
}

fn outside_commands(pid: i32, option: &str) -> Vec<String> {
    vec![format!("sudo nsenter --target {pid} {option} sh"), format!("sudo ls -l /proc/{pid}/ns"), "lsns".to_string()]
}

fn uts(ctx: &mut Ctx) -> Result<(), Failure> {
    let before = host_hostname();
    let inside = ctx.start(Plan::new(&[Namespace::Uts]).with_setup(|k| k.sethostname(UTS_HOSTNAME)))?;
    compare_namespace(ctx, &inside, Namespace::Uts)?;
    let inside_name = text(inside.ask(Probe::Hostname)?);
    let after = host_hostname();
    ctx.observe("label.hostname", &after, &inside_name);
    ctx.check("check.uts.hostname_inside", inside_name == UTS_HOSTNAME, &inside_name);
    ctx.check("check.uts.host_unchanged", before == after, format!("{before} → {after}"));
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &["hostname", "hostname other-name; hostname", "readlink /proc/self/ns/uts"],
        outside_commands(pid, "--uts"),
    );
    Ok(())
}

fn pid(ctx: &mut Ctx) -> Result<(), Failure> {
    let inside = ctx.start(Plan::new(&[Namespace::Pid]))?;
    compare_namespace(ctx, &inside, Namespace::Pid)?;
    let own = text(inside.ask(Probe::Pid)?);
    let host_pid = inside.pid();
    ctx.observe("label.pid", host_pid, &own);
    let status = std::fs::read_to_string(format!("/proc/{host_pid}/status")).unwrap_or_default();
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap_or("").to_string();
    ctx.observe("label.nspid", &nspid, "");
    ctx.check("check.pid.one_inside", own == "1", format!("getpid() = {own}"));
    let ids: Vec<&str> = nspid.split_whitespace().skip(1).collect();
    ctx.check(
        "check.pid.two_numbers",
        ids == [host_pid.to_string().as_str(), "1"],
        format!("{nspid} (host pid {host_pid})"),
    );
    ctx.inspect(inside, &["echo $$", "ps   # {{shell.ps_host_proc}}"], outside_commands(host_pid, "--pid"));
    Ok(())
}

/// Where the mount step mounts its tmpfs: /mnt, or /tmp on systems without /mnt.
fn mount_target() -> &'static str {
    if std::path::Path::new("/mnt").is_dir() {
        "/mnt"
    } else {
        "/tmp"
    }
}

fn mountinfo_line_at(mountinfo: &str, target: &str) -> Option<String> {
    mountinfo.lines().rfind(|l| l.split_whitespace().nth(4) == Some(target)).map(str::to_string)
}

fn mount(ctx: &mut Ctx) -> Result<(), Failure> {
    let target = mount_target();
    let host_before = std::fs::read_to_string("/proc/self/mountinfo")?;
    let inside = ctx.start(Plan::new(&[Namespace::Mount]).with_setup(move |k| {
        mounts::make_private(k)?;
        mounts::mount_tmpfs(k, TMPFS_SOURCE, target)
    }))?;
    compare_namespace(ctx, &inside, Namespace::Mount)?;
    let inside_info = text(inside.ask(Probe::ReadFile("/proc/self/mountinfo".into()))?);
    let host_during = std::fs::read_to_string("/proc/self/mountinfo")?;
    let none = ctx.s("value.none");
    let inside_line = mountinfo_line_at(&inside_info, target);
    let host_line = mountinfo_line_at(&host_during, target);
    ctx.observe("label.mount_at", host_line.clone().unwrap_or(none.clone()), inside_line.clone().unwrap_or(none));
    let ours = inside_line.as_deref().is_some_and(|l| l.contains(" - tmpfs ") && l.contains(TMPFS_SOURCE));
    ctx.check("check.mount.visible_inside", ours, inside_line.unwrap_or_default());
    ctx.check(
        "check.mount.host_unchanged",
        host_before == host_during && !host_during.contains(TMPFS_SOURCE),
        format!("{} → {}", host_before.lines().count(), host_during.lines().count()),
    );
    let root_inside = mountinfo_line_at(&inside_info, "/").unwrap_or_default();
    ctx.observe(
        "label.root_propagation",
        propagation(&mountinfo_line_at(&host_during, "/").unwrap_or_default()),
        propagation(&root_inside),
    );
    ctx.check("check.mount.private", !root_inside.is_empty() && !root_inside.contains("shared:"), root_inside.clone());
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &["grep learnctr /proc/self/mountinfo", "df -h /mnt", "touch /mnt/hello; ls /mnt"],
        outside_commands(pid, "--mount"),
    );
    Ok(())
}

/// The propagation tags of a mountinfo line: `shared:1`, `master:2`, or private (in
/// the learner's language).
fn propagation(line: &str) -> String {
    let head = line.split(" - ").next().unwrap_or("");
    let tags: Vec<&str> =
        head.split_whitespace().skip(6).filter(|f| f.starts_with("shared:") || f.starts_with("master:")).collect();
    if tags.is_empty() {
        crate::i18n::t("value.private")
    } else {
        tags.join(" ")
    }
}

fn ipc(ctx: &mut Ctx) -> Result<(), Failure> {
    let inside = ctx.start(
        Plan::new(&[Namespace::Ipc]).with_setup(|k| ipc::create_shared_memory(k, ipc::LESSON_SHM_KEY).map(drop)),
    )?;
    compare_namespace(ctx, &inside, Namespace::Ipc)?;
    let inside_list = text(inside.ask(Probe::ReadFile("/proc/sysvipc/shm".into()))?);
    let host_list = std::fs::read_to_string("/proc/sysvipc/shm")?;
    let count = |t: &str| t.lines().skip(1).filter(|l| !l.trim().is_empty()).count();
    ctx.observe("label.shm_segments", count(&host_list), count(&inside_list));
    let key = ipc::LESSON_SHM_KEY;
    ctx.check("check.ipc.inside", ipc::lists_key(&inside_list, key), &inside_list);
    ctx.check("check.ipc.not_host", !ipc::lists_key(&host_list, key), &host_list);
    let pid = inside.pid();
    ctx.inspect(inside, &["cat /proc/sysvipc/shm", "ipcs -m"], outside_commands(pid, "--ipc"));
    Ok(())
}

fn net(ctx: &mut Ctx) -> Result<(), Failure> {
    let inside = ctx.start(Plan::new(&[Namespace::Net]))?;
    compare_namespace(ctx, &inside, Namespace::Net)?;
    let host_ifs = probe::interfaces().map_err(Failure::new)?;
    let inside_ifs = match inside.ask(Probe::Interfaces)? {
        Answer::Interfaces(list) => list,
        _ => Vec::new(),
    };
    ctx.observe("label.interfaces", Answer::Interfaces(host_ifs).text(), Answer::Interfaces(inside_ifs.clone()).text());
    // Besides lo, a new namespace gets the fallback device of each tunnel module the
    // host has loaded (tunl0 for ipip, sit0, gre0, ...), unless
    // net.core.fb_tunnels_only_for_init_net says otherwise: down, with no address.
    let has_lo = inside_ifs.iter().any(|i| i.name == "lo");
    let only_lo =
        has_lo && inside_ifs.iter().all(|i| i.name == "lo" || crate::primitives::netns::is_fallback_tunnel(&i.name));
    ctx.check("check.net.only_lo", only_lo, Answer::Interfaces(inside_ifs.clone()).text());
    let all_down = inside_ifs.iter().all(|i| !i.up && (i.name == "lo" || i.addresses.is_empty()));
    ctx.check("check.net.lo_down", has_lo && all_down, Answer::Interfaces(inside_ifs).text());
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &["ip link", "ip link set lo up; ip addr", "ping -c1 127.0.0.1"],
        outside_commands(pid, "--net"),
    );
    Ok(())
}

fn user(ctx: &mut Ctx) -> Result<(), Failure> {
    let map = IdMap { inside: 0, outside: OUTSIDE_ID, count: 1 };
    let inside = ctx.start(Plan::new(&[Namespace::User]).with_id_map(map))?;
    compare_namespace(ctx, &inside, Namespace::User)?;
    let ids = text(inside.ask(Probe::Ids)?);
    let status = std::fs::read_to_string(format!("/proc/{}/status", inside.pid()))?;
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("").to_string();
    let outside_uid = uid_line.split_whitespace().nth(1).unwrap_or("").to_string();
    ctx.observe("label.ids", format!("uid {outside_uid}"), format!("uid:gid {ids}"));
    let uid_map = Probe::ReadFile("/proc/self/uid_map".into());
    let words = |t: String| t.split_whitespace().collect::<Vec<_>>().join(" ");
    ctx.observe("label.uid_map", words(on_host(&uid_map)?), words(text(inside.ask(uid_map)?)));
    let root_owner = Probe::Owner("/".into());
    let owner = text(inside.ask(root_owner.clone())?);
    ctx.observe("label.root_owner", on_host(&root_owner)?, &owner);
    ctx.check("check.user.root_inside", ids == "0:0", &ids);
    ctx.check("check.user.unprivileged_outside", outside_uid == OUTSIDE_ID.to_string(), uid_line);
    ctx.check("check.user.host_root_unmapped", owner == "65534:65534", &owner);
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &["id", "cat /proc/self/uid_map", "ls -ln /", "cat /etc/shadow"],
        outside_commands(pid, "--user"),
    );
    Ok(())
}

fn cgroup(ctx: &mut Ctx) -> Result<(), Failure> {
    let inside = ctx.start(Plan::new(&[Namespace::Cgroup]))?;
    compare_namespace(ctx, &inside, Namespace::Cgroup)?;
    let inside_view = text(inside.ask(Probe::ReadFile("/proc/self/cgroup".into()))?);
    let host_view = std::fs::read_to_string(format!("/proc/{}/cgroup", inside.pid()))?;
    ctx.observe("label.cgroup_file", host_view.trim_end(), &inside_view);
    let all_root = !inside_view.is_empty() && inside_view.lines().all(|l| l.ends_with(":/"));
    ctx.check("check.cgroup.root_inside", all_root, &inside_view);
    let pid = inside.pid();
    ctx.inspect(inside, &["cat /proc/self/cgroup"], outside_commands(pid, "--cgroup"));
    Ok(())
}

/// The hostname of the process that the setns step joins.
const TARGET_HOSTNAME: &str = "learnctr-target";

fn setns(ctx: &mut Ctx) -> Result<(), Failure> {
    let kinds = [Namespace::Uts, Namespace::Net];
    let target = ctx.start(Plan::new(&kinds).with_setup(|k| k.sethostname(TARGET_HOSTNAME)))?;
    let joiner = ctx.start(Plan::join(target.pid(), &kinds))?;
    for ns in kinds {
        let target_link = ns.link(Some(target.pid()))?;
        let joined = text(joiner.ask(Probe::NsLink(ns))?);
        ctx.observe("label.ns_joined", ns.link(None)?, format!("{joined} ({})", ctx.s("value.joiner")));
        ctx.check("check.setns.same", joined == target_link, format!("{target_link} / {joined}"));
    }
    let name = text(joiner.ask(Probe::Hostname)?);
    ctx.observe("label.hostname", host_hostname(), &name);
    ctx.check("check.setns.hostname", name == TARGET_HOSTNAME, &name);
    let pid = target.pid();
    drop(target);
    ctx.inspect(joiner, &["hostname", "ip link"], outside_commands(pid, "--uts --net"));
    Ok(())
}

fn together(ctx: &mut Ctx) -> Result<(), Failure> {
    let kinds = [Namespace::Pid, Namespace::Mount, Namespace::Uts, Namespace::Ipc, Namespace::Net, Namespace::Cgroup];
    let inside = ctx.start(Plan::new(&kinds).with_setup(|k| {
        mounts::make_private(k)?;
        k.sethostname("learnctr")?;
        // What `--mount-proc` does: a proc of the new pid namespace over /proc.
        mounts::mount_proc(k, "/proc")
    }))?;
    for ns in kinds {
        let host_link = ns.link(None)?;
        let inside_link = text(inside.ask(Probe::NsLink(ns))?);
        let differs = inode_of(&host_link) != inode_of(&inside_link);
        ctx.observe("label.ns", &host_link, &inside_link);
        ctx.check("check.ns.differs", differs, format!("{host_link} / {inside_link}"));
    }
    let pids = text(inside.ask(Probe::ProcPids)?);
    let host_count = probe::proc_pids().map(|p| p.len()).unwrap_or(0);
    ctx.observe("label.processes", format!("{host_count} ({})", ctx.s("value.count")), &pids);
    ctx.check("check.together.pid1_alone", pids == "1", &pids);
    let pid = inside.pid();
    ctx.inspect(
        inside,
        &["ps", "hostname", "ip link", "mount | head"],
        vec![format!("sudo nsenter --target {pid} -a sh"), format!("lsns -p {pid}")],
    );
    Ok(())
}
