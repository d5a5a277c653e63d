//! Every kind of heartbeat link on a real network at once (IPv4 unicast, multicast and
//! broadcast, and IPv6 unicast), each reported on its own, and an IPv6 VIP that moves with an
//! unsolicited neighbour advertisement the client follows.

use std::time::Duration;

use haagent_testbed::{Config, net};

use super::*;

const PREFIX: &str = "e2l";
const SUBNET: u8 = 52;

fn v6(last: u8) -> String {
    format!("fd98:{SUBNET}::{last}")
}

fn manifest(bed: &TestBed) -> String {
    let node = |n: &str, i: u8| {
        format!(
            "  {n}: {{ address: {}, addresses: {{ six: {} }} }}\n",
            bed.ip(n),
            v6(i)
        )
    };
    format!(
        "cluster: e2e\nnodes:\n{}{}heartbeat:\n  interval: 250ms\n  warn_after: 500ms\n  dead_after: 1500ms\n  initial_dead: 3s\n  links:\n    - {{ name: lan, transport: unicast, interface: eth0 }}\n    - {{ name: mc, transport: multicast, group: 239.192.0.7, ttl: 1, interface: eth0, port: 695 }}\n    - {{ name: bc, transport: broadcast, interface: eth0, port: 696 }}\n    - {{ name: six, transport: unicast, interface: eth0, port: 697 }}\nauth:\n  key_file: /etc/haagent/authkey\nquorum:\n  two_node:\n    tie_breaker: ping\nconnectivity:\n  ping: [{}]\n  interval: 500ms\ngroups:\n  web:\n    nodes: [alpha, beta]\n    resources:\n      - vip: {}/24\n        interface: eth0\n      - unit: web.service\n  web6:\n    nodes: [alpha, beta]\n    resources:\n      - vip: {}/64\n        interface: eth0\n",
        node("alpha", 1),
        node("beta", 2),
        bed.client_ip(),
        vip(bed),
        v6(VIP_LAST)
    )
}

fn links_of(c: &Cluster, on: &str, peer: &str) -> Vec<(String, bool)> {
    let out = c.ctl(on, &["status", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    s["nodes"][peer]["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap().to_owned(),
                l["up"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_link_kind_carries_heartbeats_and_an_ipv6_vip_moves_with_its_advertisement() {
    let vip4 = Ipv4Addr::new(10, 98, SUBNET, VIP_LAST);
    let cfg = Config::new(PREFIX, [10, 98, SUBNET], 2)
        .named(&["alpha", "beta"])
        .unit("web.service", &echo_unit(vip4), false);
    let Some(c) = cluster_of(cfg, manifest) else {
        return;
    };
    for (n, i) in [("alpha", 1), ("beta", 2)] {
        net::ipv6_on(c.bed.host(n).netns(), &v6(i)).unwrap();
    }
    net::ipv6_on(&c.bed.client_netns(), &v6(100)).unwrap();
    start_on(&c, &["alpha", "beta"], "alpha");
    cluster::wait_for("web6 on alpha", Duration::from_secs(10), || {
        c.sh("alpha", "ip -6 -o addr show dev eth0")
            .unwrap()
            .contains(&v6(VIP_LAST))
    })
    .unwrap();

    let all_up = |l: &Vec<(String, bool)>| l.len() == 4 && l.iter().all(|(_, up)| *up);
    cluster::wait_for("four live links", Duration::from_secs(5), || {
        all_up(&links_of(&c, "beta", "alpha"))
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", links_of(&c, "beta", "alpha")));

    // The multicast link alone fails: beta reports it down and alpha still alive.
    net::nft_rule(PREFIX, "beta", "udp dport 695 drop").unwrap();
    cluster::wait_for("mc down on beta", Duration::from_secs(5), || {
        links_of(&c, "beta", "alpha").contains(&("mc".into(), false))
    })
    .unwrap();
    let links = links_of(&c, "beta", "alpha");
    assert_eq!(links.iter().filter(|(_, up)| *up).count(), 3, "{links:?}");
    assert!(c.journal("beta").contains("no heartbeat on mc"));
    assert_eq!(never_twice(&c, Duration::from_secs(1)), ["alpha"]);

    // The client talks to the IPv6 VIP, then it moves: the client's neighbour entry follows.
    let ping6 = c
        .bed
        .client(&["ping", "-6", "-c", "1", "-W", "1", &v6(VIP_LAST)]);
    assert!(
        ping6.status.success(),
        "{}",
        String::from_utf8_lossy(&ping6.stdout)
    );
    c.sh("alpha", "systemctl stop haagent").unwrap();
    cluster::wait_for("web6 on beta", Duration::from_secs(5), || {
        c.sh("beta", "ip -6 -o addr show dev eth0")
            .unwrap()
            .contains(&v6(VIP_LAST))
    })
    .unwrap();
    let beta_mac = net::mac(PREFIX, 2);
    cluster::wait_for(
        "the client's neighbour entry to name beta",
        Duration::from_secs(3),
        || {
            let n = c.bed.client(&["ip", "-6", "neigh", "show", &v6(VIP_LAST)]);
            String::from_utf8_lossy(&n.stdout).contains(&beta_mac)
        },
    )
    .unwrap();
}
