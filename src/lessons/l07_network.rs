//! Lesson 7: a container network from nothing — a network namespace, a veth pair, a
//! bridge, addresses and routes, ping both ways, a web server inside reached from the
//! host, and two containers talking. Every change is a netlink request (traced); the
//! `ip` commands are the shell equivalent. Only addresses inside namespaces this lesson
//! made are ever used: no NAT, no forwarding, nothing leaves the machine.

use super::recipes;
use crate::course::step::Contained;
use crate::course::{Ctx, Failure, Lesson, Step};
use crate::i18n::{fill, tf};
use crate::instruments::probe::{Answer, Interface, Probe};
use crate::primitives::isolate::Plan;
use crate::primitives::namespaces::Namespace;
use crate::primitives::net_client;
use crate::primitives::netlink::Netlink;
use crate::primitives::netns::BRIDGE;
use crate::primitives::subnet::{self, Subnet};
use std::net::Ipv4Addr;
use std::time::Duration;

pub fn lesson() -> Lesson {
    Lesson {
        number: 7,
        name: "network",
        needs_rootfs: true,
        steps: vec![
            Step { id: "netns", shell: &["unshare --net --fork sh", "ip link set lo up", "busybox ping -c1 127.0.0.1"], key: &["CLONE_NEWNET", "IFF_UP"], run: netns },
            Step {
                id: "veth",
                shell: &[
                    "unshare --net sleep 600 & sleep 1; PID=$!",
                    "ip link add learnctr-1a type veth peer name learnctr-1b",
                    "ip link set learnctr-1b netns $PID",
                    "nsenter -t $PID -n ip link set learnctr-1b name eth0",
                    "ip addr add SUBNET.1/24 dev learnctr-1a; ip link set learnctr-1a up",
                    "nsenter -t $PID -n sh -c 'ip addr add SUBNET.2/24 dev eth0; ip link set eth0 up'",
                    "busybox ping -c1 SUBNET.2",
                ],
                key: &["kind=\"veth\"", "IFLA_NET_NS_PID"], run: veth,
            },
            Step {
                id: "bridge",
                shell: &[
                    "ip addr del SUBNET.1/24 dev learnctr-1a",
                    "ip link add learnctr0 type bridge; ip addr add SUBNET.1/24 dev learnctr0; ip link set learnctr0 up",
                    "ip link set learnctr-1a master learnctr0; ip link set learnctr-1a up",
                    "nsenter -t $PID -n ip route add default via SUBNET.1",
                    "busybox ping -c1 SUBNET.2",
                    "kill $PID; ip link del learnctr0",
                ],
                key: &["kind=\"bridge\"", "IFLA_MASTER", "RTM_NEWROUTE"], run: bridge,
            },
            Step {
                id: "http",
                shell: &["nsenter -t PID -n -m httpd -f -p 80 -h /tmp/www &", "wget -qO- http://SUBNET.2/"],
                key: &["socket(", "connect("], run: http,
            },
            Step { id: "two", shell: &["({{shell.second_container}})", "nsenter -t PID2 -n busybox ping -c3 -i 0.2 SUBNET.2"], key: &["kind=\"veth\"", "IFLA_MASTER"], run: two },
        ],
    }
}

/// The subnet: `--subnet`, else the first default that no host route uses.
fn choose_subnet(ctx: &mut Ctx) -> Result<Subnet, Failure> {
    let s = subnet::choose(ctx.subnet).map_err(|(wanted, route)| match route {
        Some(route) => Failure::new(tf("net.subnet_collides", &[("subnet", &wanted), ("route", &route)])),
        None => Failure::usage(tf("net.subnet_invalid", &[("subnet", &wanted)])),
    })?;
    ctx.fact("label.subnet", format!("{s} ({}: {})", ctx.s("value.gateway"), s.host(1)));
    Ok(s)
}

/// A container: new network (and uts, pid, ipc, mount) namespaces, pivoted into the
/// rootfs with lesson 4's /proc and /dev (`recipes::minimal_container`), and a tmpfs on /tmp for the lesson's files.
fn container(ctx: &mut Ctx) -> Result<Contained, Failure> {
    let root = ctx.rootfs()?;
    let kinds = [Namespace::Net, Namespace::Uts, Namespace::Pid, Namespace::Ipc, Namespace::Mount];
    ctx.start(Plan::new(&kinds).with_setup(move |k| {
        k.sethostname("learnctr-net")?;
        recipes::minimal_container(k, &root)?;
        // After the pivot (and its private propagation), so the tmpfs stays inside.
        k.mount(Some("tmpfs"), "/tmp", Some("tmpfs"), nix::mount::MsFlags::empty(), Some("size=8m"))
    }))
}

fn interfaces_inside(c: &Contained) -> Result<Vec<Interface>, Failure> {
    match c.ask(Probe::Interfaces)? {
        Answer::Interfaces(list) => Ok(list),
        other => Err(Failure::new(format!("unexpected answer {other:?}"))),
    }
}

fn find<'a>(list: &'a [Interface], name: &str) -> Option<&'a Interface> {
    list.iter().find(|i| i.name == name)
}

/// A veth pair whose host end is `learnctr-NNNNNx` and whose other end becomes `eth0`
/// inside `c`, with `address`. Returns the host end's name.
fn plug(ctx: &mut Ctx, c: &Contained, letter: char, address: Ipv4Addr, prefix: u8) -> Result<String, Failure> {
    let k = ctx.k;
    let host = Netlink::open()?;
    let id = std::process::id() % 100_000;
    let (host_end, peer) = (format!("learnctr-{id}{letter}"), format!("learnctr-{id}{}", letter.to_ascii_uppercase()));
    ctx.host_link(&host_end, || host.add_veth(k, &host_end, &peer)).map_err(|f| unsupported(f, "net.veth_missing"))?;
    host.move_to_namespace_of(k, &peer, c.pid())?;
    let inside = Netlink::in_namespace_of(k, c.pid())?;
    inside.rename(k, &peer, "eth0")?;
    inside.add_address(k, "eth0", address, prefix)?;
    inside.up(k, "lo")?;
    inside.up(k, "eth0")?;
    Ok(host_end)
}

/// A kernel without the veth or bridge driver answers EOPNOTSUPP to the netlink
/// request: say which module is missing and how to get it.
fn unsupported(f: Failure, key: &str) -> Failure {
    if f.message.contains("EOPNOTSUPP") {
        Failure::new(crate::i18n::t(key))
    } else {
        f
    }
}

/// The bridge with the gateway address, up.
fn make_bridge(ctx: &mut Ctx, s: &Subnet) -> Result<Netlink, Failure> {
    let k = ctx.k;
    let host = Netlink::open()?;
    ctx.host_link(BRIDGE, || host.add_bridge(k, BRIDGE)).map_err(|f| {
        if f.message.contains("EEXIST") {
            Failure::new(tf("net.bridge_exists", &[("bridge", &BRIDGE)]))
        } else {
            unsupported(f, "net.bridge_missing")
        }
    })?;
    host.add_address(k, BRIDGE, s.host(1), s.prefix)?;
    host.up(k, BRIDGE)?;
    Ok(host)
}

/// Plug `c` into the bridge at `address`, with its default route via the bridge.
fn plug_into_bridge(
    ctx: &mut Ctx,
    host: &Netlink,
    c: &Contained,
    letter: char,
    s: &Subnet,
    n: u32,
) -> Result<String, Failure> {
    let k = ctx.k;
    let host_end = plug(ctx, c, letter, s.host(n), s.prefix)?;
    host.attach(k, &host_end, BRIDGE)?;
    host.up(k, &host_end)?;
    Netlink::in_namespace_of(k, c.pid())?.add_default_route(k, s.host(1))?;
    Ok(host_end)
}

/// busybox ping inside: the number of replies and the round-trip line.
fn ping_inside(c: &Contained, to: Ipv4Addr) -> Result<(u32, String), Failure> {
    let out = c.ask(Probe::Run(vec![
        "ping".into(),
        "-c".into(),
        "3".into(),
        "-i".into(),
        "0.2".into(),
        "-W".into(),
        "1".into(),
        to.to_string(),
    ]))?;
    let text = out.text();
    let received = text
        .lines()
        .find(|l| l.contains("packets received"))
        .and_then(|l| l.split(',').nth(1))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let rtt = text.lines().find(|l| l.contains("round-trip")).unwrap_or("").trim().to_string();
    Ok((received, rtt))
}

/// learnctr's own ping from the host: the replies, and what the table shows.
fn ping_from_host(ctx: &Ctx, to: Ipv4Addr) -> Result<(usize, String), Failure> {
    let rtts = net_client::ping(ctx.k, to, 3, Duration::from_secs(1))?;
    let avg = rtts.iter().map(|d| d.as_secs_f64() * 1000.0).sum::<f64>() / rtts.len().max(1) as f64;
    let figures = fill(&ctx.s("value.ping_figures"), &[("received", &rtts.len()), ("avg", &format!("{avg:.3}"))]);
    Ok((rtts.len(), figures))
}

/// Ping from inside to the gateway (busybox), and from the host to inside (learnctr).
fn ping_both_ways(ctx: &mut Ctx, c: &Contained, s: &Subnet) -> Result<(), Failure> {
    let (received, rtt) = ping_inside(c, s.host(1))?;
    ctx.observe("label.ping_to_host", s.host(1), format!("{received} / 3 {rtt}"));
    ctx.check("check.veth.ping_out", received == 3, received);
    let (back, figures) = ping_from_host(ctx, s.host(2))?;
    ctx.observe("label.ping_to_container", &figures, s.host(2));
    ctx.check("check.veth.ping_in", back == 3, &figures);
    Ok(())
}

fn host_commands(c: &Contained) -> Vec<String> {
    let pid = c.pid();
    vec![
        format!("sudo nsenter -t {pid} -n ip addr"),
        format!("sudo nsenter -t {pid} -n ip route"),
        "ip link show master learnctr0".into(),
    ]
}

fn netns(ctx: &mut Ctx) -> Result<(), Failure> {
    let c = container(ctx)?;
    let before = interfaces_inside(&c)?;
    ctx.observe(
        "label.interfaces",
        Answer::Interfaces(crate::instruments::probe::interfaces().map_err(Failure::new)?).text(),
        Answer::Interfaces(before.clone()).text(),
    );
    ctx.check(
        "check.netns.only_lo_down",
        find(&before, "lo").is_some_and(|lo| !lo.up)
            && before.iter().all(|i| i.name == "lo" || crate::primitives::netns::is_fallback_tunnel(&i.name) && !i.up),
        Answer::Interfaces(before).text(),
    );
    let k = ctx.k;
    Netlink::in_namespace_of(k, c.pid())?.up(k, "lo")?;
    let after = interfaces_inside(&c)?;
    ctx.observe("label.after_up", "", Answer::Interfaces(after.clone()).text());
    ctx.check("check.netns.lo_up", find(&after, "lo").is_some_and(|i| i.up), Answer::Interfaces(after).text());
    let (received, rtt) = ping_inside(&c, Ipv4Addr::LOCALHOST)?;
    ctx.observe("label.ping_lo", "", format!("{received} / 3 {rtt}"));
    ctx.check("check.netns.loopback_answers", received == 3, received);
    let cmds = host_commands(&c);
    ctx.inspect(c, &["ip link", "ip addr", "ping -c1 127.0.0.1"], cmds);
    Ok(())
}

fn veth(ctx: &mut Ctx) -> Result<(), Failure> {
    let s = choose_subnet(ctx)?;
    let c = container(ctx)?;
    let k = ctx.k;
    let host_end = plug(ctx, &c, 'a', s.host(2), s.prefix)?;
    let host = Netlink::open()?;
    host.add_address(k, &host_end, s.host(1), s.prefix)?;
    host.up(k, &host_end)?;
    let inside = interfaces_inside(&c)?;
    let outside = crate::instruments::probe::interfaces().map_err(Failure::new)?;
    let host_view = find(&outside, &host_end).map(|i| Answer::Interfaces(vec![i.clone()]).text()).unwrap_or_default();
    ctx.observe("label.interfaces", &host_view, Answer::Interfaces(inside.clone()).text());
    let eth0 = find(&inside, "eth0");
    let want = format!("{}/{}", s.host(2), s.prefix);
    ctx.check(
        "check.veth.eth0",
        eth0.is_some_and(|i| i.up && i.addresses.contains(&want)),
        Answer::Interfaces(inside.clone()).text(),
    );
    let routes = c.ask(Probe::ReadFile("/proc/net/route".into()))?.text();
    let table = c.ask(Probe::Run(vec!["ip".into(), "route".into()]))?.text();
    ctx.observe("label.routes", "", &table);
    ctx.check("check.veth.route", routes.lines().any(|l| l.starts_with("eth0")), &table);
    ping_both_ways(ctx, &c, &s)?;
    let cmds = host_commands(&c);
    let gw = format!("ping -c3 -i 0.2 {}", s.host(1));
    ctx.inspect(c, &["ip addr", "ip route", &gw], cmds);
    Ok(())
}

fn bridge(ctx: &mut Ctx) -> Result<(), Failure> {
    let s = choose_subnet(ctx)?;
    let c = container(ctx)?;
    let host = make_bridge(ctx, &s)?;
    let host_end = plug_into_bridge(ctx, &host, &c, 'a', &s, 2)?;
    let master = crate::primitives::netns::master_of(&host_end);
    ctx.observe("label.master", format!("{host_end} → {master}"), "");
    ctx.check("check.bridge.attached", master == BRIDGE, &master);
    let table = c.ask(Probe::Run(vec!["ip".into(), "route".into()]))?.text();
    ctx.observe("label.routes", "", &table);
    ctx.check("check.bridge.default_route", table.contains(&format!("default via {}", s.host(1))), &table);
    ping_both_ways(ctx, &c, &s)?;
    let cmds = host_commands(&c);
    let gw = format!("ping -c3 -i 0.2 {}", s.host(1));
    ctx.inspect(c, &["ip route", &gw], cmds);
    Ok(())
}

fn http(ctx: &mut Ctx) -> Result<(), Failure> {
    let s = choose_subnet(ctx)?;
    let c = container(ctx)?;
    let host = make_bridge(ctx, &s)?;
    plug_into_bridge(ctx, &host, &c, 'a', &s, 2)?;
    // The page the web server inside serves, in the learner's language.
    let page = ctx.s("value.page");
    c.ask(Probe::WriteText("/tmp/www/index.html".into(), page.clone()))?;
    c.ask(Probe::Spawn(vec!["httpd".into(), "-f".into(), "-p".into(), "80".into(), "-h".into(), "/tmp/www".into()]))?;
    let answer = net_client::http_get_within(s.host(2), 80, "/", Duration::from_secs(2));
    let (status, body) =
        answer.map_err(|e| Failure::new(tf("net.http_failed", &[("addr", &s.host(2)), ("detail", &e)])))?;
    ctx.observe("label.http_status", &status, format!("httpd -p 80 ({})", s.host(2)));
    ctx.observe("label.http_body", body.trim_end(), page.trim_end());
    ctx.check("check.http.ok", status.contains(" 200"), &status);
    ctx.check("check.http.body", body == page, &body);
    let cmds = host_commands(&c);
    ctx.inspect(c, &["ps", "cat /tmp/www/index.html", "wget -qO- http://127.0.0.1/"], cmds);
    Ok(())
}

fn two(ctx: &mut Ctx) -> Result<(), Failure> {
    let s = choose_subnet(ctx)?;
    let first = container(ctx)?;
    let second = container(ctx)?;
    let host = make_bridge(ctx, &s)?;
    plug_into_bridge(ctx, &host, &first, 'a', &s, 2)?;
    plug_into_bridge(ctx, &host, &second, 'b', &s, 3)?;
    let (received, rtt) = ping_inside(&second, s.host(2))?;
    ctx.observe("label.ping_between", format!("{} → {}", s.host(3), s.host(2)), format!("{received} / 3 {rtt}"));
    ctx.check("check.two.reach", received == 3, received);
    let (back, rtt_back) = ping_inside(&first, s.host(3))?;
    ctx.observe("label.ping_between", format!("{} → {}", s.host(2), s.host(3)), format!("{back} / 3 {rtt_back}"));
    ctx.check("check.two.reach_back", back == 3, back);
    let cmds = host_commands(&second);
    drop(first);
    let other = format!("ping -c3 -i 0.2 {}", s.host(2));
    ctx.inspect(second, &["ip addr", &other], cmds);
    Ok(())
}
