//! Choosing addresses for the lesson's network that this host does not already use.

use std::net::Ipv4Addr;

/// A /24 (or other) IPv4 network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

/// Tried in this order when `--subnet` is not given: private ranges that home and
/// office networks rarely use.
pub const CANDIDATES: [&str; 3] = ["10.231.42.0/24", "10.232.42.0/24", "172.31.231.0/24"];

impl Subnet {
    pub fn parse(text: &str) -> Option<Subnet> {
        let (addr, prefix) = text.split_once('/')?;
        let base: Ipv4Addr = addr.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        if !(8..=29).contains(&prefix) {
            return None;
        }
        let mask = Self::mask_of(prefix);
        Some(Subnet { base: Ipv4Addr::from(u32::from(base) & mask), prefix })
    }

    fn mask_of(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        }
    }

    /// The n-th address (1 = the gateway, the bridge).
    pub fn host(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + n)
    }

    pub fn overlaps(&self, other_base: Ipv4Addr, other_prefix: u8) -> bool {
        let shorter = self.prefix.min(other_prefix);
        let mask = Self::mask_of(shorter);
        u32::from(self.base) & mask == u32::from(other_base) & mask
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// The host's IPv4 routes, from `/proc/net/route` (destination and prefix length),
/// except the default route (it overlaps everything and is no collision).
pub fn host_routes() -> Vec<(Ipv4Addr, u8, String)> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            // The kernel prints the address as a native integer: its bytes in memory
            // are the address in network order.
            (mask != 0).then(|| (Ipv4Addr::from(dest.to_ne_bytes()), mask.count_ones() as u8, f[0].to_string()))
        })
        .collect()
}

/// The first route of the host that overlaps `subnet`, if any.
pub fn collision(subnet: &Subnet) -> Option<String> {
    host_routes()
        .into_iter()
        .find(|(base, prefix, _)| subnet.overlaps(*base, *prefix))
        .map(|(b, p, dev)| format!("{b}/{p} dev {dev}"))
}

/// The subnet to use: the learner's (refused if it collides), else the first free
/// candidate.
pub fn choose(wanted: Option<&str>) -> Result<Subnet, (String, Option<String>)> {
    if let Some(text) = wanted {
        let subnet = Subnet::parse(text).ok_or((text.to_string(), None))?;
        return match collision(&subnet) {
            Some(route) => Err((subnet.to_string(), Some(route))),
            None => Ok(subnet),
        };
    }
    for text in CANDIDATES {
        let subnet = Subnet::parse(text).expect("the candidates are valid");
        if collision(&subnet).is_none() {
            return Ok(subnet);
        }
    }
    Err((CANDIDATES.join(", "), Some("every default candidate".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set in the copy of the test that runs in a network namespace of its own.
    const IN_OWN_NETNS: &str = "LEARNCTR_TEST_IN_OWN_NETNS";

    #[test]
    fn the_host_routes_are_read() {
        // This machine's routes, whatever they are (a sandbox may have none): valid prefixes.
        for (_, prefix, dev) in host_routes() {
            assert!(prefix <= 32 && !dev.is_empty());
        }
        if !crate::primitives::rerun::is_rerun(IN_OWN_NETNS) {
            return again_in_own_netns();
        }
        // Here the routes are the two added for this copy: the /24, read in network
        // byte order, and the default route, which is left out.
        assert_eq!(host_routes(), [(Ipv4Addr::new(10, 9, 8, 0), 24, "lo".to_string())]);
    }

    /// This test again, in a new network namespace (and a user namespace, when not
    /// root) that has a route to 10.9.8.0/24 and a default route, both through lo.
    fn again_in_own_netns() {
        let test = format!("{}::the_host_routes_are_read", module_path!().split_once("::").unwrap().1);
        let routes = "ip link set lo up && ip route add 10.9.8.0/24 dev lo && ip route add default dev lo";
        let mut unshare = std::process::Command::new("unshare");
        if !crate::primitives::process::is_root() {
            unshare.args(["--user", "--map-root-user"]);
        }
        unshare.args(["--net", "sh", "-c", &format!("{routes} && exec \"$0\" \"$@\"")]);
        crate::primitives::rerun::rerun_under(unshare, &test, IN_OWN_NETNS, "in its own netns");
    }

    #[test]
    fn subnets_parse_and_overlap() {
        let s = Subnet::parse("10.231.42.7/24").unwrap();
        assert_eq!(s.to_string(), "10.231.42.0/24");
        assert_eq!(s.host(1), Ipv4Addr::new(10, 231, 42, 1));
        assert!(s.overlaps(Ipv4Addr::new(10, 0, 0, 0), 8));
        assert!(!s.overlaps(Ipv4Addr::new(10, 232, 0, 0), 16));
        assert!(Subnet::parse("nonsense").is_none());
        assert!(Subnet::parse("10.0.0.0/31").is_none());
    }
}
