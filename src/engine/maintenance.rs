//! Maintenance (`haagentctl maintenance on|off [GROUP]`), like Pacemaker's `maintenance-mode`:
//! while a group is in maintenance this node starts, stops and moves nothing of it, and what
//! its resources do (a unit stopped or restarted by hand, a VIP removed) is recorded, not acted
//! on; heartbeats go on, and a start or stop already under way runs to its end. An agent that
//! stops in maintenance leaves its groups running and says no goodbye; one that starts in
//! maintenance (it reads the intents from its checkpoint, before any peer speaks) adopts what
//! it finds, whole or not, and leaves it alone.
//!
//! When maintenance ends, each node reconciles what it observes with what it runs:
//! - a group running here whose resources are all up stays (nothing moves);
//! - a resource of it that went down meanwhile is lost now (a VIP is put back, a unit fails the
//!   group as usual);
//! - a group found whole here while no other node runs it is adopted, then the ownership rule
//!   applies as to any running group (it may move to its preferred node);
//! - anything else up here (a partial group, a copy while another node runs the group) is a
//!   stray copy and is stopped.
//!
//! During maintenance the operator owns safety: a copy started by hand on a second node runs
//! until maintenance ends, when the rules above leave one.

use std::collections::BTreeSet;

use super::runner::{Phase, Res};
use super::{Action, Engine, EventKind, ResourceRef, Time};
use crate::manifest::model::ResourceKind;
use crate::protocol::wire::{GroupState, Intent};

impl Engine {
    /// Why `maintenance on` is refused now, if it is: heartbeats go in a format older than 4
    /// (a live node of an older release accepts nothing newer), which carries no maintenance.
    /// The other nodes would not learn of it, and an agent stopped in maintenance here would
    /// leave its groups running for them to start a second copy.
    pub fn refuses_maintenance(&self) -> Option<String> {
        let format = self.version();
        if format >= 4 {
            return None;
        }
        let older: Vec<&String> = self
            .members
            .peers()
            .iter()
            .filter(|(_, p)| p.state.alive())
            .filter(|(_, p)| p.view.as_ref().is_some_and(|v| v.versions & 1 << 4 == 0))
            .map(|(n, _)| n)
            .collect();
        Some(format!(
            "maintenance needs wire format 4 on every live node, but heartbeats go in format {format} for now (an older release on {}): finish the rolling upgrade first, moving groups off a node with `haagentctl failover` before upgrading it",
            crate::text::quoted_list(&older)
        ))
    }

    /// Whether `group` is in maintenance, by the intents this node knows.
    pub(super) fn maintained(&self, group: &str) -> bool {
        self.intents.maintenance(group)
    }

    /// Takes the maintenance intents of the earlier run's checkpoint, so that a restarted agent
    /// leaves alone what it finds even before a peer tells it of maintenance.
    pub(super) fn restore_maintenance(&mut self, intents: &[Intent]) {
        for i in intents.iter().take(crate::manifest::limits::MAX_GROUPS + 1) {
            if self.valid_intent(i) {
                self.clock = self.clock.max(i.stamp.clock);
                self.intents.merge(i);
            }
        }
    }

    /// Notes groups entering maintenance and reconciles those leaving it; before every
    /// decision.
    pub(super) fn sync_maintenance(&mut self, now: Time, out: &mut Vec<Action>) {
        let now_in: BTreeSet<String> = self
            .m
            .groups
            .keys()
            .filter(|g| self.maintained(g))
            .cloned()
            .collect();
        if now_in == self.in_maintenance {
            return;
        }
        let was = std::mem::replace(&mut self.in_maintenance, now_in.clone());
        for g in now_in.difference(&was) {
            self.claims.remove(g);
            out.push(self.event(
                EventKind::Operator,
                Some(g),
                "maintenance on: nothing of it is started, stopped or moved".into(),
            ));
        }
        for g in was.difference(&now_in) {
            if self.m.groups.contains_key(g) {
                out.push(self.event(
                    EventKind::Operator,
                    Some(g),
                    "maintenance off: reconciling what runs here".into(),
                ));
                self.reconcile(now, g, out);
            }
        }
    }

    /// Which resources of `group` are up here, by what systemd and the address monitor last
    /// said (not by what this node did).
    pub(super) fn observed_up(&self, group: &str) -> Vec<bool> {
        let Some(g) = self.m.groups.get(group) else {
            return Vec::new();
        };
        g.resources
            .iter()
            .map(|r| match &r.kind {
                ResourceKind::Unit(u) => self.units_seen.get(u).is_some_and(|s| s.active.running()),
                ResourceKind::Vip(v) => self.vips_seen.contains(&(v.address, v.interface.clone())),
            })
            .collect()
    }

    /// Puts `group` right as maintenance ends (the module comment has the rules).
    fn reconcile(&mut self, now: Time, name: &str, out: &mut Vec<Action>) {
        let up = self.observed_up(name);
        let (Some(g), Some(r)) = (self.shared.get(name).cloned(), self.runners.get(name)) else {
            return;
        };
        match r.phase {
            Phase::Running | Phase::Starting => {
                let gone: Vec<usize> = (0..up.len())
                    .filter(|i| r.res.get(*i) == Some(&Res::Up) && !up[*i])
                    .collect();
                for i in gone {
                    let detail = format!("{} went down during maintenance", g.resources[i].name);
                    self.lost(now, &ResourceRef::new(name, i), &detail, out);
                }
            }
            Phase::Idle if up.contains(&true) => {
                let found: Vec<usize> = (0..up.len()).filter(|i| up[*i]).collect();
                let whole = found.len() == g.resources.len();
                if whole && !self.busy_elsewhere(name) {
                    if let Some(r) = self.runners.get_mut(name) {
                        r.adopt(name, &g, &found, true);
                    }
                    self.next_send = self.next_send.min(now);
                    out.push(self.event(
                        EventKind::Acquire,
                        Some(name),
                        "running here as maintenance ends, and nowhere else: kept".into(),
                    ));
                    return;
                }
                let why = if whole {
                    "another node runs it"
                } else {
                    "only part of it is up"
                };
                out.push(self.event(
                    EventKind::Stray,
                    Some(name),
                    format!("up here as maintenance ends, but {why}: stopping this copy"),
                ));
                if let Some(r) = self.runners.get_mut(name) {
                    let (actions, outcome) = r.strays(name, &g, &found);
                    out.extend(actions);
                    self.outcome(now, name, outcome, out);
                }
            }
            _ => {}
        }
    }

    /// Whether a live peer runs, starts, stops, claims or is blocked with `group`.
    fn busy_elsewhere(&self, group: &str) -> bool {
        self.view().iter().any(|(n, v)| {
            *n != self.me
                && v.alive
                && v.groups
                    .get(group)
                    .is_some_and(|s| *s != GroupState::Failed)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{Action, Command, Engine, Input, Probe, Time};
    use crate::protocol::wire::{Datagram, Kind, SPOKEN};

    fn engine() -> Engine {
        let text = "cluster: c\nnodes:\n  alpha: { address: 10.0.0.1 }\n  beta: { address: 10.0.0.2 }\n\
             heartbeat: { interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }\n\
             auth: { key_file: /k }\nquorum: { two_node: { tie_breaker: ping } }\n\
             connectivity: { ping: [10.0.0.254] }\ngroups:\n  web:\n    nodes: [alpha, beta]\n\
             \x20   resources:\n      - unit: app.service\n";
        let r = crate::manifest::parse(text);
        let m = r.manifest.unwrap_or_else(|| panic!("{:?}", r.problems));
        let mut e = Engine::new(Time(0), "alpha", m, vec![1], 1);
        e.handle(Time(0), Input::Probed(Probe::default()));
        e
    }

    fn beta(seq: u64, versions: u8) -> Input {
        let mut d = Datagram::bare(Kind::Heartbeat, "c", "beta", 1, (1 << 32) + seq);
        d.versions = versions;
        Input::Heard {
            link: "link0".into(),
            datagram: d,
        }
    }

    fn on() -> Input {
        Input::Control(Command::Maintenance {
            group: None,
            on: true,
        })
    }

    fn said(out: &[Action]) -> String {
        out.iter()
            .filter_map(|a| match a {
                Action::Log(e) => Some(e.reason.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    // Input: beta speaks format 2 only (0.1.0), `maintenance on`; then beta is upgraded (it
    // accepts formats 2 to 4), `maintenance on` again. Output: the first is refused, naming
    // beta, and nothing is in maintenance; the second is taken.
    #[test]
    fn maintenance_is_refused_while_a_live_node_cannot_hear_of_it() {
        let mut e = engine();
        e.handle(Time(10), beta(1, 1 << 2));
        let why = e.refuses_maintenance().expect("refused");
        assert!(why.contains("format 2") && why.contains("`beta`"), "{why}");
        let out = e.handle(Time(20), on());
        assert!(
            said(&out).contains("command refused: maintenance needs"),
            "{}",
            said(&out)
        );
        assert!(!e.snapshot(Time(20)).maintenance);
        e.handle(Time(30), beta(2, SPOKEN));
        assert_eq!(e.refuses_maintenance(), None);
        let out = e.handle(Time(40), on());
        assert!(!said(&out).contains("refused"), "{}", said(&out));
        assert!(e.snapshot(Time(40)).maintenance);
    }
}
