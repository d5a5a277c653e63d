//! Taking over what an earlier run of this node left running (a killed agent that systemd
//! restarted), as Pacemaker's probe does, instead of stopping and starting it again.
//!
//! The driver reports what it found with [`Input::Probed`](super::Input::Probed) before the
//! first datagram: the state of every managed unit, the VIPs present here, and the earlier
//! run's last checkpoint (what it ran, said with every heartbeat it sent, and how long ago). A
//! group found whole is adopted only if the earlier run still ran it at its last heartbeat and
//! that heartbeat is recent: within `dead_after - interval` (an interval for this run's first
//! heartbeat to arrive), no peer can have declared this node dead, and none takes over a group
//! from a node it does not count dead. Then it is advertised as running at once, so no peer
//! claims it, and kept through a short grace while this run re-establishes quorum. Anything
//! else found up is stopped: a group found in part (the agent died starting or stopping it),
//! one the earlier run no longer held (it was releasing it), and everything after a long
//! absence (a paused machine, an agent down for long: peers may run it now).
//!
//! The earlier run also said how much longer its quorum stood on the acknowledgements it had
//! (peers count this node's silence from its last datagram they heard, which can be well
//! before its last heartbeat when it was already cut off): a group is not adopted once that
//! has run out, and the grace never outlasts it.
//!
//! The grace ends once quorum is back and the first ping round has reported (until then this
//! node's connectivity is unknown, not zero), or half the watchdog bound after start-up. Peers
//! answer a restarted node at once and the driver pings at start-up, so that normally takes a
//! round trip. It is short because a killed agent is, to its peers, a frozen one: the restart
//! and the grace share the time a frozen agent gets before its watchdog must end it. (A node
//! cut off from a peer when it dies cannot let go while it is down at all: only fencing covers
//! that.)

use std::collections::BTreeSet;
use std::time::Duration;

use super::election::{self, ClusterView};
use super::runner::Phase;
use super::{Action, Engine, EventKind, Previous, Probe, ResourceRef, Time};
use crate::manifest::model::{Group, ResourceKind};
use crate::protocol::wire::GroupState;

impl Engine {
    /// Takes what the start-up probe found into the groups' runners: a resource is up when its
    /// unit may run (anything but `inactive` or `failed`: a unit still starting or stopping may
    /// hold what it guards) or its VIP is on its interface.
    pub(super) fn probed(&mut self, now: Time, probe: Probe, out: &mut Vec<Action>) {
        self.members.restore(&probe.peers);
        if let Some(p) = &probe.previous {
            self.restore_maintenance(&p.maintenance);
        }
        for a in probe.addrs.iter().filter(|a| a.present) {
            self.vips_seen.insert((a.addr, a.interface.clone()));
        }
        for seen in probe.units {
            self.units_seen.insert(seen.unit.clone(), seen);
        }
        let mut found = Vec::new();
        for (name, g) in &self.m.groups {
            for (i, r) in g.resources.iter().enumerate() {
                let up = match &r.kind {
                    ResourceKind::Unit(u) => {
                        self.units_seen.get(u).is_some_and(|s| s.active.running())
                    }
                    ResourceKind::Vip(v) => probe
                        .addrs
                        .iter()
                        .any(|a| a.present && a.addr == v.address && a.interface == v.interface),
                };
                if up {
                    found.push(ResourceRef::new(name, i));
                }
            }
        }
        self.proof_lapses = probe.previous.as_ref().and_then(|p| {
            p.stands_ms
                .map(|s| now.plus(Duration::from_millis(s.saturating_sub(p.ago_ms))))
        });
        self.found(now, &found, probe.previous.as_ref(), out);
    }

    /// Whether the earlier run held `group` lately enough for this one to adopt it.
    fn adoptable(&self, group: &str, previous: Option<&Previous>) -> Option<String> {
        let t = &self.m.heartbeat;
        let bound = t.dead_after.saturating_sub(t.interval);
        match previous {
            None => Some("no earlier run of this boot said it held it".into()),
            Some(p) if !p.holding.iter().any(|g| g == group) => {
                Some("the earlier run was not running it at its last heartbeat".into())
            }
            Some(p) if p.ago_ms > bound.as_millis() as u64 => Some(format!(
                "the earlier run's last heartbeat was {} ms ago, more than dead_after - interval ({} ms): peers may run it now",
                p.ago_ms,
                bound.as_millis()
            )),
            Some(Previous {
                ago_ms,
                stands_ms: Some(stands),
                ..
            }) if ago_ms >= stands => Some(format!(
                "the earlier run's quorum rested on acknowledgements that ran out {} ms ago: peers may run it now",
                ago_ms - stands
            )),
            Some(_) => None,
        }
    }

    /// Takes the resources found up here into the groups' runners.
    fn found(
        &mut self,
        now: Time,
        found: &[ResourceRef],
        previous: Option<&Previous>,
        out: &mut Vec<Action>,
    ) {
        let groups: BTreeSet<&str> = found.iter().map(|f| f.group.as_str()).collect();
        for name in groups {
            let Some(g) = self.m.groups.get(name).cloned() else {
                continue;
            };
            let mut up: Vec<usize> = found
                .iter()
                .filter(|f| f.group == name && f.index < g.resources.len())
                .map(|f| f.index)
                .collect();
            let maintained = self.maintained(name);
            // In maintenance what is found is left alone: a whole group is adopted whatever
            // its age, a partial one is left as it is (`maintenance.rs` reconciles it later),
            // and a copy no earlier run held is no stray to stop yet.
            if !maintained && !previous.is_some_and(|p| p.holding.iter().any(|h| h == name)) {
                self.found_strays(name, &g, &mut up, out);
                if up.is_empty() {
                    continue;
                }
            }
            if maintained && up.len() < g.resources.len() {
                out.push(self.event(
                    EventKind::Operator,
                    Some(name),
                    format!(
                        "{} of {} resources found up here in maintenance: left alone",
                        up.len(),
                        g.resources.len()
                    ),
                ));
                continue;
            }
            let refused = self.adoptable(name, previous).filter(|_| !maintained);
            let Some(r) = self
                .runners
                .get_mut(name)
                .filter(|r| r.phase == Phase::Idle)
            else {
                continue;
            };
            let (actions, whole) = r.adopt(name, &g, &up, refused.is_none());
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
                let why = match refused {
                    Some(why) if up.len() == g.resources.len() => why,
                    _ => format!("{} of {} resources are up", up.len(), g.resources.len()),
                };
                out.push(self.event(
                    EventKind::Release,
                    Some(name),
                    format!("found up here, left by an earlier run, but {why}: stopping it"),
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
                self.refresh
                    .insert(ResourceRef::new(name, i), now.plus(every));
            }
        }
    }

    /// When the start-up grace of adopted groups ends at the latest: never after the earlier
    /// run's quorum would have lapsed, since peers count from its last acknowledged datagram.
    pub(super) fn grace_end(&self) -> Time {
        let end = self.booted.plus(self.m.heartbeat.watchdog() / 2);
        self.proof_lapses.map_or(end, |t| end.min(t))
    }

    /// Ends the grace once quorum and connectivity are known, or its time is up.
    pub(super) fn end_grace(&mut self, now: Time) {
        let pinged = self.pinged || self.m.connectivity.ping.is_empty();
        if (self.quorate && pinged) || now >= self.grace_end() {
            self.adopted.clear();
        }
    }

    /// Whether an adopted group, still in its grace, runs or starts on another live node too:
    /// that node took it over while this agent was down, under quorum, so its copy stands
    /// and this one goes, whatever the owner rule would pick.
    pub(super) fn adopted_elsewhere(&self, name: &str, view: &ClusterView) -> bool {
        self.adopted.contains(name)
            && view.iter().any(|(n, v)| {
                *n != self.me
                    && v.alive
                    && matches!(
                        v.groups.get(name),
                        Some(GroupState::Starting | GroupState::Running)
                    )
            })
    }

    /// Whether an adopted group stays here although the owner rule, for want of quorum (or of
    /// a first ping round), says otherwise: during the grace, if this node would own it then.
    pub(super) fn keeps_adopted(&self, name: &str, g: &Group, view: &ClusterView) -> bool {
        if self.shutting_down || !self.adopted.contains(name) {
            return false;
        }
        // As it would be with quorum and, before the first ping round, the best connectivity.
        let best = view
            .values()
            .filter(|v| v.alive)
            .map(|v| v.connectivity)
            .max()
            .unwrap_or(0);
        let mut assumed = view.clone();
        if let Some(me) = assumed.get_mut(&self.me) {
            me.quorate = true;
            if !self.pinged {
                me.connectivity = best;
            }
        }
        let owner = election::owner(&self.m, name, g, &assumed, &self.intents);
        owner.as_deref() == Some(self.me.as_str())
    }
}
