//! Operator commands and resource failures: standby, a planned move, a unit that fails to start.

use super::two_node;
use crate::engine::{Command, EventKind};
use crate::sim::World;

fn handed_over(c: &World, from: &str, to: &str, after: u64) {
    let stopped = c.released(from, "web", after).expect("released").0;
    let start = c.first_start(to, "web", after).expect("started").0;
    assert!(
        start >= stopped,
        "{to} started at {start}, {from} stopped at {stopped}"
    );
    assert_eq!(c.steps(from, after), ["-app.service", "-vip0"]);
    assert_eq!(c.steps(to, after), ["+vip0", "+app.service"]);
}

// Input: alpha is put in standby (from beta), later taken out. Output: the group moves to beta
// without overlap, and comes home again (failback on).
#[test]
fn standby_moves_groups_away_and_back() {
    let mut c = World::running(two_node("    failback: true\n"), 2000);
    let standby = |on| Command::Standby {
        node: "alpha".into(),
        on,
    };
    c.command("beta", standby(true));
    c.run_until(3000);
    handed_over(&c, "alpha", "beta", 2000);
    assert_eq!(c.holders("web"), ["beta"]);
    c.command("beta", standby(false));
    c.run_until(4000);
    handed_over(&c, "beta", "alpha", 3000);
}

// Input: an operator on alpha moves web to beta. Output: alpha stops it first, beta starts it
// well before dead_after (a planned move has no overlap and almost no gap).
#[test]
fn an_operator_move_is_a_clean_handoff() {
    let mut c = World::running(two_node(""), 2000);
    c.command(
        "alpha",
        Command::Failover {
            group: "web".into(),
            to: "beta".into(),
        },
    );
    c.run_until(3000);
    handed_over(&c, "alpha", "beta", 2000);
    // Two stops and a claim answered at once: round trips and resource times, no interval.
    let gap = c.first_start("beta", "web", 2000).unwrap().0 - 2000;
    assert!(gap < 40, "{gap}ms");
    let reason = c.log.iter().find_map(|r| match &r.action {
        crate::engine::Action::Log(e) if r.node == "beta" && e.kind == EventKind::Acquire => {
            Some(e.reason.clone())
        }
        _ => None,
    });
    assert_eq!(reason.as_deref(), Some("moved here by an operator"));
}

// Input: the same move, given on the node it moves to. Output: the command reaches the holder
// at once, and the handoff is as quick.
#[test]
fn a_move_given_on_its_target_is_as_quick() {
    let mut c = World::running(two_node(""), 2000);
    c.command(
        "beta",
        Command::Failover {
            group: "web".into(),
            to: "beta".into(),
        },
    );
    c.run_until(3000);
    handed_over(&c, "alpha", "beta", 2000);
    let gap = c.first_start("beta", "web", 2000).unwrap().0 - 2000;
    assert!(gap < 40, "{gap}ms");
}

// Input: the unit fails to start on alpha. Output: alpha removes the VIP it had added, logs the
// failure, and beta runs the group; alpha does not try again during the cool-down.
#[test]
fn a_failed_start_moves_the_group_on() {
    let mut c = World::scripted(two_node(""));
    c.fail_next_start("alpha", "web", 1);
    c.start("alpha");
    c.start("beta");
    c.run_until(3000);
    assert_eq!(c.steps("alpha", 0), ["+vip0", "+app.service", "-vip0"]);
    assert!(
        !c.events("alpha", EventKind::ResourceFailed, "web")
            .is_empty()
    );
    assert_eq!(c.steps("beta", 0), ["+vip0", "+app.service"]);
    assert_eq!(c.holders("web"), ["beta"]);
}
