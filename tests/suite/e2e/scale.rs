//! Many VIPs in one group on real hosts: 100 VIPs and a unit acquire with the tight
//! timers (a 100 ms watchdog bound) without a watchdog kill, and the loop's worst latency
//! stays under that bound; 1,000 independent VIPs (`after: []`) all appear on the holder and
//! all leave it when it releases them (with the quick timers: these tests run the debug build
//! on a shared machine, and the benchmark measures the release build at the tight ones).

use std::net::Ipv4Addr;
use std::time::Duration;

use haagent_testbed::Config;

use super::*;

/// The timers: 100 ms / 300 ms / 500 ms, so the watchdog bound is 100 ms.
const TIGHT: Timers = Timers {
    interval_ms: 100,
    warn_ms: 300,
    dead_ms: 500,
    initial_ms: 2000,
};

/// A two-node manifest whose one group holds `vips` on eth0 and then web.service.
fn manifest_of(
    bed: &haagent_testbed::TestBed,
    t: Timers,
    vips: &[Ipv4Addr],
    parallel: bool,
) -> String {
    let after = if parallel { "        after: []\n" } else { "" };
    let resources: String = vips
        .iter()
        .map(|v| format!("      - vip: {v}/24\n        interface: eth0\n{after}"))
        .collect();
    format!(
        "cluster: e2e\nnodes:\n  alpha: {{ address: {a} }}\n  beta: {{ address: {b} }}\nheartbeat:\n  interval: {}ms\n  warn_after: {}ms\n  dead_after: {}ms\n  initial_dead: {}ms\n  links:\n    - transport: unicast\n      interface: eth0\nauth:\n  key_file: /etc/haagent/authkey\nquorum:\n  two_node:\n    tie_breaker: ping\nconnectivity:\n  ping: [{c}]\n  interval: 500ms\ngroups:\n  web:\n    nodes: [alpha, beta]\n    failback: false\n    resources:\n{resources}      - unit: web.service\n",
        t.interval_ms,
        t.warn_ms,
        t.dead_ms,
        t.initial_ms,
        a = bed.ip("alpha"),
        b = bed.ip("beta"),
        c = bed.client_ip(),
    )
}

/// How many of `vips` are on a node's eth0 (one `ip` call).
fn held(c: &Cluster, node: &str, vips: &[Ipv4Addr]) -> usize {
    let out = c
        .bed
        .host(node)
        .exec(&["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let here: std::collections::HashSet<&str> = text
        .split_whitespace()
        .filter_map(|w| w.split_once('/').map(|(a, _)| a))
        .collect();
    vips.iter()
        .filter(|v| here.contains(v.to_string().as_str()))
        .count()
}

/// The group's state on `node` as its own agent reports it, and the loop's worst latency.
fn status(c: &Cluster, node: &str) -> serde_json::Value {
    let out = c.ctl(node, &["status", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn running_on(c: &Cluster, node: &str) -> bool {
    let s = status(c, node);
    s["groups"]["web"]["owner"] == node && s["groups"]["web"]["state"] == "running"
}

fn boot(prefix: &str, subnet: u8, vips: &[Ipv4Addr], parallel: bool, t: Timers) -> Option<Cluster> {
    let first = vips[0];
    let cfg = Config::new(prefix, [10, 98, subnet], 2)
        .named(&["alpha", "beta"])
        .unit("web.service", &echo_unit(first), false);
    let vips = vips.to_vec();
    cluster_of(cfg, move |bed| manifest_of(bed, t, &vips, parallel))
}

#[test]
fn a_hundred_vips_and_a_unit_acquire_without_a_watchdog_kill() {
    let vips: Vec<Ipv4Addr> = (101..201).map(|i| Ipv4Addr::new(10, 98, 100, i)).collect();
    let Some(c) = boot("sc1", 100, &vips, false, TIGHT) else {
        return;
    };
    c.start(&["alpha", "beta"]).unwrap();
    c.wait_for(
        "web running on alpha",
        Duration::from_secs(15),
        &["web.service"],
        || running_on(&c, "alpha"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    assert_eq!(held(&c, "alpha", &vips), 100, "{}", journals(&c));
    assert_eq!(held(&c, "beta", &vips), 0);
    // Some heartbeats later: still one run of the agent, still running.
    std::thread::sleep(Duration::from_millis(1000));
    let log = journals(&c);
    assert!(!log.contains("Watchdog timeout"), "{log}");
    assert!(running_on(&c, "alpha"), "{log}");
    let loop_ = &status(&c, "alpha")["loop"];
    let worst = loop_["worst_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("no loop latency: {loop_}"));
    assert!(
        worst < 100,
        "the loop was held {worst} ms, the watchdog bound is 100 ms\n{log}"
    );
    let text = c.ctl("alpha", &["status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("loop held at most"), "{text}");
}

#[test]
fn a_thousand_parallel_vips_acquire_and_release() {
    // Four /24s beside the bed's own: the addresses are only ever on the hosts' eth0.
    let vips: Vec<Ipv4Addr> = (102..106)
        .flat_map(|s| (1..=250).map(move |i| Ipv4Addr::new(10, 98, s, i)))
        .collect();
    let Some(c) = boot("sc2", 101, &vips, true, QUICK) else {
        return;
    };
    c.start(&["alpha", "beta"]).unwrap();
    c.wait_for(
        "web running on alpha",
        Duration::from_secs(20),
        &["web.service"],
        || running_on(&c, "alpha"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    assert_eq!(held(&c, "alpha", &vips), 1000, "{}", journals(&c));
    assert_eq!(held(&c, "beta", &vips), 0);

    // A planned stop releases every address here and beta takes them all.
    c.sh("alpha", "systemctl stop haagent").unwrap();
    assert_eq!(held(&c, "alpha", &vips), 0, "{}", journals(&c));
    c.wait_for(
        "web running on beta",
        Duration::from_secs(20),
        &["web.service"],
        || running_on(&c, "beta"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    assert_eq!(held(&c, "beta", &vips), 1000, "{}", journals(&c));
    let log = journals(&c);
    assert!(!log.contains("Watchdog timeout"), "{log}");
}
