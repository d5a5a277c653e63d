//! A graceful leave: the leaver's vote is out of the count until it returns, so its peers
//! neither lose quorum nor wait; its return, even cut off, starts nothing the others run.

use super::{manifest, two_node};
use crate::engine::{EventKind, Input};
use crate::sim::World;

/// Two nodes with a ping tie-breaker and long timers, like `two-node-web.yaml`.
fn slow_two_node() -> crate::manifest::Manifest {
    manifest(
        "cluster: c\nnodes:\n  alpha: { address: 10.0.0.1 }\n  beta: { address: 10.0.0.2 }\n\
         heartbeat: { interval: 500ms, warn_after: 2s, dead_after: 3s, initial_dead: 10s }\n\
         auth: { key_file: /k }\nquorum: { two_node: { tie_breaker: ping } }\n\
         connectivity: { ping: [10.0.0.254], interval: 100ms }\n\
         groups:\n  web:\n    nodes: [alpha, beta]\n    resources:\n\
         \x20     - { vip: 10.0.0.10/24, interface: eth0 }\n      - unit: app.service\n",
    )
}

fn quorum_losses(c: &World, node: &str) -> usize {
    c.log
        .iter()
        .filter(|r| r.node == node)
        .filter(|r| matches!(&r.action, crate::engine::Action::Log(e) if e.kind == EventKind::QuorumLost))
        .count()
}

// Input: the owner stops 1.5 s after boot, before the ping targets have been reached for
// dead_after (3 s). Output: the peer keeps quorum (one of one voter: the leaver is out of the
// count) and starts the group as soon as the leaver has stopped it, not after a wait.
#[test]
fn a_graceful_leave_costs_the_peer_neither_quorum_nor_a_wait() {
    let mut c = World::running(slow_two_node(), 1500);
    assert_eq!(c.holders("web"), ["alpha"]);
    c.feed("alpha", Input::Shutdown);
    c.run_until(2500);
    let stopped = c.released("alpha", "web", 1500).expect("alpha released").0;
    let start = c
        .first_start("beta", "web", 1500)
        .expect("beta took over")
        .0;
    assert!(
        start >= stopped && start < stopped + 20,
        "beta started at {start}, alpha stopped at {stopped}"
    );
    assert_eq!(quorum_losses(&c, "beta"), 0);
    assert_eq!(c.holders("web"), ["beta"]);
}

// Input: alpha stops, beta takes over; alpha starts again cut off from beta, both reaching
// the ping target. Output: alpha starts nothing (wait_for_all: it has not heard beta since it
// started) however long the cut lasts; beta keeps quorum and the group throughout, also when
// alpha is heard again and until it acknowledges beta.
#[test]
fn a_leaver_returning_cut_off_starts_nothing() {
    let mut c = World::running(two_node(""), 2000);
    c.feed("alpha", Input::Shutdown);
    c.run_until(2500);
    assert_eq!(c.holders("web"), ["beta"]);
    c.split("alpha", "beta", true);
    c.start("alpha");
    c.run_until(6000);
    assert!(
        c.steps("alpha", 2500).is_empty(),
        "{:?}",
        c.steps("alpha", 2500)
    );
    assert!(
        c.engine("alpha").unwrap().quorate(),
        "alone with the ping target"
    );
    c.split("alpha", "beta", false);
    c.run_until(8000);
    assert!(
        c.steps("alpha", 2500).is_empty(),
        "{:?}",
        c.steps("alpha", 2500)
    );
    assert_eq!(quorum_losses(&c, "beta"), 0);
    assert_eq!(c.holders("web"), ["beta"]);
}

// Input: in three nodes, the holder leaves right after the cluster formed. Output: the next
// node takes the group over at once: no hold-off for a peer that said goodbye.
#[test]
fn in_three_nodes_a_leaver_hands_over_without_a_hold_off() {
    let m = manifest(
        "cluster: c\nnodes:\n  n1: { address: 10.0.0.1 }\n  n2: { address: 10.0.0.2 }\n  n3: { address: 10.0.0.3 }\n\
         heartbeat: { interval: 100ms, warn_after: 300ms, dead_after: 1s, initial_dead: 2s }\n\
         auth: { key_file: /k }\ngroups:\n  db:\n    nodes: [n1, n2, n3]\n    resources:\n\
         \x20     - { vip: 10.0.0.10/24, interface: eth0 }\n      - unit: db.service\n",
    );
    let mut c = World::running(m, 400);
    assert_eq!(c.holders("db"), ["n1"]);
    c.feed("n1", Input::Shutdown);
    c.run_until(1500);
    let stopped = c.released("n1", "db", 400).expect("n1 released").0;
    let start = c.first_start("n2", "db", 400).expect("n2 took over").0;
    assert!(
        start >= stopped && start < stopped + 20,
        "n2 started at {start}, n1 stopped at {stopped}"
    );
    assert_eq!(quorum_losses(&c, "n2") + quorum_losses(&c, "n3"), 0);
}

// Input: alpha stops, beta takes over; alpha starts again hearing beta but not heard by it,
// then the two split with only alpha reaching the ping target. Output: alpha never starts the
// group (wait_for_all asks for contact both ways, and beta never heard alpha's new run); beta,
// still counting alpha as gone, keeps it.
#[test]
fn a_leaver_that_only_hears_its_peer_starts_nothing() {
    let mut c = World::running(two_node(""), 2000);
    c.feed("alpha", Input::Shutdown);
    c.run_until(2500);
    c.cut("alpha", "beta", true);
    c.start("alpha");
    c.run_until(2700);
    c.split("alpha", "beta", true);
    c.reach("beta", false);
    c.run_until(6000);
    assert!(
        c.steps("alpha", 2500).is_empty(),
        "{:?}",
        c.steps("alpha", 2500)
    );
    assert_eq!(c.holders("web"), ["beta"]);
}
