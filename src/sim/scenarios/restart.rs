//! A killed agent (`kill -9`, a watchdog abort) that systemd restarts: what it left running is
//! adopted, not restarted, and the peer does not take it; if the peer took it over meanwhile,
//! the restarted node lets its own copy go.

use super::two_node;
use crate::engine::EventKind;
use crate::sim::World;

fn adopted(c: &World, node: &str) -> bool {
    c.log.iter().any(|r| {
        r.node == node
            && matches!(&r.action, crate::engine::Action::Log(e) if e.kind == EventKind::Acquire
                && e.reason.contains("adopted"))
    })
}

// Input: the holder's agent is killed at 2 s and back 150 ms later, its VIP and unit still up.
// Output: it adopts both (no stop, no start), the peer starts nothing, nothing is released.
#[test]
fn a_killed_agent_adopts_what_it_left_running() {
    let mut c = World::running(two_node(""), 2000);
    c.kill_agent("alpha");
    c.run_until(2150);
    c.start("alpha");
    c.run_until(4000);
    assert!(adopted(&c, "alpha"));
    assert!(
        c.steps("alpha", 2000).is_empty(),
        "{:?}",
        c.steps("alpha", 2000)
    );
    assert!(c.steps("beta", 0).is_empty(), "{:?}", c.steps("beta", 0));
    assert!(c.events("alpha", EventKind::Release, "web").is_empty());
    assert_eq!(c.holders("web"), ["alpha"]);
    assert!(c.engine("alpha").unwrap().quorate());
}

// Input: the agent is back only after the peer took the group over (1 s > dead_after).
// Output: the restarted node stops its leftover copy, unit first; the peer keeps the group.
#[test]
fn a_killed_agent_back_too_late_yields_to_the_peer_that_took_over() {
    let mut c = World::running(two_node(""), 2000);
    c.kill_agent("alpha");
    c.run_until(3000);
    assert_eq!(c.holders("web"), ["beta"]);
    c.start("alpha");
    c.run_until(4000);
    assert_eq!(c.steps("alpha", 3000), ["-app.service", "-vip0"]);
    assert!(c.events("beta", EventKind::Release, "web").is_empty());
    assert_eq!(c.holders("web"), ["beta"]);
}

// Input: the agent died while starting the group: only the VIP is up when it is back.
// Output: it stops the VIP (it cannot tell a start from a stop cut short), then claims and
// starts the group as usual.
#[test]
fn a_group_found_in_part_is_stopped_then_started_as_usual() {
    let mut c = World::running(two_node(""), 2000);
    c.kill_agent("alpha");
    // The unit died while the agent was down: only the VIP is left.
    c.resource_dies("alpha", "web", 1);
    c.run_until(2100);
    c.start("alpha");
    c.run_until(4000);
    assert_eq!(c.steps("alpha", 2000), ["-vip0", "+vip0", "+app.service"]);
    assert!(c.steps("beta", 0).is_empty(), "{:?}", c.steps("beta", 0));
    assert_eq!(c.holders("web"), ["alpha"]);
}

// Input: alpha, the holder, is cut off from beta at 2 s; 100 ms later (still quorate: beta's
// last acknowledgement is recent enough) its agent is killed, and systemd starts it again
// 150 ms later, its checkpoint fresh. Output: the new run does not adopt: beta counts alpha's
// silence from its last datagram beta heard, so the earlier run's quorum had run out on its
// acknowledgements; alpha stops its copy, beta takes the group over and keeps it.
#[test]
fn a_restart_adopts_nothing_once_the_earlier_runs_acknowledgements_ran_out() {
    let mut c = World::running(two_node("    failback: false\n"), 2000);
    c.split("alpha", "beta", true);
    c.run_until(2100);
    assert!(
        c.engine("alpha").unwrap().quorate(),
        "still quorate when killed"
    );
    c.kill_agent("alpha");
    c.run_until(2400);
    c.start("alpha");
    c.run_until(2800);
    assert!(!adopted(&c, "alpha"), "{:?}", c.steps("alpha", 2000));
    let why = c.log.iter().any(|r| {
        r.node == "alpha"
            && matches!(&r.action, crate::engine::Action::Log(e) if e.reason.contains("acknowledgements that ran out"))
    });
    assert!(why, "the new run says why it does not adopt");
    assert_eq!(c.steps("alpha", 2400), ["-app.service", "-vip0"]);
    c.split("alpha", "beta", false);
    c.run_until(4000);
    assert_eq!(c.violation(), None);
    assert_eq!(c.holders("web"), ["beta"]);
}
