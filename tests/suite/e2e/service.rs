//! The service as a user sees it: where it comes up, how long the client waits when the
//! active node dies or hands over, what happens when the unit itself crashes, and failback.

use std::time::Duration;

use haagent_testbed::net;

use super::*;

#[test]
fn the_vip_and_the_unit_come_up_on_the_preferred_node_and_answer() {
    let spec = Spec::two("e2u", 40);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let r = haagent_testbed::Probe::run_for(
        &c.bed.client_netns(),
        SocketAddrV4::new(vip(&c.bed), PORT),
        Mode::Udp,
        Duration::from_millis(5),
        Duration::from_secs(1),
    )
    .unwrap();
    assert!(r.answered > 50, "{}", said(&r));
    assert_eq!(
        r.by_host.keys().collect::<Vec<_>>(),
        ["alpha"],
        "{}",
        said(&r)
    );
    let status = c
        .sh("alpha", "systemctl show -P StatusText haagent")
        .unwrap();
    assert!(status.contains("web running"), "alpha's status: {status}");
    let status = c
        .sh("beta", "systemctl show -P StatusText haagent")
        .unwrap();
    assert!(status.contains("alpha up"), "beta's status: {status}");
}

#[test]
fn a_power_cut_of_the_owner_moves_the_group_and_the_clients_arp_entry() {
    let spec = Spec::two("e2c", 41);
    let Some(mut c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let p = probe(&c);
    std::thread::sleep(Duration::from_millis(500));
    c.bed.kill("alpha").unwrap();
    wait_holder(&c, "beta", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let r = p.stop().unwrap();
    let budget = Duration::from_millis(spec.timers.dead_ms + 1000);
    assert!(r.longest_gap <= budget, "budget {budget:?}: {}", said(&r));
    assert_eq!(r.last_host.as_deref(), Some("beta"), "{}", said(&r));
    let neigh = c
        .bed
        .client(&["ip", "neigh", "show", &vip(&c.bed).to_string()]);
    let neigh = String::from_utf8_lossy(&neigh.stdout).to_string();
    assert!(
        neigh.contains(&net::mac(spec.prefix, 2)),
        "the client's ARP entry for the VIP should name beta ({}): {neigh}",
        net::mac(spec.prefix, 2)
    );
}

#[test]
fn stopping_the_agent_hands_over_at_once_even_with_a_long_dead_after() {
    let mut spec = Spec::two("e2s", 42);
    spec.timers = Timers {
        interval_ms: 500,
        warn_ms: 2000,
        dead_ms: 3000,
        initial_ms: 10000,
    };
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let p = probe(&c);
    std::thread::sleep(Duration::from_millis(300));
    c.sh("alpha", "systemctl stop haagent").unwrap();
    wait_holder(&c, "beta", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    let r = p.stop().unwrap();
    assert!(
        r.longest_gap < Duration::from_secs(1),
        "{}\n{}",
        said(&r),
        journals(&c)
    );
    assert_eq!(c.unit_state("alpha", "web.service"), "inactive");
    assert!(c.journal("beta").contains("announced it is leaving"));
}

#[test]
fn a_crashing_unit_moves_its_group_to_the_other_node() {
    // At once with `on_failure: move` (the default restarts it in place first: `in_place.rs`).
    let spec = Spec {
        web_extra: "    on_failure: move\n",
        ..Spec::two("e2k", 43)
    };
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    c.sh("alpha", "systemctl kill --signal=KILL web.service")
        .unwrap();
    wait_holder(&c, "beta", Duration::from_secs(10));
    let log = c.journal("alpha");
    assert!(log.contains("web.service went down"), "{log}");
    // Failed on alpha, so it stays on beta rather than bouncing back.
    let seen = never_twice(&c, Duration::from_secs(3));
    assert_eq!(seen, ["beta"], "{}", journals(&c));
}

#[test]
fn failback_returns_a_group_home_and_stickiness_keeps_another_where_it_is() {
    let spec = Spec {
        more_groups: "  sticky:\n    nodes: [alpha, beta]\n    failback: false\n    resources:\n      - vip: VIP2/24\n        interface: eth0\n",
        ..Spec::two("e2f", 44)
    };
    let Some(c) = cluster_with_second_vip(&spec) else {
        return;
    };
    let vip2 = c.bed.subnet_addr(51);
    start_on(&c, &["alpha", "beta"], "alpha");
    cluster::wait_for("sticky on alpha", Duration::from_secs(10), || {
        c.vip_holders(vip2) == ["alpha"]
    })
    .unwrap();
    c.sh("alpha", "systemctl stop haagent").unwrap();
    wait_holder(&c, "beta", Duration::from_secs(5));
    cluster::wait_for("sticky on beta", Duration::from_secs(5), || {
        c.vip_holders(vip2) == ["beta"]
    })
    .unwrap();
    c.start(&["alpha"]).unwrap();
    wait_holder(&c, "alpha", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        c.vip_holders(vip2),
        ["beta"],
        "failback: false keeps the group on beta\n{}",
        journals(&c)
    );
}

/// The spec's cluster, with `VIP2` in its extra groups replaced by the bed's `.51`.
fn cluster_with_second_vip(spec: &Spec) -> Option<Cluster> {
    let more = spec
        .more_groups
        .replace("VIP2", &format!("10.98.{}.51", spec.subnet));
    let spec = Spec {
        more_groups: &more,
        nodes: spec.nodes,
        ..*spec
    };
    cluster(&spec)
}
