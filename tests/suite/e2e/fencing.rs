//! Fencing on real hosts: with fencing required and no other tie-breaker, a stateful group is
//! taken over from a dead node only after that node's fence unit (a real systemd unit, started
//! over D-Bus) succeeded; while fencing fails, it is retried at a measured pace and the group
//! stays down rather than risk running twice.

use std::time::Duration;

use haagent_testbed::Config;

use super::*;

const PREFIX: &str = "e2n";
const SUBNET: u8 = 55;

/// The fence "device": succeeds once /run/fence-ok exists on the fencing node.
const FENCE_UNIT: &str = "[Unit]\nDescription=test fence of %i\n\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'test -e /run/fence-ok && echo fenced %i'\n";

fn manifest(bed: &TestBed) -> String {
    format!(
        "cluster: e2e\nnodes:\n  alpha: {{ address: {} }}\n  beta: {{ address: {} }}\nheartbeat:\n  interval: 250ms\n  warn_after: 500ms\n  dead_after: 1500ms\n  initial_dead: 3s\n  links:\n    - transport: unicast\n      interface: eth0\nauth:\n  key_file: /etc/haagent/authkey\nfencing:\n  unit: fence-test@%i.service\ngroups:\n  web:\n    nodes: [alpha, beta]\n    resources:\n      - vip: {}/24\n        interface: eth0\n      - unit: web.service\n",
        bed.ip("alpha"),
        bed.ip("beta"),
        vip(bed)
    )
}

#[test]
fn a_dead_holder_is_fenced_before_its_stateful_group_moves() {
    let vip4 = Ipv4Addr::new(10, 98, SUBNET, VIP_LAST);
    let cfg = Config::new(PREFIX, [10, 98, SUBNET], 2)
        .named(&["alpha", "beta"])
        .unit("web.service", &echo_unit(vip4), false)
        .unit("fence-test@.service", FENCE_UNIT, false);
    let Some(mut c) = cluster_of(cfg, manifest) else {
        return;
    };
    start_on(&c, &["alpha", "beta"], "alpha");

    c.bed.kill("alpha").unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert!(c.vip_holders(vip4).is_empty(), "{}", journals(&c));
    assert!(c.unit_holders("web.service").is_empty(), "{}", journals(&c));
    let log = c.journal("beta");
    let attempts = log
        .matches("fencing alpha with fence-test@alpha.service")
        .count();
    assert!(attempts >= 1, "{log}");
    assert!(
        attempts <= 12,
        "fencing retried {attempts} times in 2.5 s: {log}"
    );
    assert!(log.contains("fencing alpha failed"), "{log}");

    c.sh("beta", "touch /run/fence-ok").unwrap();
    wait_holder(&c, "beta", Duration::from_secs(10));
    let log = c.journal("beta");
    let fenced = log
        .find("fencing alpha succeeded")
        .expect("a successful fence");
    let acquired = log.rfind("web: acquire").expect("an acquire");
    assert!(
        fenced < acquired,
        "the group moved before alpha was fenced:\n{log}"
    );
    let fence_log = c
        .sh("beta", "journalctl -u fence-test@alpha.service -o cat")
        .unwrap();
    assert!(fence_log.contains("fenced alpha"), "{fence_log}");
}
