//! Stray copies of a unit (issue 17): `app.service` started by hand on beta while alpha holds
//! `web`. Stopped at once by default (a stateful group), the holder untouched; left running and
//! reported with `on_stray: warn`; a stray whose stop fails blocks the group on beta, and status
//! says the group may run twice. These fail without the rule in `engine/observe.rs`.

use super::two_node;
use crate::engine::strays::StrayAction;
use crate::engine::{EventKind, Time};
use crate::sim::World;

/// The reason of each `Stray` event `node` logged about `web`.
fn stray_lines(c: &World, node: &str) -> Vec<String> {
    c.log
        .iter()
        .filter(|r| r.node == node)
        .filter_map(|r| match &r.action {
            crate::engine::Action::Log(e) if e.kind == EventKind::Stray => Some(e.reason.clone()),
            _ => None,
        })
        .collect()
}

/// What beta's status lists as strays: (resource, holder, action).
fn listed(c: &World) -> Vec<(String, Option<String>, StrayAction)> {
    let e = c.engine("beta").expect("beta runs");
    let snap = e.snapshot(c.now());
    snap.nodes["beta"]
        .strays
        .iter()
        .map(|s| (s.resource.clone(), s.holder.clone(), s.action))
        .collect()
}

// Input: app.service started by hand on beta at 2000 ms (the world's stray-start fault, which
// also counts how long the copy runs). Output: beta stops it within one interval plus the stop
// time, logs it naming the unit and the holder, lists it in status as stopped; alpha's copy is
// never touched and no invariant breaks.
#[test]
fn a_stray_copy_is_stopped_within_an_interval_and_the_holder_left_alone() {
    let mut c = World::running(two_node(""), 2000);
    c.stray_start_at(2000, "beta", "web", 1);
    c.run_until(3000);
    assert_eq!(c.violation(), None);
    assert_eq!(c.steps("beta", 2000), ["-app.service"]);
    assert!(c.steps("alpha", 2000).is_empty(), "the holder is untouched");
    assert_eq!(c.holders("web"), ["alpha"]);
    let lines = stray_lines(&c, "beta");
    assert!(
        lines[0].contains("app.service is activating")
            && lines[0].contains("alpha holds the group")
            && lines[0].contains("stopping this copy"),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("the stray copy is stopped")
    );
    let stopped_by = c.events("beta", EventKind::Stray, "web");
    assert!(stopped_by.last().unwrap().since(Time(2000)).as_millis() <= 100 + 200);
    assert_eq!(
        listed(&c),
        [(
            "app.service".into(),
            Some("alpha".into()),
            StrayAction::Stopped
        )]
    );
}

// Input: the same stray start, the group set to `on_stray: warn`. Output: beta stops nothing,
// logs the stray once (not at every state change), and its status lists it as left running.
#[test]
fn with_on_stray_warn_the_copy_is_logged_once_and_left_running() {
    let mut c = World::running(two_node("    on_stray: warn\n"), 2000);
    c.stray_start_at(2000, "beta", "web", 1);
    c.run_until(4000);
    assert_eq!(c.violation(), None, "left running by the operator's choice");
    assert!(
        c.steps("beta", 2000).is_empty(),
        "{:?}",
        c.steps("beta", 2000)
    );
    assert!(c.steps("alpha", 2000).is_empty());
    let lines = stray_lines(&c, "beta");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("left running (on_stray: warn)"),
        "{lines:?}"
    );
    assert_eq!(
        listed(&c),
        [(
            "app.service".into(),
            Some("alpha".into()),
            StrayAction::LeftRunning
        )]
    );
    assert_eq!(c.holders("web"), ["alpha"]);
}

// Input: the stray start, and beta's stops of app.service fail for 5 s. Output: the group is
// blocked on beta (it may run twice), beta's status says the stray's stop failed, alpha keeps
// running it undisturbed, and once a retried stop works beta is idle again.
#[test]
fn a_stray_whose_stop_fails_blocks_the_group_there_and_status_says_so() {
    let mut c = World::running(two_node(""), 2000);
    c.fail_stops("beta", "web", 1, 7000);
    c.stray_start_at(2000, "beta", "web", 1);
    c.run_until(3000);
    let lines = stray_lines(&c, "beta");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("could not be stopped: the group may run twice")),
        "{lines:?}"
    );
    assert_eq!(
        listed(&c),
        [(
            "app.service".into(),
            Some("alpha".into()),
            StrayAction::StopFailed
        )]
    );
    let e = c.engine("alpha").unwrap();
    assert_eq!(e.snapshot(c.now()).groups["web"].here, "running");
    assert!(c.steps("alpha", 2000).is_empty(), "the holder is untouched");
    c.run_until(20_000);
    assert!(
        c.steps("alpha", 2000).is_empty(),
        "{:?}",
        c.steps("alpha", 2000)
    );
    let beta = c.engine("beta").unwrap().snapshot(c.now());
    assert_eq!(beta.groups["web"].here, "idle", "the retried stop worked");
    assert_eq!(c.holders("web"), ["alpha"]);
}

// Input: beta's agent is down (killed; systemd restarts it later) when app.service is started
// there by hand; the agent comes back. Output: its start-up probe finds the copy, which no
// earlier run held: logged as a stray and stopped (the default), or, with `on_stray: warn`,
// logged and left running. alpha is untouched either way.
#[test]
fn a_stray_found_by_the_start_up_probe_follows_on_stray() {
    for (extra, stopped) in [("", true), ("    on_stray: warn\n", false)] {
        let mut c = World::running(two_node(extra), 2000);
        c.kill_agent("beta");
        c.stray_start_at(2050, "beta", "web", 1);
        c.run_until(2100);
        c.start("beta");
        c.run_until(3500);
        assert_eq!(c.violation(), None);
        let lines = stray_lines(&c, "beta");
        assert!(
            lines
                .first()
                .is_some_and(|l| l.contains("app.service was found")
                    && l.contains("at start-up, but this node does not hold it")),
            "{lines:?}"
        );
        let (steps, action) = if stopped {
            (vec!["-app.service".to_owned()], StrayAction::Stopped)
        } else {
            (vec![], StrayAction::LeftRunning)
        };
        assert_eq!(c.steps("beta", 2100), steps);
        assert_eq!(listed(&c).len(), 1);
        assert_eq!(listed(&c)[0].2, action);
        assert!(c.steps("alpha", 2000).is_empty(), "the holder is untouched");
        assert_eq!(c.holders("web"), ["alpha"]);
    }
}
