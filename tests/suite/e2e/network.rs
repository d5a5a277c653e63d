//! Partitions on real networks: a node cut off from a three-node cluster releases its groups
//! (it has no quorum) before the majority takes them over; in a two-node split the ping
//! tie-breaker lets only the side that reaches the target keep the stateful group.

use std::time::{Duration, Instant};

use haagent_testbed::net;

use super::*;

#[test]
fn an_isolated_node_of_three_releases_its_groups_and_the_majority_takes_over() {
    let spec = Spec {
        nodes: &["alpha", "beta", "gamma"],
        ..Spec::two("e2i", 48)
    };
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta", "gamma"], "alpha");
    let vip = vip(&c.bed);
    let cut = Instant::now();
    c.bed.cut("alpha").unwrap();
    // alpha still runs: ask it directly when it let go.
    cluster::wait_for("alpha to release", Duration::from_secs(5), || {
        !c.has_vip("alpha", vip) && c.unit_state("alpha", "web.service") == "inactive"
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    let released = cut.elapsed();
    assert!(
        released < Duration::from_millis(spec.timers.dead_ms),
        "the minority released after {released:?}, not within dead_after\n{}",
        journals(&c)
    );
    wait_holder(&c, "beta", Duration::from_secs(5));
    assert!(c.journal("alpha").contains("quorum lost"));
    c.bed.heal("alpha").unwrap();
    let seen = never_twice(&c, Duration::from_secs(4));
    assert_eq!(
        seen.last().map(String::as_str),
        Some("alpha"),
        "failback after healing"
    );
}

#[test]
fn in_a_two_node_split_only_the_side_reaching_the_ping_target_keeps_the_group() {
    let spec = Spec::two("e2p", 49);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let (alpha, beta, client) = (c.bed.ip("alpha"), c.bed.ip("beta"), c.bed.client_ip());
    // alpha hears neither beta nor the ping target; beta no longer hears alpha.
    net::nft_rule(spec.prefix, "alpha", &format!("ip saddr {beta} drop")).unwrap();
    net::nft_rule(spec.prefix, "alpha", &format!("ip saddr {client} drop")).unwrap();
    net::nft_rule(spec.prefix, "beta", &format!("ip saddr {alpha} drop")).unwrap();
    let seen = never_twice(&c, Duration::from_secs(5));
    assert_eq!(seen, ["alpha", "beta"], "{}", journals(&c));
    assert!(!c.has_vip("alpha", vip(&c.bed)));
    assert_eq!(c.unit_state("alpha", "web.service"), "inactive");
}
