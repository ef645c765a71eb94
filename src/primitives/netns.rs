//! Named network namespaces (`ip netns`) and host interfaces, as far as cleanup needs
//! them (`netlink.rs` makes and configures interfaces).

use super::kernel::{Kernel, Linux};
use nix::mount::MntFlags;

pub const NETNS_DIR: &str = "/run/netns";

/// Named network namespaces whose name starts with `learnctr`.
pub fn learnctr_netns() -> Vec<String> {
    names_in(NETNS_DIR)
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

/// `ip netns add NAME`: a network namespace that outlives its processes because it is
/// bind-mounted on a file in /run/netns. This is the one mount learnctr makes in the
/// host's mount namespace — it *is* the named namespace — so it is journaled by the
/// caller and removed with `remove_named`.
pub fn create_named(name: &str) -> super::Result<String> {
    let path = format!("{NETNS_DIR}/{name}");
    std::fs::create_dir_all(NETNS_DIR).map_err(|e| super::Error::io(NETNS_DIR, e))?;
    let k: &dyn Kernel = &Linux;
    k.create_file(&path, 0o444)?;
    // A short-lived child makes the namespace; the bind mount keeps it.
    let holder = super::isolate::Isolated::start(k, super::isolate::Plan::new(&[super::namespaces::Namespace::Net]))?;
    let bound =
        k.mount(Some(&format!("/proc/{}/ns/net", holder.pid())), &path, None, nix::mount::MsFlags::MS_BIND, None);
    drop(holder);
    if let Err(e) = bound {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok(path)
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
