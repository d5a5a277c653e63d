//! A node whose state directory was lost starts a run numbered below its earlier runs
//! (`lost-state`). Its peers still acknowledge the earlier run's sequence numbers, which are
//! higher than any this run sent, until they hear the new run: such an acknowledgement proves
//! no contact, neither for a claim nor for `wait_for_all`.

use super::{manifest, two_node};
use crate::engine::EventKind;
use crate::sim::World;

/// A generation far above what the lost-state runs below draw.
const HIGH: u64 = 1_000;
/// The fresh install's draw: below [`HIGH`].
const LOW: u64 = 5;

/// `m` with alpha's first run numbered [`HIGH`], every node booted at 0, run until `until`.
fn running_high(m: crate::manifest::Manifest, until: u64) -> World {
    let mut c = World::scripted(m);
    c.lose_state("alpha", HIGH);
    let names: Vec<String> = c.manifest().nodes.keys().cloned().collect();
    for n in &names {
        c.start(n);
    }
    c.run_until(until);
    c
}

// Input: alpha (first run numbered high) holds the group and loses power with its state
// directory; it boots 50 ms later as a lower run that beta does not hear, while beta's
// datagrams still acknowledge alpha's earlier run; beta, once alpha's silence reaches
// `dead_after`, takes the group over; then the two split, both still reaching the ping target
// (the blind cut `wait_for_all` exists for). Output: alpha never starts the group
// (`wait_for_all` asks for contact both ways since boot, and beta never heard this run: its
// acknowledgement is of a number this run never sent); beta keeps it.
#[test]
fn an_acknowledgement_of_an_earlier_higher_run_is_no_contact_for_wait_for_all() {
    let mut c = running_high(two_node(""), 2000);
    assert_eq!(c.holders("web"), ["alpha"]);
    c.lose_state("alpha", LOW);
    c.cut("alpha", "beta", true);
    c.run_until(2050);
    c.start("alpha");
    c.run_until(2800);
    assert_eq!(c.holders("web"), ["beta"]);
    c.split("alpha", "beta", true);
    c.run_until(6000);
    assert!(
        c.steps("alpha", 2050).is_empty(),
        "{:?}",
        c.steps("alpha", 2050)
    );
    assert_eq!(c.holders("web"), ["beta"]);
}

/// Three nodes without `wait_for_all`, one stateful group preferring alpha.
fn three_nodes() -> crate::manifest::Manifest {
    manifest(
        "cluster: c\nnodes:\n  alpha: { address: 10.0.0.1 }\n  beta: { address: 10.0.0.2 }\n\
         \x20 gamma: { address: 10.0.0.3 }\n\
         heartbeat: { interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }\n\
         auth: { key_file: /k }\nquorum: { wait_for_all: false }\n\
         groups:\n  web:\n    nodes: [alpha, beta, gamma]\n    resources:\n\
         \x20     - { vip: 10.0.0.10/24, interface: eth0 }\n      - unit: app.service\n",
    )
}

// Input: three nodes, alpha (first run numbered high) holds the group and loses power with its
// state directory; it boots 50 ms later as a lower run that gamma hears and beta does not,
// while beta's datagrams still acknowledge alpha's earlier run. Output: alpha's claim waits
// for beta (an acknowledgement of a number this run never sent is no acknowledgement of the
// claim), so alpha starts nothing while beta cannot hear it; once the cut heals, the group
// runs once.
#[test]
fn a_claim_waits_for_an_acknowledgement_of_this_run() {
    let mut c = running_high(three_nodes(), 2000);
    assert_eq!(c.holders("web"), ["alpha"]);
    c.lose_state("alpha", LOW);
    c.cut("alpha", "beta", true);
    c.run_until(2050);
    c.start("alpha");
    c.run_until(4000);
    assert!(
        c.events("alpha", EventKind::Acquire, "web")
            .iter()
            .all(|t| t.0 < 2000),
        "alpha acquired on an acknowledgement of its earlier run: {:?}",
        c.steps("alpha", 2050)
    );
    assert_eq!(c.violation(), None);
    c.cut("alpha", "beta", false);
    c.run_until(7000);
    assert_eq!(c.violation(), None);
    assert_eq!(c.holders("web").len(), 1, "{:?}", c.holders("web"));
}
