//! Restart in place: a unit that fails on the holder is started again there (the default, once
//! within ten minutes), a second failure within the window moves the group, and
//! `on_failure: move` moves it at once.

use super::two_node;
use crate::engine::EventKind;
use crate::sim::World;

// Input: alpha's unit dies at 2 s, and again at 3 s. Output: the first time alpha starts it
// again in place (beta does nothing); the second time, within the window, the group moves to
// beta, with no overlap.
#[test]
fn a_failed_unit_is_restarted_once_then_the_group_moves() {
    let mut c = World::running(two_node(""), 2000);
    c.resource_dies("alpha", "web", 1);
    c.run_until(2500);
    assert_eq!(c.steps("alpha", 2000), ["+app.service"]);
    assert!(c.steps("beta", 0).is_empty());
    assert_eq!(c.holders("web"), ["alpha"]);
    assert!(c.events("alpha", EventKind::Release, "web").is_empty());
    c.resource_dies("alpha", "web", 1);
    c.run_until(4000);
    assert_eq!(c.steps("alpha", 2500), ["-vip0"]);
    assert_eq!(c.steps("beta", 2500), ["+vip0", "+app.service"]);
    assert_eq!(c.holders("web"), ["beta"]);
    assert_eq!(c.violation(), None);
}

// Input: the same first failure with `on_failure: move`. Output: the group moves at once.
#[test]
fn on_failure_move_moves_at_the_first_failure() {
    let mut c = World::running(two_node("    on_failure: move\n"), 2000);
    c.resource_dies("alpha", "web", 1);
    c.run_until(3000);
    assert_eq!(c.steps("alpha", 2000), ["-vip0"]);
    assert_eq!(c.steps("beta", 2000), ["+vip0", "+app.service"]);
}

// Input: `max_restarts: 2, restart_window: 1s`; the unit dies at 2 s, 2.2 s, then 3.5 s (the
// first two out of the window by then) and 3.7 s. Output: four restarts in place, no move.
#[test]
fn restarts_outside_the_window_are_forgotten() {
    let mut c = World::running(
        two_node("    max_restarts: 2\n    restart_window: 1s\n"),
        2000,
    );
    for at in [2000, 2200, 3500, 3700] {
        c.run_until(at);
        c.resource_dies("alpha", "web", 1);
    }
    c.run_until(5000);
    let restarts = c.steps("alpha", 2000);
    assert_eq!(restarts, ["+app.service"; 4]);
    assert!(c.steps("beta", 0).is_empty());
    assert_eq!(c.holders("web"), ["alpha"]);
}
