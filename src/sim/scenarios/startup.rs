//! Start-up: `initial_dead` and `wait_for_all`.

use super::{manifest, two_node};
use crate::engine::{Command, EventKind};
use crate::sim::World;

// Input: alpha boots alone with a VIP-only group. Output: nothing before initial_dead (1 s),
// then AddVip at once: a slow peer is not taken over from while it may still be booting.
#[test]
fn a_lone_node_waits_initial_dead_before_taking_a_group() {
    let m = manifest(
        "cluster: c\nnodes:\n  alpha: { address: 10.0.0.1 }\n  beta: { address: 10.0.0.2 }\n\
         heartbeat: { interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }\n\
         auth: { key_file: /k }\ngroups:\n  vip:\n    nodes: [beta, alpha]\n    on_quorum_loss: keep\n\
         \x20   resources: [{ vip: 10.0.0.10/24, interface: eth0 }]\n",
    );
    let mut c = World::scripted(m);
    c.start("alpha");
    c.run_until(999);
    assert_eq!(
        c.steps("alpha", 0),
        Vec::<String>::new(),
        "nothing within initial_dead"
    );
    c.run_until(1100);
    assert_eq!(c.steps("alpha", 0), ["+vip0"]);
    assert_eq!(c.first_start("alpha", "vip", 0).map(|t| t.0), Some(1000));
}

// Input: alpha boots alone with a stateful group. Output: it never starts it (wait_for_all),
// however long, until the operator overrides; then the VIP comes before the unit.
#[test]
fn a_stateful_group_waits_for_all_nodes_until_overridden() {
    let mut c = World::scripted(two_node(""));
    c.start("alpha");
    c.run_until(5000);
    assert!(c.steps("alpha", 0).is_empty(), "{:?}", c.steps("alpha", 0));
    c.command("alpha", Command::OverrideWaitForAll);
    c.run_until(5200);
    assert_eq!(c.steps("alpha", 5000), ["+vip0", "+app.service"]);
}

// Input: both nodes boot together. Output: the group starts once, on its first node, as soon as
// both heard each other (no initial_dead wait), VIP then unit; the other node starts nothing.
#[test]
fn a_booting_cluster_starts_each_group_once_on_its_first_node() {
    let c = World::running(two_node(""), 2000);
    assert_eq!(c.steps("alpha", 0), ["+vip0", "+app.service"]);
    assert!(c.steps("beta", 0).is_empty());
    let at = c.events("alpha", EventKind::Acquire, "web");
    assert_eq!(at.len(), 1);
    assert!(at[0].0 < 1000, "started at {at:?}, before initial_dead");
    assert_eq!(c.holders("web"), ["alpha"]);
}
