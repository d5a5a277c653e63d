//! Health checks in the simulated world: a check's run answers after a few milliseconds,
//! failing while its unit is down or while the fault `check-fails` holds on that node (the
//! unit runs but does not serve). The fault heals on its own after a while, or, half the time,
//! when the unit is (re)started, as a restart in place fixes a wedged service. And the carrier of
//! a tracked interface (`track_interface`), lost on a node until the fault heals.

use std::time::Duration;

use super::faults::Fault;
use super::{Ev, World};
use crate::engine::{Input, ResourceRef};
use crate::manifest::model::Check;

impl World {
    /// Runs a check of `node`'s agent: its result comes back within the check's timeout.
    pub(super) fn run_check(&mut self, node: &str, res: ResourceRef, seq: u64, check: &Check) {
        let n = &self.nodes[node];
        let key = (res.group.clone(), res.index);
        let ok = n.up.contains(&key) && !n.check_failing.contains_key(&key);
        let generation = n.generation;
        let took = self.rng.range(1, check.timeout.as_millis().max(1) as u64);
        let at = self.now.plus(Duration::from_millis(took));
        let detail = if ok {
            String::new()
        } else {
            "simulated check failure".into()
        };
        let input = Input::Checked {
            res,
            seq,
            ok,
            detail,
        };
        let to = node.to_owned();
        self.at(
            at,
            Ev::Input {
                to,
                generation,
                input,
            },
        );
    }

    /// The check of a unit of `f.group` starts failing on the node running it.
    pub(super) fn check_fails(&mut self, f: &Fault) {
        let group = f.group.clone().unwrap_or_default();
        let Some(def) = self.m.groups.get(&group) else {
            return;
        };
        let Some(i) = def.resources.iter().position(|r| r.check.is_some()) else {
            return;
        };
        let key = (group.clone(), i);
        let Some(holder) = self.holder_of(&key) else {
            return;
        };
        self.report.fault(
            self.now,
            &Fault {
                node: Some(holder.clone()),
                ..f.clone()
            },
            &[],
        );
        self.changed = true;
        let heals_on_restart = self.rng.chance(0.5);
        let n = self.nodes.get_mut(&holder).expect("known node");
        n.check_failing.insert(key, heals_on_restart);
        let later = self.now.plus(f.lasts);
        let healed = Fault {
            node: Some(holder),
            group: Some(group),
            resource: i,
            ..f.clone()
        };
        self.heal_later(later, "check", &healed);
    }
}

impl World {
    /// A tracked interface of `f.node` loses its carrier, until the fault heals.
    pub(super) fn carrier_down(&mut self, f: &Fault) {
        let node = f.node.clone().unwrap_or_default();
        let Some(interface) = self.m.tracked_interfaces().into_iter().next() else {
            return;
        };
        if !self.nodes[&node].powered || self.nodes[&node].carrier_down.contains(&interface) {
            return;
        }
        self.report.fault(self.now, f, &[]);
        self.changed = true;
        let n = self.nodes.get_mut(&node).expect("known node");
        n.carrier_down.insert(interface.clone());
        self.carrier_seen(&node, &interface, false);
        self.heal_later(self.now.plus(f.lasts), &format!("carrier {interface}"), f);
    }

    /// The carrier of `interface` on `node` is back.
    pub(super) fn carrier_up(&mut self, node: &str, interface: &str) {
        if let Some(n) = self.nodes.get_mut(node)
            && n.carrier_down.remove(interface)
        {
            self.changed = true;
            self.carrier_seen(node, interface, true);
        }
    }

    /// Tells `node`'s agent what its carrier watch reads now.
    pub(super) fn carrier_seen(&mut self, node: &str, interface: &str, up: bool) {
        let input = Input::Carrier {
            interface: interface.to_owned(),
            up,
        };
        self.input(node, input, false);
    }
}
