//! What a node makes of what its drivers see: a VIP removed by hand is put back, a stray VIP or
//! unit on a node that does not hold its group is stopped, a held unit stopped by hand fails
//! the group over, and a unit restarted in place is not a failure.

use super::two_node;
use crate::engine::{Active, AddrSeen, EventKind, Input, JobKind, UnitSeen};
use crate::sim::World;

fn unit(active: Active, job: Option<JobKind>) -> Input {
    Input::Unit(UnitSeen {
        unit: "app.service".into(),
        active,
        sub: String::new(),
        job,
        origin: None,
    })
}

fn vip(present: bool) -> Input {
    Input::Addr(AddrSeen {
        addr: "10.0.0.10".parse().unwrap(),
        interface: "eth0".into(),
        present,
    })
}

// Input: the VIP vanishes from alpha, which holds the group. Output: alpha adds it again and
// announces it; nothing else moves.
#[test]
fn a_vip_removed_by_hand_is_put_back() {
    let mut c = World::running(two_node(""), 2000);
    c.feed("alpha", vip(false));
    c.run_until(2500);
    assert_eq!(c.steps("alpha", 2000), ["+vip0"]);
    assert!(c.steps("beta", 0).is_empty());
    assert_eq!(c.holders("web"), ["alpha"]);
}

// Input: the VIP appears on beta, which does not hold the group. Output: beta removes it and
// logs a stray copy; alpha is not disturbed.
#[test]
fn a_stray_vip_is_removed_and_the_holder_left_alone() {
    let mut c = World::running(two_node(""), 2000);
    c.feed("beta", vip(true));
    c.run_until(2500);
    assert_eq!(c.steps("beta", 2000), ["-vip0"]);
    assert!(c.steps("alpha", 2000).is_empty());
    assert_eq!(
        c.events("beta", EventKind::Stray, "web").len(),
        2,
        "seen, then stopped"
    );
    assert_eq!(c.holders("web"), ["alpha"]);
}

// Input: app.service starts on beta by hand. Output: beta stops it at once; alpha keeps the
// group.
#[test]
fn a_stray_unit_is_stopped_at_once() {
    let mut c = World::running(two_node(""), 2000);
    c.feed("beta", unit(Active::Activating, Some(JobKind::Start)));
    c.run_until(2001);
    assert_eq!(c.steps("beta", 2000), ["-app.service"]);
    c.run_until(2500);
    assert!(c.steps("alpha", 2000).is_empty());
    assert_eq!(c.holders("web"), ["alpha"]);
}

// Input: `systemctl restart app.service` on alpha: deactivating with a restart job, inactive and
// activating with a start job, active. Output: nothing; the group stays on alpha.
#[test]
fn a_unit_restarted_in_place_is_not_a_failure() {
    let mut c = World::running(two_node(""), 2000);
    for (active, job) in [
        (Active::Deactivating, Some(JobKind::Restart)),
        (Active::Inactive, Some(JobKind::Start)),
        (Active::Activating, Some(JobKind::Start)),
        (Active::Active, None),
    ] {
        c.feed("alpha", unit(active, job));
        c.run_until(c.now().0 + 5);
    }
    c.run_until(3000);
    assert!(
        c.steps("alpha", 2000).is_empty(),
        "{:?}",
        c.steps("alpha", 2000)
    );
    assert!(c.events("alpha", EventKind::Release, "web").is_empty());
    assert_eq!(c.holders("web"), ["alpha"]);
}

// Input: `systemctl stop app.service` on alpha, with `on_failure: move`. Output: the group
// fails on alpha (its VIP is stopped) and beta takes it over. (With the default, alpha starts
// it again in place first: `in_place.rs`.)
#[test]
fn a_held_unit_stopped_by_hand_fails_the_group_over() {
    let mut c = World::running(two_node("    on_failure: move\n"), 2000);
    c.feed("alpha", unit(Active::Deactivating, Some(JobKind::Stop)));
    c.run_until(3000);
    assert_eq!(c.steps("alpha", 2000), ["-vip0"]);
    assert_eq!(c.steps("beta", 2000), ["+vip0", "+app.service"]);
    assert_eq!(c.holders("web"), ["beta"]);
}
