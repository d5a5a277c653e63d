//! `track_interface` (keepalived's): a VIP whose interface has lost its carrier makes this node
//! ineligible for the VIP's group while it lasts. The node advertises the group as failed here
//! (as after a failure, so peers count it out without a new wire field), and a group running
//! here is stopped as failed, so a peer takes it over. The driver reports each tracked
//! interface's carrier ([`Input::Carrier`](super::Input::Carrier)); the rule is here.

use super::runner::Phase;
use super::{Action, Engine, EventKind, Time};
use crate::manifest::model::ResourceKind;

impl Engine {
    /// The carrier of `interface` came (`up`) or went.
    pub(super) fn carrier(&mut self, interface: &str, up: bool) {
        if up {
            self.carrier_down.remove(interface);
        } else if self.m.tracked_interfaces().contains(interface) {
            self.carrier_down.insert(interface.to_owned());
        }
    }

    /// The groups this node may not run for want of a tracked interface's carrier, with the
    /// interface.
    pub(super) fn carrier_lost(&self) -> Vec<(String, String)> {
        if self.carrier_down.is_empty() {
            return Vec::new();
        }
        self.m
            .groups
            .iter()
            .filter_map(|(name, g)| {
                g.resources.iter().find_map(|r| match &r.kind {
                    ResourceKind::Vip(v)
                        if v.track_interface && self.carrier_down.contains(&v.interface) =>
                    {
                        Some((name.clone(), v.interface.clone()))
                    }
                    _ => None,
                })
            })
            .collect()
    }

    /// Stops, as failed, each group running here whose tracked interface lost its carrier (not
    /// in maintenance, which leaves everything as it is).
    pub(super) fn track_due(&mut self, now: Time, out: &mut Vec<Action>) {
        for (group, interface) in self.carrier_lost() {
            if self.maintained(&group) || self.retiring.contains_key(&group) {
                continue;
            }
            let Some(g) = self.shared.get(&group).cloned() else {
                continue;
            };
            let Some(runner) = self.runners.get_mut(&group) else {
                continue;
            };
            if runner.phase != Phase::Running {
                continue;
            }
            let (actions, outcome) = runner.fail(&group, &g);
            out.push(self.event(
                EventKind::ResourceFailed,
                Some(&group),
                format!(
                    "interface {interface} lost its carrier (track_interface): the group moves"
                ),
            ));
            out.extend(actions);
            self.outcome(now, &group, outcome, out);
        }
    }
}
