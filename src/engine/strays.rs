//! Stray copies of units: a managed unit running on a node that does not hold its group (started
//! by hand, a timer, a dependency, a package script). What the group's `on_stray` says decides:
//! `stop` (the default for stateful groups) stops the copy at once, the holder untouched; `warn`
//! logs it and leaves it. A stop that fails blocks the group here like any failed stop (the
//! group may run twice; `blocked.rs`). This module keeps what was seen, bounded, so status can
//! list the strays of the last hour; `observe.rs` finds them.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::runner::{Outcome, Phase, Why};
use super::{Action, Engine, EventKind, ResourceRef, Time, UnitSeen};
use crate::manifest::model::{Group, OnStray, ResourceKind};

/// How many strays are kept: a unit flapping on a timer must not grow the engine or the status.
pub const STRAYS_KEPT: usize = 16;

/// How long a stray stays in status.
pub const STRAYS_SHOWN_FOR: Duration = Duration::from_secs(3600);

/// What was done with a stray copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrayAction {
    /// Its stop is under way.
    Stopping,
    /// It is stopped.
    Stopped,
    /// Left running (`on_stray: warn`).
    LeftRunning,
    /// Its stop failed: the group may run twice (blocked here until a stop works).
    StopFailed,
}

/// A stray copy seen on this node, as status shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StraySeen {
    /// The resource (a unit's name, a VIP's address).
    pub resource: String,
    /// Its group.
    pub group: String,
    /// The node that held the group then, if any.
    pub holder: Option<String>,
    /// What started it, as systemd said.
    pub origin: Option<String>,
    /// What was done with it.
    pub action: StrayAction,
    /// How long ago it was seen (ms).
    pub ago_ms: u64,
}

/// The strays seen lately, newest last, at most [`STRAYS_KEPT`].
#[derive(Clone, Debug, Default)]
pub struct StrayLog(VecDeque<(Time, StraySeen)>);

impl StrayLog {
    fn record(&mut self, now: Time, seen: StraySeen) {
        if self.0.len() >= STRAYS_KEPT {
            self.0.pop_front();
        }
        self.0.push_back((now, seen));
    }

    /// Whether a stray of the group is being stopped.
    fn stopping(&self, group: &str) -> bool {
        self.0
            .iter()
            .any(|(_, s)| s.group == group && s.action == StrayAction::Stopping)
    }

    /// The group's strays under way end as `action`.
    fn settle(&mut self, group: &str, action: StrayAction) {
        for (_, s) in self.0.iter_mut().filter(|(_, s)| s.group == group) {
            if s.action == StrayAction::Stopping {
                s.action = action;
            }
        }
    }

    /// The strays seen within [`STRAYS_SHOWN_FOR`] of `now`, newest first.
    pub fn recent(&self, now: Time) -> Vec<StraySeen> {
        self.0
            .iter()
            .rev()
            .filter(|(at, _)| now.since(*at) <= STRAYS_SHOWN_FOR)
            .map(|(at, s)| StraySeen {
                ago_ms: u64::try_from(now.since(*at).as_millis()).unwrap_or(u64::MAX),
                ..s.clone()
            })
            .collect()
    }
}

impl Engine {
    /// Whether a stray copy of unit `res` is only to be reported: its group is set to `warn`.
    /// (A stray VIP is always removed, never asked about: an address on two hosts breaks the
    /// clients whatever the group may run.)
    pub(super) fn stray_left_running(&self, res: &ResourceRef) -> bool {
        self.m
            .groups
            .get(&res.group)
            .is_some_and(|g| g.on_stray == OnStray::Warn)
    }

    /// Records a stray copy of `res` and says what is done with it.
    pub(super) fn stray_seen(
        &mut self,
        res: &ResourceRef,
        what: &str,
        origin: Option<&str>,
        action: StrayAction,
    ) -> Action {
        let holder = self.holder_of(&res.group);
        let resource = self
            .m
            .groups
            .get(&res.group)
            .and_then(|g| g.resources.get(res.index))
            .map_or_else(String::new, |r| r.name.clone());
        let holds = match &holder {
            Some(h) => format!("{h} holds the group"),
            None => "no node runs the group".to_owned(),
        };
        let started = match origin {
            Some(o) => format!("started by {o}"),
            None => "systemd names no trigger (by hand, a dependency or a script)".to_owned(),
        };
        let done = match action {
            StrayAction::LeftRunning => "left running (on_stray: warn)",
            _ => "stopping this copy",
        };
        self.strays.record(
            self.now,
            StraySeen {
                resource,
                group: res.group.clone(),
                holder,
                origin: origin.map(str::to_owned),
                action,
                ago_ms: 0,
            },
        );
        self.event(
            EventKind::Stray,
            Some(&res.group),
            format!("{what}, but this node does not hold it ({holds}); {started}: {done}"),
        )
    }

    /// Units of `name` found running at start-up, which no earlier run of this node held: a
    /// stray copy each, logged and recorded; those of a group set to `warn` are taken out of
    /// `up` and left running (the rest is stopped as anything else found up is).
    pub(super) fn found_strays(
        &mut self,
        name: &str,
        g: &Group,
        up: &mut Vec<usize>,
        out: &mut Vec<Action>,
    ) {
        let mut left = Vec::new();
        for &i in up.iter() {
            let Some(ResourceKind::Unit(unit)) = g.resources.get(i).map(|r| &r.kind) else {
                continue;
            };
            let res = ResourceRef::new(name, i);
            let seen = self.units_seen.get(unit).cloned();
            let (origin, what) = match &seen {
                Some(s) => (
                    s.origin.clone(),
                    format!("{unit} was found {} at start-up", s.sub),
                ),
                None => (None, format!("{unit} was found running at start-up")),
            };
            let action = if self.stray_left_running(&res) {
                left.push(i);
                StrayAction::LeftRunning
            } else {
                StrayAction::Stopping
            };
            out.push(self.stray_seen(&res, &what, origin.as_deref(), action));
        }
        up.retain(|i| !left.contains(i));
    }

    /// What became of a stray's stop: logged, and kept for status.
    pub(super) fn stray_outcome(&mut self, group: &str, outcome: Outcome, out: &mut Vec<Action>) {
        let stray_phase =
            |r: &super::runner::Runner| matches!(r.phase, Phase::Blocked { why: Why::Stray });
        match outcome {
            // A stray found at start-up is stopped with the rest found up: a release.
            Outcome::StrayStopped | Outcome::Released | Outcome::Failed => {
                self.strays.settle(group, StrayAction::Stopped);
            }
            Outcome::Blocked
                if self.runners.get(group).is_some_and(stray_phase)
                    || self.strays.stopping(group) =>
            {
                self.strays.settle(group, StrayAction::StopFailed);
                out.push(self.event(
                    EventKind::Stray,
                    Some(group),
                    "the stray copy could not be stopped: the group may run twice (blocked here)"
                        .into(),
                ));
            }
            _ => {}
        }
    }
}

/// Whether a unit in this state runs (or is about to), and is not already on its way down.
pub(super) fn running(seen: &UnitSeen) -> bool {
    seen.active.running()
        && seen.active != super::Active::Deactivating
        && seen.job != Some(super::JobKind::Stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(group: &str, action: StrayAction) -> StraySeen {
        StraySeen {
            resource: "app.service".into(),
            group: group.into(),
            holder: Some("alpha".into()),
            origin: None,
            action,
            ago_ms: 0,
        }
    }

    #[test]
    fn the_log_is_bounded_and_shows_the_last_hour_newest_first() {
        let mut log = StrayLog::default();
        for i in 0..(STRAYS_KEPT as u64 + 5) {
            log.record(
                Time(i * 1000),
                seen(&format!("g{i}"), StrayAction::Stopping),
            );
        }
        assert_eq!(log.0.len(), STRAYS_KEPT);
        let now = Time(STRAYS_KEPT as u64 * 1000 + 4000);
        let recent = log.recent(now);
        assert_eq!(recent.len(), STRAYS_KEPT);
        assert_eq!(recent[0].group, format!("g{}", STRAYS_KEPT + 4));
        assert_eq!(recent[0].ago_ms, 0);
        let later = now.plus(STRAYS_SHOWN_FOR - Duration::from_millis(500));
        assert_eq!(
            log.recent(later).len(),
            1,
            "only the newest is within the hour"
        );
    }

    #[test]
    fn a_settled_stop_changes_only_that_groups_strays_under_way() {
        let mut log = StrayLog::default();
        log.record(Time(0), seen("web", StrayAction::Stopping));
        log.record(Time(1), seen("db", StrayAction::Stopping));
        log.record(Time(2), seen("web", StrayAction::LeftRunning));
        log.settle("web", StrayAction::Stopped);
        let actions: Vec<_> = log.recent(Time(3)).into_iter().map(|s| s.action).collect();
        assert_eq!(
            actions,
            [
                StrayAction::LeftRunning,
                StrayAction::Stopping,
                StrayAction::Stopped
            ]
        );
    }
}
