//! What the engine makes of a managed unit's state on real hosts: a restart in place on the
//! holder is not a failure, and the failover budget in status counts the starts measured here.

use super::*;

fn status(c: &Cluster, node: &str) -> serde_json::Value {
    let out = c.ctl(node, &["status", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json on {node}: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn a_unit_restarted_by_hand_on_the_holder_keeps_its_group_there() {
    let spec = Spec::two("e2r2", 85);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let before = main_pid(&c, "alpha", "web.service");
    let p = probe(&c);
    c.sh("alpha", "systemctl restart web.service").unwrap();
    // Longer than dead_after: a group that moved would show by then.
    let seen = never_twice(&c, Duration::from_millis(spec.timers.dead_ms * 2));
    let r = p.stop().unwrap();
    assert_eq!(seen, ["alpha"], "{}", journals(&c));
    let after = main_pid(&c, "alpha", "web.service");
    assert!(after != before && after != 0, "pid {before} -> {after}");
    assert_eq!(r.last_host.as_deref(), Some("alpha"), "{}", said(&r));
    let log = c.journal("alpha");
    assert!(
        !log.contains("web.service went down") && !log.contains("web: release"),
        "{log}"
    );
    assert!(
        !c.journal("beta").contains("web: acquire"),
        "{}",
        journals(&c)
    );
}

#[test]
fn after_a_failover_the_budget_counts_the_starts_measured_here() {
    let spec = Spec::two("e2b2", 86);
    let Some(mut c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    c.bed.kill("alpha").unwrap();
    wait_holder(&c, "beta", Duration::from_secs(10));
    let s = status(&c, "beta");
    let web = &s["groups"]["web"];
    let budget = web["failover_budget_ms"].as_u64().unwrap();
    let floor = spec.timers.dead_ms + spec.timers.interval_ms;
    assert!(
        budget > floor,
        "budget {budget} ms, no more than dead_after + interval ({floor} ms): {web}"
    );
    assert_eq!(web["owner"], "beta", "{web}");
    let here: Vec<&str> = web["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_str().unwrap())
        .collect();
    assert_eq!(here, ["up", "up"], "{web}");
}
