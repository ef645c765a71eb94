//! Named network namespaces (`ip netns`) and host interfaces, as far as cleanup needs
//! them (`netlink.rs` makes and configures interfaces).

use super::kernel::{Kernel, Linux};
use nix::mount::MntFlags;

pub const NETNS_DIR: &str = "/run/netns";

/// The bridge of lesson 7 and of the finale's `--net` (the course notes' `runc0`, with
/// our prefix).
pub const BRIDGE: &str = "learnctr0";

/// The bridge a host interface is plugged into (`ip link show master`), or "".
pub fn master_of(link: &str) -> String {
    std::fs::read_link(format!("/sys/class/net/{link}/master"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// Named network namespaces whose name starts with `learnctr`.
pub fn learnctr_netns() -> Vec<String> {
    names_in(NETNS_DIR)
}

/// Run `f` in a thread that has joined the named network namespace `name`
/// (`ip netns exec NAME`, for one thread): sockets it opens belong to that namespace,
/// and the rest of learnctr stays where it is.
pub fn in_named<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> super::Result<T> {
    in_file(&format!("{NETNS_DIR}/{name}"), f)
}

/// The same in the network namespace of process `pid` (`nsenter -t PID -n`).
pub fn in_process<T: Send>(pid: i32, f: impl FnOnce() -> T + Send) -> super::Result<T> {
    in_file(&format!("/proc/{pid}/ns/net"), f)
}

fn in_file<T: Send>(path: &str, f: impl FnOnce() -> T + Send) -> super::Result<T> {
    let k: &dyn Kernel = &Linux;
    let fd = k.open(path)?;
    let outcome = super::trace::on_a_thread(move || -> super::Result<T> {
        let linux = Linux;
        let k: &dyn Kernel = &linux;
        k.setns(fd, nix::sched::CloneFlags::CLONE_NEWNET)?;
        Ok(f())
    });
    k.close(fd)?;
    outcome.unwrap_or_else(|_| Err(super::Error::Child("the thread in the network namespace failed".into())))
}

/// The first `ip netns add` on a machine bind-mounts /run/netns onto itself (shared,
/// so the namespaces it holds reach every mount namespace); `ip netns delete` never
/// takes it back. Once no named namespace is left, unmount it: what the learner's
/// `ip netns add` did to the host's mount table is undone with their task.
pub fn unmount_empty_netns_dir() -> super::Result<bool> {
    let empty = std::fs::read_dir(NETNS_DIR).map(|mut d| d.next().is_none()).unwrap_or(false);
    let table = super::mountinfo::parse(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
    // iproute2's mount: /run/netns bound from the filesystem that holds it (the same
    // device as the mount below it, `/` or a tmpfs on /run), not a filesystem of its own.
    let below = table
        .iter()
        .filter(|m| {
            m.mount_point != NETNS_DIR && NETNS_DIR.starts_with(&format!("{}/", m.mount_point.trim_end_matches('/')))
        })
        .max_by_key(|m| m.mount_point.len());
    let self_bound = table.iter().any(|m| {
        m.mount_point == NETNS_DIR && m.root.ends_with("/netns") && below.is_some_and(|b| b.device == m.device)
    });
    if !(empty && self_bound) {
        return Ok(false);
    }
    let k: &dyn Kernel = &Linux;
    k.umount2(NETNS_DIR, MntFlags::MNT_DETACH)?;
    Ok(true)
}

/// Host interfaces whose name starts with `learnctr`.
pub fn learnctr_links() -> Vec<String> {
    names_in("/sys/class/net")
}

fn names_in(dir: &str) -> Vec<String> {
    let Ok(read) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> =
        read.flatten().filter_map(|e| e.file_name().into_string().ok()).filter(|n| n.starts_with("learnctr")).collect();
    names.sort();
    names
}

/// `ip netns delete NAME`: a named netns is a bind mount of `/proc/PID/ns/net` on a
/// file in /run/netns; unmount it, then remove the file.
pub fn remove_named(name: &str) -> super::Result<()> {
    let path = format!("{NETNS_DIR}/{name}");
    let k: &dyn Kernel = &Linux;
    match k.umount2(&path, MntFlags::MNT_DETACH) {
        Ok(()) => {}
        Err(e) if matches!(e.errno(), Some(nix::errno::Errno::EINVAL) | Some(nix::errno::Errno::ENOENT)) => {}
        Err(e) => return Err(e),
    }
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(super::Error::io(path, e)),
        _ => Ok(()),
    }
}

/// Delete a host interface (`ip link delete NAME`). Gone already is fine: a veth end
/// disappears with its peer's network namespace.
pub fn delete_link(name: &str) -> super::Result<()> {
    let k: &dyn Kernel = &Linux;
    match super::netlink::Netlink::open()?.delete(k, name) {
        Err(e) if e.errno() == Some(nix::errno::Errno::ENODEV) => Ok(()),
        other => other,
    }
}

/// The devices a tunnel module adds to every new network namespace (tunl0 for ipip,
/// sit0, gre0, ...), unless `net.core.fb_tunnels_only_for_init_net` says otherwise:
/// down, with no address. A new namespace has `lo` and these.
const FALLBACK_TUNNELS: [&str; 10] =
    ["tunl0", "sit0", "ip6tnl0", "gre0", "gretap0", "erspan0", "ip6gre0", "ip_vti0", "ip6_vti0", "ip6erspan0"];

/// Is `name` the fallback device of a tunnel module?
pub fn is_fallback_tunnel(name: &str) -> bool {
    FALLBACK_TUNNELS.contains(&name)
}
