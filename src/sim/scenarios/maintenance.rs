//! Maintenance: nothing is started, stopped or moved while it is on, an agent restarted in it
//! adopts what it finds, and `off` keeps what runs where it should and puts the rest right.

use super::two_node;
use crate::engine::{Active, AddrSeen, Command, EventKind, Input, JobKind, UnitSeen};
use crate::sim::World;

fn maintenance(on: bool) -> Command {
    Command::Maintenance { group: None, on }
}

// Input: maintenance on (given on beta), then alpha's agent, which holds web, is stopped and
// started again 300 ms later (an upgrade), then maintenance off. Output: no node starts or
// stops anything at any point: alpha exits leaving web running, its new run adopts it in
// maintenance, and `off` keeps it where it is.
#[test]
fn an_agent_restarted_in_maintenance_adopts_and_off_changes_nothing() {
    let mut c = World::running(two_node(""), 2000);
    c.command("beta", maintenance(true));
    c.run_until(2100);
    c.feed("alpha", Input::Shutdown);
    c.run_until(2200);
    assert!(c.engine("alpha").is_none(), "alpha's agent exited");
    assert_eq!(c.steps("alpha", 2000), ["exit"], "nothing stopped");
    // Beyond dead_after: beta counts alpha dead and, in maintenance, takes nothing.
    c.run_until(2900);
    c.start("alpha");
    c.run_until(3500);
    assert!(
        c.events("alpha", EventKind::Acquire, "web")
            .iter()
            .any(|t| t.0 >= 2900),
        "adopted"
    );
    c.command("alpha", maintenance(false));
    c.run_until(6000);
    assert_eq!(c.steps("alpha", 2000), ["exit"]);
    assert!(c.steps("beta", 0).is_empty(), "{:?}", c.steps("beta", 0));
    assert_eq!(c.holders("web"), ["alpha"]);
}

// Input: in maintenance the holder's unit dies (`on_failure: move`). Output: nothing reacts;
// at `off` alpha takes it as the failure it is and the group moves to beta, with no overlap.
#[test]
fn a_unit_that_died_in_maintenance_fails_over_at_off() {
    let mut c = World::running(two_node("    on_failure: move\n"), 2000);
    c.command("alpha", maintenance(true));
    c.run_until(2100);
    c.resource_dies("alpha", "web", 1);
    c.run_until(4000);
    assert!(
        c.steps("alpha", 2000).is_empty(),
        "{:?}",
        c.steps("alpha", 2000)
    );
    assert!(c.steps("beta", 0).is_empty());
    c.command("alpha", maintenance(false));
    c.run_until(5000);
    assert_eq!(c.steps("alpha", 4000), ["-vip0"]);
    assert_eq!(c.steps("beta", 4000), ["+vip0", "+app.service"]);
    assert_eq!(c.holders("web"), ["beta"]);
    assert_eq!(c.violation(), None);
}

// Input: the same with the default `on_failure: restart`. Output: at `off` alpha starts the
// unit again in place; nothing moves.
#[test]
fn a_unit_that_died_in_maintenance_is_restarted_in_place_at_off() {
    let mut c = World::running(two_node(""), 2000);
    c.command("alpha", maintenance(true));
    c.run_until(2100);
    c.resource_dies("alpha", "web", 1);
    c.run_until(4000);
    assert!(c.steps("alpha", 2000).is_empty());
    c.command("alpha", maintenance(false));
    c.run_until(5000);
    assert_eq!(c.steps("alpha", 4000), ["+app.service"]);
    assert!(c.steps("beta", 0).is_empty());
    assert_eq!(c.holders("web"), ["alpha"]);
}

// Input: in maintenance a copy of web is started by hand on beta (VIP and unit). Output: it is
// left alone while maintenance lasts; at `off` beta stops its copy, unit first, and alpha
// keeps the group.
#[test]
fn a_copy_started_by_hand_in_maintenance_is_stopped_at_off() {
    let mut c = World::running(two_node(""), 2000);
    c.command("alpha", maintenance(true));
    c.run_until(2100);
    c.feed(
        "beta",
        Input::Addr(AddrSeen {
            addr: "10.0.0.10".parse().unwrap(),
            interface: "eth0".into(),
            present: true,
        }),
    );
    c.feed(
        "beta",
        Input::Unit(UnitSeen {
            unit: "app.service".into(),
            active: Active::Active,
            sub: "running".into(),
            job: None::<JobKind>,
            origin: None,
        }),
    );
    c.run_until(3000);
    assert!(c.steps("beta", 0).is_empty());
    c.command("beta", maintenance(false));
    c.run_until(4000);
    assert_eq!(c.steps("beta", 3000), ["-app.service", "-vip0"]);
    assert!(c.steps("alpha", 2000).is_empty());
    assert_eq!(c.holders("web"), ["alpha"]);
}

/// Three nodes, majority quorum, web preferring alpha.
fn three_nodes() -> crate::manifest::Manifest {
    super::manifest(
        "cluster: c\nnodes:\n  alpha: { address: 10.0.0.1 }\n  beta: { address: 10.0.0.2 }\n\
         \x20 gamma: { address: 10.0.0.3 }\n\
         heartbeat: { interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }\n\
         auth: { key_file: /k }\n\
         groups:\n  web:\n    nodes: [alpha, beta, gamma]\n    resources:\n\
         \x20     - { vip: 10.0.0.10/24, interface: eth0 }\n      - unit: app.service\n",
    )
}

// Input: three nodes, alpha holds web; maintenance on (given on beta); alpha is cut off from
// both peers, and 300 ms later maintenance ends on beta (alpha never hears it); the cut heals
// after 3 s. Output: neither beta nor gamma starts web while alpha is silent (its last word
// showed it holding web in maintenance, which stops nothing, not even on quorum loss: its
// copy may run on); once heard again alpha keeps it, and web never ran twice.
#[test]
fn a_holder_silent_since_it_held_a_group_in_maintenance_is_not_taken_over() {
    let mut c = World::running(three_nodes(), 2000);
    assert_eq!(c.holders("web"), ["alpha"]);
    c.command("beta", maintenance(true));
    c.run_until(2100);
    c.split("alpha", "beta", true);
    c.split("alpha", "gamma", true);
    c.run_until(2400);
    c.command("beta", maintenance(false));
    c.run_until(5400);
    for peer in ["beta", "gamma"] {
        assert!(
            c.events(peer, EventKind::Acquire, "web").is_empty(),
            "{peer} took web over from a node that may still run it: {:?}",
            c.steps(peer, 2000)
        );
    }
    assert_eq!(c.holders("web"), ["alpha"]);
    c.split("alpha", "beta", false);
    c.split("alpha", "gamma", false);
    c.run_until(8000);
    assert_eq!(c.violation(), None);
    assert_eq!(c.holders("web").len(), 1, "{:?}", c.holders("web"));
}
