//! Health checks: a check failing `fall` times in a row on the holder restarts its unit in
//! place (a restart, the unit still running), a second failure within the window moves the
//! group, and nothing is checked on a node that does not run the group.

use std::time::Duration;

use super::two_node;
use crate::engine::EventKind;
use crate::manifest::Manifest;
use crate::manifest::model::{Check, CheckProbe};
use crate::sim::World;

/// `two_node` with a TCP check on its unit: every 200 ms, failing after 3 in a row.
fn checked(extra_group: &str) -> Manifest {
    let mut m = two_node(extra_group);
    let web = m.groups.get_mut("web").expect("web");
    web.resources[1].check = Some(Check {
        probe: CheckProbe::Tcp("127.0.0.1:80".into()),
        interval: Duration::from_millis(200),
        timeout: Duration::from_millis(100),
        rise: 2,
        fall: 3,
    });
    m
}

// Input: alpha's check fails from 2 s on, and a restart fixes it. Output: after three failed
// runs (600 ms to 800 ms) alpha restarts the unit in place; the group stays; beta never runs
// a check.
#[test]
fn a_failing_check_restarts_the_unit_in_place() {
    let mut c = World::running(checked(""), 2000);
    c.check_failing("alpha", "web", 1, Some(true));
    c.run_until(3500);
    assert_eq!(c.steps("alpha", 2000), ["~app.service"]);
    assert!(c.steps("beta", 0).is_empty());
    assert_eq!(c.holders("web"), ["alpha"]);
    let failed = c.events("alpha", EventKind::ResourceFailed, "web");
    let at = failed.first().expect("a failure").0;
    assert!((2400..=2900).contains(&at), "failed at {at}");
    let alpha = c.engine("alpha").expect("alpha runs");
    let run = &alpha.checks()[&crate::engine::ResourceRef::new("web", 1)];
    assert!(run.active, "checked again after the restart");
    assert!(
        c.engine("beta")
            .expect("beta")
            .checks()
            .values()
            .all(|r| !r.active)
    );
    assert_eq!(c.violation(), None);
}

// Input: alpha's check fails and a restart does not fix it. Output: one restart in place,
// then the group moves to beta within `fall` intervals more (and the stop and start), with
// no overlap.
#[test]
fn a_check_that_keeps_failing_moves_the_group() {
    let mut c = World::running(checked(""), 2000);
    c.check_failing("alpha", "web", 1, Some(false));
    c.run_until(5000);
    assert_eq!(
        c.steps("alpha", 2000),
        ["~app.service", "-app.service", "-vip0"]
    );
    assert_eq!(c.steps("beta", 2000), ["+vip0", "+app.service"]);
    assert_eq!(c.holders("web"), ["beta"]);
    assert_eq!(c.violation(), None);
}

// Input: `on_failure: move`, alpha's check fails at 2 s. Output: the group moves at the
// first verdict, within fall x interval (plus one interval for the first run) and the
// handoff.
#[test]
fn with_on_failure_move_the_first_failing_verdict_moves_the_group() {
    let mut c = World::running(checked("    on_failure: move\n"), 2000);
    c.check_failing("alpha", "web", 1, Some(false));
    c.run_until(4000);
    assert_eq!(c.steps("alpha", 2000), ["-app.service", "-vip0"]);
    let started = c.first_start("beta", "web", 2000).expect("beta takes over");
    assert!(
        started.0 <= 2000 + 4 * 200 + 500,
        "beta started at {}",
        started.0
    );
    assert_eq!(c.violation(), None);
}

/// `two_node` whose VIP tracks its interface's carrier.
fn tracked() -> Manifest {
    let mut m = two_node("");
    let web = m.groups.get_mut("web").expect("web");
    if let crate::manifest::model::ResourceKind::Vip(v) = &mut web.resources[0].kind {
        v.track_interface = true;
    }
    m
}

// Input: eth0 of alpha, the holder, loses its carrier at 2 s and gets it back at 4 s.
// Output: alpha stops the group at once (unit first), beta takes it over after the stop;
// while the carrier is down alpha says why it may not run the group; it stays on beta after.
#[test]
fn a_tracked_interface_without_carrier_moves_the_group() {
    let mut c = World::running(tracked(), 2000);
    c.carrier("alpha", "eth0", false);
    c.run_until(3000);
    assert_eq!(c.steps("alpha", 2000), ["-app.service", "-vip0"]);
    assert_eq!(c.steps("beta", 2000), ["+vip0", "+app.service"]);
    assert_eq!(c.holders("web"), ["beta"]);
    let alpha = c.engine("alpha").expect("alpha");
    let snap = alpha.snapshot(c.now());
    assert_eq!(
        snap.groups["web"]
            .ineligible
            .get("alpha")
            .map(String::as_str),
        Some("interface eth0 has no carrier (track_interface)")
    );
    c.carrier("alpha", "eth0", true);
    c.run_until(4000);
    assert_eq!(c.holders("web"), ["beta"]);
    assert_eq!(c.violation(), None);
}

// Input: beta's tracked interface loses its carrier, then alpha crashes. Output: nothing
// moves at the carrier loss; after the crash no node runs the group while beta has no
// carrier, and beta takes it once the carrier is back.
#[test]
fn a_node_without_carrier_takes_nothing_over() {
    let mut c = World::running(tracked(), 2000);
    c.carrier("beta", "eth0", false);
    c.run_until(2500);
    assert_eq!(c.holders("web"), ["alpha"]);
    c.power_off("alpha");
    c.run_until(4500);
    assert!(c.holders("web").is_empty(), "{:?}", c.holders("web"));
    c.carrier("beta", "eth0", true);
    c.run_until(5500);
    assert_eq!(c.holders("web"), ["beta"]);
}
