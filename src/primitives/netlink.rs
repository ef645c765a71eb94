//! Network configuration over netlink, the way `ip` does it.
//!
//! `ip link add`, `ip addr add`, `ip route add` all send a message to the kernel on a
//! `NETLINK_ROUTE` socket and read its answer. Each request here is one such message,
//! built with the `netlink-packet-route` crate, sent with `sendto(2)`, and answered by
//! the kernel with an acknowledgement (0) or an errno, which the trace shows. A netlink
//! socket belongs to the network namespace it was created in; to configure the inside
//! of a container, learnctr opens a socket there (see `in_namespace_of`).

use super::error::{Error, Result};
use super::kernel::Kernel;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, RawFd};

/// A netlink socket in one network namespace.
pub struct Netlink {
    socket: Socket,
}

impl Netlink {
    /// A socket in the network namespace we are in now.
    pub fn open() -> Result<Netlink> {
        let io = |e: std::io::Error| Error::io("socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)", e);
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(io)?;
        socket.bind_auto().map_err(io)?;
        Ok(Netlink { socket })
    }

    /// A socket in the network namespace of process `pid`: join it with `setns`, open
    /// the socket (it stays bound to that namespace), and come back.
    pub fn in_namespace_of(k: &dyn Kernel, pid: i32) -> Result<Netlink> {
        let ours = k.open("/proc/self/ns/net")?;
        let theirs = k.open(&format!("/proc/{pid}/ns/net"))?;
        let entered = k.setns(theirs, nix::sched::CloneFlags::CLONE_NEWNET);
        let socket = entered.and_then(|_| Netlink::open());
        let back = k.setns(ours, nix::sched::CloneFlags::CLONE_NEWNET);
        let _ = k.close(theirs);
        let _ = k.close(ours);
        back?;
        socket
    }

    fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Send one request and wait for the kernel's acknowledgement.
    fn request(&self, k: &dyn Kernel, summary: String, message: RouteNetlinkMessage, create: bool) -> Result<()> {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | if create { NLM_F_CREATE | NLM_F_EXCL } else { 0 };
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut bytes = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut bytes);
        k.netlink(self.fd(), summary, bytes)
    }

    /// `ip link add NAME type bridge`.
    pub fn add_bridge(&self, k: &dyn Kernel, name: &str) -> Result<()> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
        self.request(
            k,
            format!("RTM_NEWLINK {{IFLA_IFNAME=\"{name}\", IFLA_LINKINFO={{kind=\"bridge\"}}}}"),
            RouteNetlinkMessage::NewLink(m),
            true,
        )
    }

    /// `ip link add NAME type veth peer name PEER`.
    pub fn add_veth(&self, k: &dyn Kernel, name: &str, peer: &str) -> Result<()> {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.to_string()));
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        let summary = format!(
            "RTM_NEWLINK {{IFLA_IFNAME=\"{name}\", IFLA_LINKINFO={{kind=\"veth\", peer={{IFLA_IFNAME=\"{peer}\"}}}}}}"
        );
        self.request(k, summary, RouteNetlinkMessage::NewLink(m), true)
    }

    /// `ip link set NAME netns PID`: move an interface into another network namespace.
    pub fn move_to_namespace_of(&self, k: &dyn Kernel, name: &str, pid: i32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = self.index(name)?;
        m.attributes.push(LinkAttribute::NetNsPid(pid as u32));
        self.request(
            k,
            format!("RTM_NEWLINK {{ifindex={}, IFLA_NET_NS_PID={pid}}}", m.header.index),
            RouteNetlinkMessage::SetLink(m),
            false,
        )
    }

    /// `ip link set NAME name NEW`.
    pub fn rename(&self, k: &dyn Kernel, name: &str, new: &str) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = self.index(name)?;
        m.attributes.push(LinkAttribute::IfName(new.to_string()));
        self.request(
            k,
            format!("RTM_NEWLINK {{ifindex={}, IFLA_IFNAME=\"{new}\"}}", m.header.index),
            RouteNetlinkMessage::SetLink(m),
            false,
        )
    }

    /// `ip link set NAME master BRIDGE`.
    pub fn attach(&self, k: &dyn Kernel, name: &str, bridge: &str) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = self.index(name)?;
        let master = self.index(bridge)?;
        m.attributes.push(LinkAttribute::Controller(master));
        self.request(
            k,
            format!("RTM_NEWLINK {{ifindex={}, IFLA_MASTER={master}}}", m.header.index),
            RouteNetlinkMessage::SetLink(m),
            false,
        )
    }

    /// `ip link set NAME up`.
    pub fn up(&self, k: &dyn Kernel, name: &str) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = self.index(name)?;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        self.request(
            k,
            format!("RTM_NEWLINK {{ifindex={}, ifi_flags=IFF_UP}}", m.header.index),
            RouteNetlinkMessage::SetLink(m),
            false,
        )
    }

    /// `ip link delete NAME` (a veth takes its peer with it).
    pub fn delete(&self, k: &dyn Kernel, name: &str) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = self.index(name)?;
        self.request(
            k,
            format!("RTM_DELLINK {{ifindex={} /* {name} */}}", m.header.index),
            RouteNetlinkMessage::DelLink(m),
            false,
        )
    }

    /// `ip addr add ADDR/PREFIX dev NAME`.
    pub fn add_address(&self, k: &dyn Kernel, name: &str, addr: Ipv4Addr, prefix: u8) -> Result<()> {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.prefix_len = prefix;
        m.header.index = self.index(name)?;
        m.attributes.push(AddressAttribute::Local(IpAddr::V4(addr)));
        m.attributes.push(AddressAttribute::Address(IpAddr::V4(addr)));
        let summary = format!("RTM_NEWADDR {{ifa_index={}, ifa_prefixlen={prefix}, IFA_LOCAL={addr}}}", m.header.index);
        self.request(k, summary, RouteNetlinkMessage::NewAddress(m), true)
    }

    /// `ip route add default via GATEWAY`.
    pub fn add_default_route(&self, k: &dyn Kernel, gateway: Ipv4Addr) -> Result<()> {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Boot;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes.push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        self.request(
            k,
            format!("RTM_NEWROUTE {{dst=0.0.0.0/0, RTA_GATEWAY={gateway}}}"),
            RouteNetlinkMessage::NewRoute(m),
            true,
        )
    }

    /// The index of an interface in this socket's namespace (`RTM_GETLINK` by name:
    /// a reading, not traced).
    pub fn index(&self, name: &str) -> Result<u32> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(RouteNetlinkMessage::GetLink(m)));
        packet.finalize();
        let mut bytes = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut bytes);
        let io = |e: std::io::Error| Error::io(format!("RTM_GETLINK {name}"), e);
        self.socket.send(&bytes, 0).map_err(io)?;
        let (reply, _) = self.socket.recv_from_full().map_err(io)?;
        match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&reply).map(|m| m.payload) {
            Ok(NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link))) => Ok(link.header.index),
            Ok(NetlinkPayload::Error(e)) => Err(Error::Sys {
                call: format!("RTM_GETLINK {{IFLA_IFNAME=\"{name}\"}}"),
                errno: nix::errno::Errno::from_raw(e.code.map(|c| -c.get()).unwrap_or(libc::ENODEV)),
            }),
            _ => Err(Error::Child(format!("unexpected netlink answer for {name}"))),
        }
    }
}
