//! A network for a container, made from the host the way CNI's bridge plugin does it
//! for runc (the OCI runtime itself configures no network): after `create`, while the
//! container waits for `start`, a veth pair is made on the host, one end moved into the
//! container's network namespace and renamed `eth0`, the other plugged into the bridge
//! `learnctr0`, which holds the gateway address. The same netlink calls as lesson 7.
//!
//! Only addresses of a private subnet this host does not use; no NAT, no forwarding:
//! the container reaches the host's bridge address and nothing beyond it.

use crate::host::journal::{Entry, Journal, Object};
use crate::primitives::netlink::Netlink;
use crate::primitives::subnet::{self, Subnet};
use crate::primitives::Kernel;
use crate::runtime::{Rt, RtError};
use std::net::Ipv4Addr;

pub use crate::primitives::netns::BRIDGE;

/// What was made; dropping it deletes the host's interfaces and their journal entries.
pub struct Network {
    pub subnet: Subnet,
    pub address: Ipv4Addr,
    pub gateway: Ipv4Addr,
    /// The host's end of the veth pair (`learnctr-PIDh`).
    pub host_end: String,
    links: Vec<(String, Entry)>,
}

impl Drop for Network {
    fn drop(&mut self) {
        // The veth end first (its peer vanishes with it), then the bridge.
        while let Some((name, entry)) = self.links.pop() {
            let _ = crate::primitives::netns::delete_link(&name);
            drop(entry);
        }
    }
}

/// Connect the container whose init is `pid` to the bridge, at the subnet's `.2`.
pub fn connect(k: &dyn Kernel, pid: i32, wanted: Option<&str>) -> Rt<Network> {
    let subnet = subnet::choose(wanted).map_err(|(subnet, route)| {
        let tf = crate::i18n::tf;
        RtError(match route {
            Some(route) => tf("net.subnet_collides", &[("subnet", &subnet), ("route", &route)]),
            None => tf("net.subnet_invalid", &[("subnet", &subnet)]),
        })
    })?;
    let journal = Journal::system();
    let host = Netlink::open()?;
    let mut net = Network {
        subnet,
        address: subnet.host(2),
        gateway: subnet.host(1),
        host_end: format!("learnctr-{}h", std::process::id() % 100_000),
        links: Vec::new(),
    };
    if std::path::Path::new("/sys/class/net").join(BRIDGE).exists() {
        return Err(RtError(format!(
            "the bridge {BRIDGE} already exists (another learnctr uses it): one container with --net at a time"
        )));
    }
    let journaled = |name: &str| journal.record(Object::Link { name: name.to_string() }).map_err(RtError::from);
    let entry = journaled(BRIDGE)?;
    host.add_bridge(k, BRIDGE)?;
    net.links.push((BRIDGE.to_string(), entry));
    host.add_address(k, BRIDGE, net.gateway, subnet.prefix)?;
    host.up(k, BRIDGE)?;
    let peer = format!("learnctr-{}c", std::process::id() % 100_000);
    let entry = journaled(&net.host_end)?;
    host.add_veth(k, &net.host_end, &peer)?;
    net.links.push((net.host_end.clone(), entry));
    host.move_to_namespace_of(k, &peer, pid)?;
    host.attach(k, &net.host_end, BRIDGE)?;
    host.up(k, &net.host_end)?;
    let inside = Netlink::in_namespace_of(k, pid)?;
    inside.rename(k, &peer, "eth0")?;
    inside.add_address(k, "eth0", net.address, subnet.prefix)?;
    inside.up(k, "eth0")?;
    inside.add_default_route(k, net.gateway)?;
    Ok(net)
}
