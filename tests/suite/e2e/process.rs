//! The agent as a systemd service: a frozen agent is killed by the watchdog, a killed one is
//! restarted, and both come back to what they held without anything running twice; a reload
//! applies a valid manifest's difference and refuses an invalid one without touching anything.

use std::time::Duration;

use super::*;

fn restarts(c: &Cluster, node: &str) -> u32 {
    c.sh(node, "systemctl show -P NRestarts haagent")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_frozen_agent_is_killed_by_its_watchdog_and_comes_back_holding_what_it_held() {
    let spec = Spec::two("e2w", 45);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let pid = main_pid(&c, "alpha", "haagent");
    assert!(pid > 0, "the agent runs no process");
    c.sh("alpha", &format!("kill -STOP {pid}")).unwrap();
    let seen = never_twice(&c, Duration::from_secs(6));
    let system_log = c.bed.host("alpha").journal(None);
    assert!(
        system_log.contains("Watchdog timeout"),
        "systemd's watchdog should have fired:\n{system_log}"
    );
    assert!(restarts(&c, "alpha") >= 1);
    assert_ne!(main_pid(&c, "alpha", "haagent"), pid);
    assert_eq!(
        seen,
        ["alpha"],
        "the group should never move\n{}",
        journals(&c)
    );
}

#[test]
fn a_killed_agent_is_restarted_and_adopts_what_it_left_running() {
    let spec = Spec::two("e2x", 46);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let web = c
        .sh("alpha", "systemctl show -P InvocationID web.service")
        .unwrap();
    c.sh("alpha", "systemctl kill --signal=KILL haagent")
        .unwrap();
    let seen = never_twice(&c, Duration::from_secs(5));
    assert!(restarts(&c, "alpha") >= 1);
    assert_eq!(seen, ["alpha"], "no flapping\n{}", journals(&c));
    assert_eq!(
        c.sh("alpha", "systemctl show -P InvocationID web.service")
            .unwrap(),
        web,
        "web.service kept running through the agent's restart"
    );
    assert_eq!(c.vip_holders(vip(&c.bed)), ["alpha"], "one VIP, on alpha");
}

#[test]
fn a_reload_applies_a_valid_difference_and_refuses_an_invalid_manifest() {
    let spec = Spec::two("e2r", 47);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let web = c
        .sh("alpha", "systemctl show -P InvocationID web.service")
        .unwrap();
    let good = manifest(&spec, &c.bed);

    let broken = good.replace("dead_after: 1500ms", "dead_after: 400ms\n  colour: blue");
    c.write_manifest("alpha", &broken).unwrap();
    c.sh("alpha", "systemctl reload haagent").unwrap();
    cluster::wait_for("the refusal", Duration::from_secs(5), || {
        c.journal("alpha").contains("reload refused")
    })
    .unwrap();
    let log = c.journal("alpha");
    assert!(
        log.contains("cluster.yaml:") && log.contains("unknown key `colour`"),
        "{log}"
    );
    assert!(
        log.contains("dead_after (400ms) must be more than twice interval"),
        "{log}"
    );
    assert_eq!(never_twice(&c, Duration::from_secs(2)), ["alpha"]);
    assert!(!log.contains("release"), "nothing was released: {log}");

    let extra = c.bed.subnet_addr(52);
    let grown = format!(
        "{good}  extra:\n    nodes: [alpha, beta]\n    resources:\n      - vip: {extra}/24\n        interface: eth0\n"
    );
    for node in ["alpha", "beta"] {
        c.write_manifest(node, &grown).unwrap();
        c.sh(node, "systemctl reload haagent").unwrap();
    }
    cluster::wait_for("the new group on alpha", Duration::from_secs(5), || {
        c.vip_holders(extra) == ["alpha"]
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    assert_eq!(
        c.sh("alpha", "systemctl show -P InvocationID web.service")
            .unwrap(),
        web,
        "an unchanged group is not restarted by a reload\n{}",
        journals(&c)
    );
}
