//! Stops that fail. A stop that fails, or whose result says nothing, never counts as a release:
//! the resource may still run, so the group is blocked on this node (advertised `blocked`) and
//! the stop is tried again with back-off (1 s, doubling, at most four `dead_after` and never
//! under a second) until it works, systemd reports the resource down, or an operator who
//! checked by hand unblocks it. Peers do not start a stateful group while any node may still
//! run it: a live node that says `blocked`, or a node whose last word was `blocked` (it may have
//! died with its copy running) until it comes back, is fenced (when fencing is configured), or
//! an operator unblocks it. A node silent since its last word showed it holding a group in
//! maintenance counts the same: maintenance stops nothing, not even on quorum loss, so its
//! copy may run on however long it has been cut off (until it learns maintenance ended and
//! lets go, which nobody else can see).

use std::time::Duration;

use super::runner::{Outcome, Phase};
use super::{Action, Engine, EventKind, Fence, Time};
use crate::manifest::model::Group;
use crate::protocol::wire::GroupState;

impl Engine {
    /// The group just became blocked here: logs it and schedules the first retry.
    pub(super) fn blocked(&mut self, now: Time, group: &str, out: &mut Vec<Action>) {
        let attempt = self.retries.get(group).map_or(0, |(_, n)| n + 1);
        let wait = self.retry_wait(attempt);
        self.retries
            .insert(group.to_owned(), (now.plus(wait), attempt));
        out.push(self.event(
            EventKind::ResourceFailed,
            Some(group),
            format!(
                "a stop failed: the group may still run here and is blocked (no other node starts it); trying again in {} ms; once it is stopped by hand, `haagentctl unblock {group} {}`",
                wait.as_millis(),
                self.me
            ),
        ));
    }

    /// How long to wait before retry number `attempt` (from 0).
    fn retry_wait(&self, attempt: u32) -> Duration {
        let cap = (self.m.heartbeat.dead_after.saturating_mul(4)).max(Duration::from_secs(1));
        Duration::from_secs(1)
            .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
            .min(cap)
    }

    /// Retries the stops that are due.
    pub(super) fn retry_due(&mut self, now: Time, out: &mut Vec<Action>) {
        let due: Vec<String> = self
            .retries
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(g, _)| g.clone())
            .collect();
        for group in due {
            // Maintenance stops nothing, retries included; the entry waits for its end.
            if self.maintained(&group) {
                continue;
            }
            let Some((g, runner)) = self.group_mut(&super::ResourceRef::new(&group, 0)) else {
                self.retries.remove(&group);
                continue;
            };
            match runner.phase {
                Phase::Blocked { .. } => {}
                // The retry is under way: its entry keeps the count of attempts for the next
                // back-off (`blocked`), and is no deadline while past (`next_deadline`).
                Phase::Stopping { .. } => continue,
                _ => {
                    self.retries.remove(&group);
                    continue;
                }
            }
            let (actions, outcome) = runner.retry(&group, &g);
            out.extend(actions);
            self.outcome(now, &group, outcome, out);
        }
    }

    /// A group ended a stop here: no retry is pending any more.
    pub(super) fn unblocked(&mut self, group: &str, outcome: Option<Outcome>) {
        if matches!(
            outcome,
            Some(Outcome::Released | Outcome::Failed | Outcome::StrayStopped)
        ) {
            self.retries.remove(group);
        }
    }

    /// The nodes other than this one that may still run `name` although no rule makes them
    /// let go: those that say `blocked` now, those whose last word was `blocked`, and those
    /// silent since their last word showed them holding it in maintenance; unless fenced
    /// since or unblocked by an operator since.
    pub(super) fn blocked_elsewhere(&self, name: &str) -> Vec<String> {
        self.members
            .peers()
            .iter()
            .filter(|(peer, p)| {
                let said = p.view.as_ref().is_some_and(|v| {
                    v.groups
                        .iter()
                        .any(|(g, s)| g == name && *s == GroupState::Blocked)
                        || (!p.state.alive() && held_in_maintenance(v, name))
                });
                let fenced = self.fences.get(*peer) == Some(&Fence::Done);
                let cleared = self
                    .unblocked
                    .get(&(name.to_owned(), (*peer).clone()))
                    .is_some_and(|at| p.last.is_none_or(|last| *at >= last));
                said && !fenced && !cleared
            })
            .map(|(peer, _)| peer.clone())
            .collect()
    }

    /// Whether a stateful group may start here given the nodes blocked on it: none, or all of
    /// them fenced first (fencing configured; asked for here).
    pub(super) fn clear_of_blocks(&mut self, name: &str, g: &Group, out: &mut Vec<Action>) -> bool {
        let blocked = self.blocked_elsewhere(name);
        if blocked.is_empty() || !g.stateful {
            return true;
        }
        self.m.fencing_required && self.fence_holders(name, blocked, out)
    }

    /// An operator says `node`'s copy of `group` is stopped (checked by hand).
    pub(super) fn unblock(&mut self, now: Time, group: &str, node: &str, out: &mut Vec<Action>) {
        self.unblocked
            .insert((group.to_owned(), node.to_owned()), now);
        if node != self.me {
            return;
        }
        let Some(g) = self.m.groups.get(group).cloned() else {
            return;
        };
        for i in 0..g.resources.len() {
            let Some((g, runner)) = self.group_mut(&super::ResourceRef::new(group, i)) else {
                continue;
            };
            let (actions, outcome) = runner.unstuck(group, &g, i);
            out.extend(actions);
            self.outcome(now, group, outcome, out);
        }
    }
}

/// Whether datagram `v` shows its sender holding `name` (starting, running, stopping) while
/// it had the group in maintenance.
fn held_in_maintenance(v: &crate::protocol::wire::Datagram, name: &str) -> bool {
    let holds = v.groups.iter().any(|(g, s)| {
        g == name
            && matches!(
                s,
                GroupState::Starting | GroupState::Running | GroupState::Stopping
            )
    });
    holds && super::intents::Intents::of(&v.intents).maintenance(name)
}

#[cfg(test)]
mod tests {
    use crate::engine::{Action, Command, Engine, Input, Op, Probe, Time};

    // Input: a one-node cluster runs its group, at 8 s an operator puts the node in standby, and every
    // stop of the unit fails after 500 ms. Output: stops are tried again after 1 s, 2 s, 4 s
    // (doubling), and while a retry is under way the next deadline is in the future. (Found by
    // the fuzz target `engine`: the retry's time stayed a deadline once past, and the retry's
    // entry was dropped at the next tick, so the back-off never doubled.)
    #[test]
    fn failed_stops_are_retried_with_a_doubling_back_off() {
        let m = crate::manifest::parse(
            "cluster: c\nnodes:\n  a: { address: 10.0.0.1 }\n\
             heartbeat: { interval: 100ms, warn_after: 300ms, dead_after: 5s, initial_dead: 5s }\n\
             auth: { key_file: /k }\ngroups:\n  g:\n    nodes: [a]\n    resources:\n\
             \x20     - unit: u.service\n",
        );
        let m = m.manifest.unwrap_or_else(|| panic!("{:?}", m.problems));
        let mut e = Engine::new(Time(0), "a", m, vec![1], 1);
        let mut pending = vec![(0, Input::Probed(Probe::default()))];
        let mut stops = Vec::new();
        for t in (0..30_000).step_by(100) {
            if t == 8000 {
                let standby = Command::Standby {
                    node: "a".into(),
                    on: true,
                };
                pending.push((t, Input::Control(standby)));
            }
            let mut inputs: Vec<Input> = Vec::new();
            pending.retain(|(at, i)| {
                (*at > t) || {
                    inputs.push(i.clone());
                    false
                }
            });
            inputs.push(Input::Tick);
            for input in inputs {
                for a in e.handle(Time(t), input) {
                    let (res, op, ok, after) = match a {
                        Action::StartUnit { res, .. } => (res, Op::Start, true, 0),
                        Action::StopUnit { res, .. } => {
                            stops.push(t);
                            (res, Op::Stop, false, 500)
                        }
                        _ => continue,
                    };
                    let detail = String::new();
                    pending.push((
                        t + after,
                        Input::Done {
                            res,
                            op,
                            ok,
                            detail,
                        },
                    ));
                }
                let next = e.next_deadline();
                assert!(next.is_none_or(|n| n > Time(t)), "deadline {next:?} at {t}");
            }
        }
        let gaps: Vec<u64> = stops.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps[..3], [1500, 2500, 4500], "stops at {stops:?}");
    }
}
