//! Tasks of lesson 7: two named network namespaces, a veth pair, a route.

use super::{Ctx, Verdict};
use crate::primitives::{net_client, netns};
use std::path::Path;
use std::time::Duration;

// 7.1: named namespaces learnctr-a and learnctr-b, a veth pair between them with
// 10.231.77.1/24 in a and 10.231.77.2/24 in b, and learnctr's ping answered.

const A: (&str, &str) = ("learnctr-a", "10.231.77.1/24");
const B: (&str, &str) = ("learnctr-b", "10.231.77.2/24");

/// How many of learnctr's three pings, sent from inside learnctr-a, `target` answered.
fn replies_from_a(target: std::net::Ipv4Addr) -> usize {
    netns::in_named(A.0, move || net_client::ping(&crate::primitives::Linux, target, 3, Duration::from_secs(2)))
        .ok()
        .and_then(Result::ok)
        .map(|times| times.len())
        .unwrap_or(0)
}

pub(super) fn addresses_in(name: &str) -> Vec<String> {
    netns::in_named(name, crate::instruments::probe::interfaces)
        .ok()
        .and_then(Result::ok)
        .map(|list| list.into_iter().flat_map(|i| i.addresses).collect())
        .unwrap_or_default()
}

pub(super) fn network_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    for (name, _) in [A, B] {
        let exists = Path::new(netns::NETNS_DIR).join(name).exists();
        if !v.require(exists, ctx.s("check.7.1.netns", &[("name", &name)]), || {
            ctx.s("unmet.7.1.netns", &[("name", &name)])
        }) {
            return v;
        }
    }
    for (name, address) in [A, B] {
        let found = addresses_in(name);
        v.require(
            found.iter().any(|a| a == address),
            ctx.s("check.7.1.address", &[("name", &name), ("address", &address)]),
            || ctx.s("unmet.7.1.address", &[("name", &name), ("address", &address), ("found", &found.join(", "))]),
        );
    }
    if v.unmet.is_some() {
        return v;
    }
    let target = B.1.split('/').next().and_then(|a| a.parse().ok()).unwrap_or(std::net::Ipv4Addr::LOCALHOST);
    let replies = replies_from_a(target);
    v.require(replies > 0, ctx.s("check.7.1.ping", &[("n", &replies)]), || ctx.s("unmet.7.1.ping", &[]));
    v
}

pub(super) fn remove_task_netns(_: &Ctx) -> Vec<String> {
    let mut removed: Vec<String> = [A.0, B.0]
        .into_iter()
        .filter(|name| Path::new(netns::NETNS_DIR).join(name).exists())
        .filter(|name| netns::remove_named(name).is_ok())
        .map(|name| format!("netns {name}"))
        .collect();
    if !removed.is_empty() && netns::unmount_empty_netns_dir().unwrap_or(false) {
        removed.push(format!("the mount of {} on itself", netns::NETNS_DIR));
    }
    removed
}

// 7.2: on top of 7.1, learnctr-a's loopback up and a default route via 10.231.77.2,
// so an address outside the subnet (10.231.78.1, which b holds on its loopback) is
// reached through b.

/// The default gateway of the named namespace, read as the kernel lists its routes
/// (`/proc/thread-self/net/route`: the thread's own network namespace).
pub(super) fn default_gateway(name: &str) -> Option<std::net::Ipv4Addr> {
    let table =
        netns::in_named(name, || std::fs::read_to_string("/proc/thread-self/net/route").unwrap_or_default()).ok()?;
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // Destination 00000000 with mask 00000000: the default route; the gateway is a
        // little-endian hex address.
        (f.get(1) == Some(&"00000000") && f.get(7) == Some(&"00000000"))
            .then(|| u32::from_str_radix(f.get(2)?, 16).ok())
            .flatten()
            .map(|g| std::net::Ipv4Addr::from(g.swap_bytes()))
    })
}

pub(super) fn route_task(ctx: &Ctx) -> Verdict {
    let mut v = Verdict::default();
    let first = network_task(ctx);
    if !v.require(first.passed(), ctx.s("check.7.2.base", &[]), || ctx.s("unmet.7.2.base", &[])) {
        return v;
    }
    let gateway = default_gateway(A.0);
    let shown = gateway.map(|g| g.to_string()).unwrap_or_else(|| "—".to_string());
    v.require(gateway == Some(std::net::Ipv4Addr::new(10, 231, 77, 2)), ctx.s("check.7.2.route", &[]), || {
        ctx.s("unmet.7.2.route", &[("found", &shown)])
    });
    if v.unmet.is_some() {
        return v;
    }
    let far = std::net::Ipv4Addr::new(10, 231, 78, 1);
    let replies = replies_from_a(far);
    v.require(replies > 0, ctx.s("check.7.2.far", &[("n", &replies)]), || ctx.s("unmet.7.2.far", &[]));
    v
}
