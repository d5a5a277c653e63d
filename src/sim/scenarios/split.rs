//! Splits: two nodes with and without a tie-breaker, two nodes and a witness, and the minority
//! of three.

use super::{manifest, two_node};
use crate::sim::World;

// Input: the nodes stop hearing each other; only beta still reaches the ping target. Output:
// alpha loses quorum and stops the group; beta starts it only after that.
#[test]
fn a_two_node_split_goes_to_the_side_with_the_ping_target() {
    let mut c = World::running(two_node(""), 2000);
    c.split("alpha", "beta", true);
    c.reach("alpha", false);
    c.run_until(4000);
    let stopped = c.released("alpha", "web", 2000).expect("alpha releases").0;
    assert!(stopped < 2000 + 500, "alpha stopped at {stopped}");
    let start = c
        .first_start("beta", "web", 2000)
        .expect("beta takes over")
        .0;
    assert!(
        start >= 2000 + 400 && start > stopped,
        "beta started at {start}"
    );
    assert_eq!(c.holders("web"), ["beta"]);
}

// Input: the same split with no tie-breaker, for a VIP group that may run twice
// (`on_quorum_loss: keep`). Output: both sides run it (the price of `keep`), and once the split
// heals it runs on its first node only.
#[test]
fn a_two_node_split_without_tie_breaker_runs_a_keep_group_twice() {
    let m = manifest(
        "cluster: c\nnodes:\n  alpha: { address: 10.0.0.1 }\n  beta: { address: 10.0.0.2 }\n\
         heartbeat: { interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }\n\
         auth: { key_file: /k }\ngroups:\n  web:\n    nodes: [alpha, beta]\n    failback: true\n\
         \x20   on_quorum_loss: keep\n    resources: [{ vip: 10.0.0.10/24, interface: eth0 }]\n",
    );
    let mut c = World::running(m, 2000);
    assert_eq!(c.holders("web"), ["alpha"]);
    c.split("alpha", "beta", true);
    c.run_until(3000);
    assert_eq!(c.holders("web"), ["alpha", "beta"]);
    c.split("alpha", "beta", false);
    c.run_until(4000);
    assert_eq!(c.holders("web"), ["alpha"]);
    assert_eq!(c.steps("beta", 2000), ["+vip0", "-vip0"]);
}

fn three(third: &str) -> World {
    let m = manifest(&format!(
        "cluster: c\nnodes:\n  n1: {{ address: 10.0.0.1 }}\n  n2: {{ address: 10.0.0.2 }}\n  {third}\n\
         heartbeat: {{ interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }}\n\
         auth: {{ key_file: /k }}\ngroups:\n  db:\n    nodes: [n1, n2]\n    resources:\n\
         \x20     - {{ vip: 10.0.0.10/24, interface: eth0 }}\n      - unit: db.service\n"
    ));
    World::running(m, 2000)
}

fn isolate_n1(c: &mut World) {
    c.split("n1", "n2", true);
    c.split("n1", "n3", true);
    c.run_until(4000);
    // The minority stops within dead_after of the split, before the majority may start.
    let stopped = c.released("n1", "db", 2000).expect("n1 releases").0;
    assert!(stopped < 2000 + 500, "n1 stopped at {stopped}");
    let start = c.first_start("n2", "db", 2000).expect("n2 takes over").0;
    assert!(
        start > stopped,
        "n2 started at {start}, n1 stopped at {stopped}"
    );
    assert_eq!(c.steps("n2", 2000), ["+vip0", "+db.service"]);
    assert_eq!(c.holders("db"), ["n2"]);
    assert!(c.steps("n3", 0).is_empty(), "the third node never runs db");
}

// Input: two nodes and a witness; the holder is cut off from both. Output: it releases (one
// vote of three), the other node starts the group with the witness's vote.
#[test]
fn two_nodes_and_a_witness_keep_the_majority_side() {
    let mut c = three("n3: { address: 10.0.0.3, witness: true }");
    assert_eq!(c.holders("db"), ["n1"]);
    isolate_n1(&mut c);
}

// Input: three nodes; the holder is cut off. Output: the minority releases within dead_after.
#[test]
fn a_minority_node_releases_its_groups() {
    let mut c = three("n3: { address: 10.0.0.3 }");
    isolate_n1(&mut c);
    assert!(!c.engine("n1").unwrap().quorate());
}
