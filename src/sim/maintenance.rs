//! The operator's maintenance in the simulated world: `maintenance on` (of the cluster or of
//! one group) on a node, later `off`, while every other fault goes on (agents stopped and
//! restarted, as an upgrade does; units dying, copies started by hand).
//!
//! What the invariants mean here: while a group is in maintenance the operator owns its
//! safety (the agents start, stop and move nothing, so a copy started by hand on a second node
//! runs on); the engines' side of the promise is that they add nothing, and that once
//! maintenance is off the group comes back to one copy. So a group is exempt from the
//! "never active twice" and "strays are stopped in time" checks while the operator or any
//! engine has it in maintenance, and from "never active twice" afterwards until it is down to
//! at most one copy; a stray copy left over counts from the end of maintenance. After `off`
//! and the heal, every group runs on exactly one node, as always.
//!
//! The operator turns maintenance off on a node that has it on (its `off` is then newer than
//! the `on`: a Lamport stamp), again every interval until no running agent has it on (an `off`
//! given to a node that crashes before telling anyone is lost), and at the heal.

use std::collections::BTreeMap;

use super::faults::{Fault, FaultKind};
use super::{Ev, World};
use crate::engine::{Command, Input};

/// Where a group stands with respect to maintenance, for the invariants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Exempt {
    /// In maintenance (the operator's or some engine's word).
    Under,
    /// Out of it, but copies it left may still run twice.
    Draining,
}

impl World {
    /// `maintenance on` for the fault's group (or the cluster), and `off` later.
    pub(super) fn maintenance_on(&mut self, f: &Fault, node: &str) {
        if self.nodes[node].engine.is_none() {
            return;
        }
        self.report.fault(self.now, f, &[]);
        let group = f.group.clone();
        self.maintenance.insert(group.clone());
        let on = Command::Maintenance { group, on: true };
        self.input(node, Input::Control(on), false);
        let later = self.now.plus(f.lasts);
        self.at(later, off_event(later, f.group.clone()));
        // The upgrade: an agent (perhaps the holder's) is stopped and started again inside it.
        if self.rng.chance(0.5) {
            let names: Vec<String> = self.nodes.keys().cloned().collect();
            let who = self.rng.pick(&names).clone();
            let at = self.now.plus(f.lasts / 4);
            let down = self
                .rng
                .range(100, self.m.heartbeat.dead_after.as_millis() as u64 * 2);
            let stop = Fault {
                at,
                kind: FaultKind::Stop,
                node: Some(who),
                lasts: std::time::Duration::from_millis(down),
                ..Fault::default()
            };
            self.at(at, Ev::Fault(stop));
        }
    }

    /// `maintenance off` for `group` (or the cluster), given on a running node that has it on;
    /// again an interval later while any running node still has it on.
    pub(super) fn maintenance_off(&mut self, f: &Fault) {
        let scope = f.group.as_deref();
        let on: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.engine.as_ref().is_some_and(|e| e.maintenance_of(scope)))
            .map(|(k, _)| k.clone())
            .collect();
        if let Some(node) = on.first() {
            let off = Command::Maintenance {
                group: f.group.clone(),
                on: false,
            };
            self.input(node, Input::Control(off), false);
        }
        // The operator's word is off from the first `off`; the engines' is checked apart.
        self.maintenance.remove(&f.group);
        if !on.is_empty() {
            let again = self.now.plus(self.m.heartbeat.interval);
            self.at(again, off_event(again, f.group.clone()));
        }
    }

    /// At the heal: maintenance off for every scope any running node still has on.
    pub(super) fn maintenance_heal(&mut self) {
        let mut scopes: Vec<Option<String>> = vec![None];
        scopes.extend(self.m.groups.keys().cloned().map(Some));
        for group in scopes {
            let now = self.now;
            self.maintenance_off(&Fault {
                at: now,
                kind: FaultKind::MaintenanceOff,
                group,
                ..Fault::default()
            });
        }
    }

    /// Updates which groups are exempt, given who has anything of each group now; a group
    /// leaving maintenance has its stray copies counted from now.
    pub(super) fn update_exempt(&mut self, actives: &BTreeMap<String, Vec<String>>) {
        let groups: Vec<String> = self.m.groups.keys().cloned().collect();
        for g in groups {
            let under = self.maintenance.contains(&None)
                || self.maintenance.contains(&Some(g.clone()))
                || self
                    .nodes
                    .values()
                    .any(|n| n.engine.as_ref().is_some_and(|e| e.in_maintenance(&g)));
            let was = self.exempt.get(&g).copied();
            match (under, was) {
                (true, _) => {
                    self.exempt.insert(g, Exempt::Under);
                }
                (false, Some(Exempt::Under)) => {
                    let now = self.now;
                    for n in self.nodes.values_mut() {
                        for (k, since) in n.stray_since.iter_mut() {
                            if k.0 == g && *since != crate::engine::Time(u64::MAX) {
                                *since = now;
                            }
                        }
                    }
                    self.exempt.insert(g, Exempt::Draining);
                }
                (false, Some(Exempt::Draining)) => {
                    if actives.get(&g).is_none_or(|a| a.len() <= 1) {
                        self.exempt.remove(&g);
                    }
                }
                (false, None) => {}
            }
        }
    }

    /// Whether `group`'s copies are the operator's to answer for now.
    pub(super) fn exempt(&self, group: &str) -> Option<Exempt> {
        self.exempt.get(group).copied()
    }
}

fn off_event(at: crate::engine::Time, group: Option<String>) -> Ev {
    Ev::Fault(Fault {
        at,
        kind: FaultKind::MaintenanceOff,
        group,
        ..Fault::default()
    })
}
