//! Health checks (keepalived's `track_script` and HTTP/TCP checkers, Pacemaker's monitor
//! operations): the engine says when each check runs ([`Action::RunCheck`]) and counts what
//! the driver reports ([`Input::Checked`](super::Input::Checked)); the driver only runs the
//! probe, within its timeout.
//!
//! A check runs on the node whose group runs here whole, while its unit is up: not while the
//! group starts or stops, not in maintenance, not on a node that does not hold the group. Its
//! first run comes one interval after the unit is up. `fall` failed runs in a row fail the
//! resource as a unit that dies does (`restart.rs`: restarted in place within the group's
//! budget, else the group moves; the unit still runs, so it is restarted, or stopped with the
//! group); `rise` passing runs in a row make a check pass, from its start or after failures.
//! A run whose result has not come by the next run counts as failed.

use serde::Serialize;

use super::runner::Phase;
use super::{Action, Engine, ResourceRef, Time};
use crate::manifest::model::{Check, Group};

/// A check's verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Fewer than `rise` passing or `fall` failed runs in a row since it started.
    #[default]
    Unknown,
    /// `rise` passing runs in a row, and no `fall` failed ones since.
    Passing,
    /// `fall` failed runs in a row, and no `rise` passing ones since.
    Failing,
}

/// The rise and fall count of one check: pure, fed one result at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Health {
    /// The verdict.
    pub verdict: Verdict,
    /// Runs in a row with the last run's result.
    pub streak: u32,
    /// The last run's result, if any ran.
    pub last_ok: Option<bool>,
    /// Why the last failed run failed.
    pub last_error: Option<String>,
}

impl Health {
    /// Counts one run; returns the new verdict when it changed.
    pub fn record(&mut self, ok: bool, error: &str, rise: u32, fall: u32) -> Option<Verdict> {
        self.streak = if self.last_ok == Some(ok) {
            self.streak.saturating_add(1)
        } else {
            1
        };
        self.last_ok = Some(ok);
        if !ok {
            self.last_error = Some(error.to_owned());
        }
        let next = match (ok, self.verdict) {
            (true, Verdict::Passing) | (false, Verdict::Failing) => return None,
            (true, _) if self.streak >= rise => Verdict::Passing,
            (false, _) if self.streak >= fall => Verdict::Failing,
            _ => return None,
        };
        self.verdict = next;
        Some(next)
    }
}

/// One check on this node.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckRun {
    /// Its count since it last started.
    pub health: Health,
    /// Whether it runs now (its unit up, its group running here).
    pub active: bool,
    /// When it runs next, while active.
    #[serde(skip)]
    next_at: Time,
    /// The run whose result is awaited.
    #[serde(skip)]
    in_flight: Option<u64>,
}

/// The resources of `groups` that have a check.
pub(super) fn checked<'a>(
    groups: impl Iterator<Item = (&'a String, &'a std::sync::Arc<Group>)>,
) -> Vec<ResourceRef> {
    groups
        .flat_map(|(name, g)| {
            g.resources
                .iter()
                .enumerate()
                .filter(|(_, r)| r.check.is_some())
                .map(|(i, _)| ResourceRef::new(name, i))
                .collect::<Vec<_>>()
        })
        .collect()
}

impl Engine {
    /// Starts and stops checks as their groups run, and issues the runs that are due.
    pub(super) fn checks_due(&mut self, now: Time, out: &mut Vec<Action>) {
        let mut failed = Vec::new();
        for res in self.checked.clone() {
            let Some(check) = self.check_of(&res) else {
                continue;
            };
            let should = self.check_runs(&res);
            let run = self.checks.entry(res.clone()).or_default();
            if should && !run.active {
                *run = CheckRun {
                    active: true,
                    next_at: now.plus(check.interval),
                    ..CheckRun::default()
                };
            } else if !should {
                run.active = false;
                run.in_flight = None;
            }
            if !run.active || now < run.next_at {
                continue;
            }
            if run.in_flight.take().is_some() {
                let why = "no result within the interval";
                if run.health.record(false, why, check.rise, check.fall) == Some(Verdict::Failing) {
                    failed.push((res.clone(), why.to_owned()));
                    continue;
                }
            }
            self.check_seq += 1;
            run.in_flight = Some(self.check_seq);
            run.next_at = now.plus(check.interval);
            out.push(Action::RunCheck {
                res,
                seq: self.check_seq,
                check,
            });
        }
        for (res, why) in failed {
            self.check_failed(now, &res, &why, out);
        }
        let known = &self.checked;
        self.checks.retain(|r, _| known.contains(r));
    }

    /// A check's run ended.
    pub(super) fn checked_result(
        &mut self,
        now: Time,
        res: &ResourceRef,
        seq: u64,
        ok: bool,
        detail: &str,
        out: &mut Vec<Action>,
    ) {
        let Some(check) = self.check_of(res) else {
            return;
        };
        let Some(run) = self.checks.get_mut(res) else {
            return;
        };
        // A late result of a run issued before the check stopped, or before a restart.
        if !run.active || run.in_flight != Some(seq) {
            return;
        }
        run.in_flight = None;
        if run.health.record(ok, detail, check.rise, check.fall) == Some(Verdict::Failing) {
            self.check_failed(now, res, detail, out);
        }
    }

    /// The check of `res` failed `fall` times in a row: handled as a unit that failed, except
    /// that the unit still runs, so it is restarted (or stopped with the group), not started.
    fn check_failed(&mut self, now: Time, res: &ResourceRef, why: &str, out: &mut Vec<Action>) {
        let Some(g) = self.shared.get(&res.group).cloned() else {
            return;
        };
        let Some(r) = g.resources.get(res.index) else {
            return;
        };
        let (probe, fall) = match &r.check {
            Some(c) => (c.probe.to_string(), c.fall),
            None => return,
        };
        let detail = format!(
            "{} failed its check ({probe}) {fall} time(s) in a row: {why}",
            r.name
        );
        if let Some(run) = self.checks.get_mut(res) {
            // Counted again from its restart, if any.
            run.active = false;
            run.in_flight = None;
        }
        if self.restart_in_place(now, res, &detail, true, out) {
            return;
        }
        let Some(runner) = self.runners.get_mut(&res.group) else {
            return;
        };
        let (actions, outcome) = runner.fail(&res.group, &g);
        if !actions.is_empty() || outcome.is_some() {
            out.push(self.event(super::EventKind::ResourceFailed, Some(&res.group), detail));
        }
        out.extend(actions);
        self.outcome(now, &res.group, outcome, out);
    }

    /// The check of `res` in the manifest in force.
    fn check_of(&self, res: &ResourceRef) -> Option<Check> {
        let g = self.shared.get(&res.group)?;
        g.resources.get(res.index)?.check.clone()
    }

    /// Whether the check of `res` runs now: its group runs here whole (not retiring after a
    /// reload, not in maintenance, the agent not stopping) and its unit is up.
    fn check_runs(&self, res: &ResourceRef) -> bool {
        let Some(runner) = self.runners.get(&res.group) else {
            return false;
        };
        runner.phase == Phase::Running
            && runner.res.get(res.index) == Some(&super::runner::Res::Up)
            && !self.retiring.contains_key(&res.group)
            && !self.maintained(&res.group)
            && !self.shutting_down
    }

    /// When the next check run is due.
    pub(super) fn next_check(&self) -> Option<Time> {
        self.checks
            .values()
            .filter(|r| r.active)
            .map(|r| r.next_at)
            .min()
    }

    /// Each check known here, with its count, for status.
    pub fn checks(&self) -> &std::collections::BTreeMap<ResourceRef, CheckRun> {
        &self.checks
    }
}

#[cfg(test)]
mod tests {
    use super::{Health, Verdict};

    fn feed(h: &mut Health, runs: &str, rise: u32, fall: u32) -> Vec<Option<Verdict>> {
        runs.chars()
            .map(|c| h.record(c == '+', "refused", rise, fall))
            .collect()
    }

    #[test]
    fn fall_failures_in_a_row_fail_and_rise_passes_bring_it_back() {
        let mut h = Health::default();
        let v = feed(&mut h, "++", 2, 3);
        assert_eq!(v, [None, Some(Verdict::Passing)]);
        let v = feed(&mut h, "--+--+", 2, 3);
        assert!(
            v.iter().all(Option::is_none),
            "a success resets the fall count"
        );
        let v = feed(&mut h, "---", 2, 3);
        assert_eq!(v, [None, None, Some(Verdict::Failing)]);
        assert_eq!(h.last_error.as_deref(), Some("refused"));
        let v = feed(&mut h, "-+-++", 2, 3);
        assert_eq!(v, [None, None, None, None, Some(Verdict::Passing)]);
        assert_eq!((h.streak, h.last_ok), (2, Some(true)));
    }

    #[test]
    fn a_check_that_never_passed_fails_after_fall_runs() {
        let mut h = Health::default();
        assert_eq!(feed(&mut h, "-", 2, 1), [Some(Verdict::Failing)]);
        let mut h = Health::default();
        assert_eq!(
            feed(&mut h, "+-", 1, 1),
            [Some(Verdict::Passing), Some(Verdict::Failing)]
        );
    }

    #[test]
    fn repeated_verdicts_are_not_reported_again() {
        let mut h = Health::default();
        let v = feed(&mut h, "------", 2, 3);
        assert_eq!(v.iter().filter(|v| v.is_some()).count(), 1);
        assert_eq!(h.streak, 6);
    }
}
