//! Lesson 7 as root: every check passes; after the lesson, after an error in the
//! middle, and after SIGKILL plus `learnctr cleanup`, no learnctr interface, bridge or
//! route remains and the host's routes are unchanged. A subnet that collides with a
//! host route is refused in one sentence.

mod common;

use common::*;
use nix::sys::signal::Signal;
use std::time::Duration;

/// netns 3, veth 4, bridge 4, http 2, two 2.
const LESSON7_CHECKS: usize = 15;

#[test]
fn lesson7_builds_a_network_and_removes_it() {
    let Some(t) = root_test("lesson7_builds_a_network_and_removes_it") else { return };
    let rootfs = t.busybox();
    let out = learnctr(&["lesson", "7", "--yes", "--rootfs", rootfs.to_str().unwrap()]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.matches('✓').count(), LESSON7_CHECKS, "{stdout}");
    assert!(!stdout.contains('✗'), "{stdout}");
    for line in [
        "RTM_NEWLINK {IFLA_IFNAME=\"learnctr0\", IFLA_LINKINFO={kind=\"bridge\"}}) + ack = 0",
        "RTM_NEWROUTE",
        "IFLA_NET_NS_PID=",
    ] {
        assert!(stdout.contains(line), "trace lacks {line}\n{stdout}");
    }
    t.assert_same_host("after lesson 7");
}

#[test]
fn an_error_in_the_middle_removes_the_network() {
    let Some(t) = root_test("an_error_in_the_middle_removes_the_network") else { return };
    // A rootfs with a shell and no httpd: the http step fails after the bridge and
    // the veth pair exist.
    let rootfs = dynamic_rootfs(t.path());
    let out =
        learnctr(&["lesson", "7", "--step", "4", "--yes", "--rootfs", rootfs.to_str().unwrap()]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("learnctr0"), "the bridge was made before the error:\n{stdout}");
    assert!(stderr.contains("httpd"), "{stderr}");
    t.assert_same_host("after an error in the http step");
}

#[test]
fn sigkill_then_cleanup_removes_the_network() {
    let Some(t) = root_test("sigkill_then_cleanup_removes_the_network") else { return };
    let rootfs = t.busybox();
    let mut child = start_held(&["lesson", "7", "--yes", "--rootfs", rootfs.to_str().unwrap()], "two");
    let during = host_state();
    assert!(during.links.iter().any(|l| l == "learnctr0"), "{:?}", during.links);
    assert_ne!(t.before.routes, during.routes, "the bridge's subnet route exists while the lesson runs");
    signal(&child, Signal::SIGKILL);
    child.wait().unwrap();
    // Its containers die with it (PR_SET_PDEATHSIG), and their veth ends with their
    // network namespaces; what is left then is for cleanup.
    let died = wait_until(Duration::from_secs(5), || host_state().learnctr_processes == t.before.learnctr_processes);
    assert!(died, "the lesson's containers outlived its SIGKILL by 5 s");
    assert!(host_state().links.iter().any(|l| l == "learnctr0"), "SIGKILL leaves the bridge for cleanup");
    let out = learnctr(&["cleanup"]).output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains("interface learnctr0"), "{}", text(&out).0);
    t.assert_same_host("after SIGKILL and cleanup");
}

#[test]
fn a_subnet_that_collides_is_refused() {
    let Some(t) = root_test("a_subnet_that_collides_is_refused") else { return };
    // A subnet of one of this host's own routes.
    let routes = std::fs::read_to_string("/proc/net/route").unwrap();
    let line = routes.lines().skip(1).find(|l| l.split_whitespace().nth(7) != Some("00000000")).expect("a link route");
    let f: Vec<&str> = line.split_whitespace().collect();
    let dest = u32::from_str_radix(f[1], 16).unwrap();
    let addr = std::net::Ipv4Addr::from(dest.to_ne_bytes());
    let prefix = u32::from_str_radix(f[7], 16).unwrap().count_ones();
    let subnet = format!("{addr}/{prefix}");
    let rootfs = t.busybox();
    let out =
        learnctr(&["lesson", "7", "--step", "2", "--yes", "--subnet", &subnet, "--rootfs", rootfs.to_str().unwrap()])
            .output()
            .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("collides with the host's route"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    t.assert_same_host("after a refused subnet");
}
