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
