//! A paused machine (a paused VM, a frozen host: agent, units and systemd together) that
//! resumes after its peer took its group over: its agent stops its own copy at once, whether it
//! notices the pause itself or its overdue watchdog kills it first and systemd starts it again;
//! the peer keeps the group (failback off: nothing moves back).

use std::time::Duration;

use super::two_node;
use crate::engine::EventKind;
use crate::sim::{FaultKind, World};

/// A VIP-only group beta holds, which may run on both nodes at once.
const SIDE: &str = "  side:\n    nodes: [beta, alpha]\n    on_quorum_loss: keep\n    resources: [{ vip: 10.0.0.11/24, interface: eth0 }]\n";

/// alpha holds `web` (beta holds `side`); alpha's machine pauses at 2 s for 2 s; beta takes
/// `web` over meanwhile.
fn paused_holder(seed: u64) -> World {
    let mut text = two_node("    failback: false\n");
    text.groups.extend(super::manifest(&format!(
        "cluster: c\nnodes:\n  alpha: {{ address: 10.0.0.1 }}\n  beta: {{ address: 10.0.0.2 }}\nauth: {{ key_file: /k }}\nquorum: {{ two_node: {{ tie_breaker: ping }} }}\nconnectivity: {{ ping: [10.0.0.254] }}\ngroups:\n{SIDE}"
    )).groups);
    let mut c = World::running_seeded(text, 2000, seed);
    assert_eq!(c.holders("side"), ["beta"]);
    assert_eq!(c.holders("web"), ["alpha"]);
    c.fault_at(
        2000,
        FaultKind::VmPause,
        "alpha",
        Duration::from_millis(2000),
    );
    c.run_until(3900);
    // alpha's frozen engine still thinks it runs the group.
    assert_eq!(
        c.holders("web"),
        ["alpha", "beta"],
        "beta took over during the pause"
    );
    c.run_until(6000);
    c
}

fn check(c: &World) {
    // alpha's copy went as soon as it could: no adoption, no start, nothing for beta to lose.
    assert!(
        c.events("alpha", EventKind::Acquire, "web")
            .iter()
            .all(|t| t.0 < 2000),
        "alpha took the group again: {:?}",
        c.steps("alpha", 2000)
    );
    assert!(c.steps("alpha", 4000).iter().all(|s| s.starts_with('-')));
    assert!(
        c.events("beta", EventKind::Release, "web").is_empty(),
        "beta kept it"
    );
    assert_eq!(c.holders("web"), ["beta"]);
    // Nor does alpha, back with views from before its pause, take what beta runs.
    assert!(
        c.first_start("alpha", "side", 2000).is_none(),
        "{:?}",
        c.steps("alpha", 2000)
    );
}

// Input: the pause ends, and the overdue watchdog kills alpha's agent before it runs, then
// systemd starts it again. Output: the new run finds the group up but its last checkpoint is
// 2 s old (more than dead_after - interval): it stops it instead of adopting it.
#[test]
fn a_holder_killed_on_resume_stops_its_copy_instead_of_adopting_it() {
    // The seed decides who goes first on resume; this one has the watchdog first.
    let c = (0..64)
        .map(paused_holder)
        .find(|c| c.engine("alpha").is_some_and(|e| e.generation() > 1))
        .expect("a seed where the watchdog killed the agent");
    check(&c);
    let why = c.log.iter().any(|r| {
        r.node == "alpha"
            && matches!(&r.action, crate::engine::Action::Log(e) if e.reason.contains("last heartbeat was"))
    });
    assert!(why, "the new run says why it does not adopt");
}

// Input: the pause ends and alpha's agent runs first. Output: it notices the pause (the loop
// says how long it slept past its wake-up), stops its stateful group, and takes nothing on the
// strength of views from before the pause (to it, beta looks dead: it is not).
#[test]
fn a_holder_that_notices_its_pause_stops_its_copy_and_takes_nothing() {
    let c = (0..64)
        .map(paused_holder)
        .find(|c| c.log.iter().any(|r| r.node == "alpha" && r.at.0 == 4000))
        .expect("a seed where the agent ran first");
    check(&c);
}
