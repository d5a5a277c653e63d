//! Taking over what an earlier run of this node left running (a killed agent that systemd
//! restarted), as Pacemaker's probe does, instead of stopping and starting it again.
//!
//! The driver reports what it found up with [`Input::Found`](super::Input::Found) before the
//! first datagram. A group found whole is advertised as running at once, so no peer claims it,
//! and is kept through a short grace while this run re-establishes quorum; a group found in
//! part was being started or stopped when the agent died, and is released (peers wait for
//! that, then claim it as usual). After the grace the usual rules apply.
//!
//! The grace ends at the first quorum, or half the watchdog bound after start-up. Peers answer
//! a restarted node at once, so quorum normally returns within a round trip. It is short
//! because a killed agent is, to its peers, a frozen one: the restart and the grace share the
//! time a frozen agent gets before its watchdog must end it. (A node that is cut off from a
//! peer when it dies cannot let go while it is down at all: only fencing covers that.)

use std::collections::BTreeSet;

use super::election::{self, ClusterView};
use super::runner::Phase;
use super::{Action, Engine, EventKind, ResourceRef, Time};
use crate::heartbeat::wire::GroupState;
use crate::manifest::model::{Group, ResourceKind};

impl Engine {
    /// Takes the resources found up here into the groups' runners.
    pub(super) fn found(&mut self, now: Time, found: &[ResourceRef], out: &mut Vec<Action>) {
        let groups: BTreeSet<&str> = found.iter().map(|f| f.group.as_str()).collect();
        for name in groups {
            let Some(g) = self.m.groups.get(name).cloned() else {
                continue;
            };
            let up: Vec<usize> = found
                .iter()
                .filter(|f| f.group == name && f.resource < g.resources.len())
                .map(|f| f.resource)
                .collect();
            let Some(r) = self
                .runners
                .get_mut(name)
                .filter(|r| r.phase == Phase::Idle)
            else {
                continue;
            };
            let (actions, whole) = r.adopt(name, &g, &up);
            out.extend(actions);
            if whole {
                self.adopted.insert(name.to_owned());
                self.refresh_adopted(now, name, &g);
                out.push(self.event(
                    EventKind::Acquire,
                    Some(name),
                    "found running here, left by an earlier run: adopted".into(),
                ));
            } else {
                out.push(self.event(
                    EventKind::Release,
                    Some(name),
                    format!(
                        "found partly up here ({} of {} resources), left by an earlier run: stopping it",
                        up.len(),
                        g.resources.len()
                    ),
                ));
            }
        }
        self.next_send = self.next_send.min(now);
    }

    /// Resumes the periodic announcements of the adopted group's VIPs.
    fn refresh_adopted(&mut self, now: Time, name: &str, g: &Group) {
        for (i, res) in g.resources.iter().enumerate() {
            if let ResourceKind::Vip(vip) = &res.kind
                && let Some(every) = vip.announce.refresh
            {
                self.refresh.insert((name.to_owned(), i), now.plus(every));
            }
        }
    }

    /// When the start-up grace of adopted groups ends at the latest.
    pub(super) fn grace_end(&self) -> Time {
        self.booted.plus(self.m.heartbeat.watchdog() / 2)
    }

    /// Ends the grace once quorum is back or its time is up.
    pub(super) fn end_grace(&mut self, now: Time) {
        if self.quorate || now >= self.grace_end() {
            self.adopted.clear();
        }
    }

    /// Whether an adopted group stays here although the owner rule, for want of quorum, says
    /// otherwise: during the grace, if this node would own it with quorum and no other live
    /// node runs or starts it (one that does took it over while this agent was down, under
    /// quorum: its copy stands).
    pub(super) fn keeps_adopted(&self, name: &str, g: &Group, view: &ClusterView) -> bool {
        if self.shutting_down || !self.adopted.contains(name) {
            return false;
        }
        let elsewhere = view.iter().any(|(n, v)| {
            *n != self.me
                && v.alive
                && matches!(
                    v.groups.get(name),
                    Some(GroupState::Starting | GroupState::Running)
                )
        });
        let mut quorate = view.clone();
        if let Some(me) = quorate.get_mut(&self.me) {
            me.quorate = true;
        }
        let owner = election::owner(&self.m, name, g, &quorate, &self.intents);
        !elsewhere && owner.as_deref() == Some(self.me.as_str())
    }
}
