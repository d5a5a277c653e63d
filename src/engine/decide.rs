//! After every input: quorum, the owner of each group, and what this node does about it.
//!
//! Safety rules, in the order they apply:
//! - a node releases a group whose owner is no longer itself (moved, failed back, standby, no
//!   quorum for a stateful group, shutdown);
//! - quorum counts only peers heard within `warn_after` that acknowledge a recent datagram of
//!   ours, while takeover waits `dead_after`: a node cut off from the majority starts
//!   releasing before the majority may start the group (`quorum.rs` has the margin);
//! - a group found running at start-up is kept through a short grace (`adopt.rs`);
//! - a node acquires only when no live peer still runs, starts or stops the group (handoff: a
//!   planned move has no overlap), after `wait_for_all` for stateful groups, and after fencing a
//!   dead previous holder when fencing is required.

use super::election::{self, ClusterView, NodeView};
use super::membership::PeerState;
use super::runner::{Phase, Res};
use super::{Action, Engine, EventKind, Fence, Kind, Notify, Time};
use crate::manifest::model::{Group, ResourceKind};
use crate::protocol::wire::GroupState;

impl Engine {
    pub(super) fn tick(&mut self, now: Time, out: &mut Vec<Action>) {
        self.failed_until.retain(|_, until| *until > now);
        let events = self.members.tick(now, &self.m.heartbeat);
        if events.iter().any(|e| e.kind == EventKind::PeerDead) {
            // Peers that knew of it only through us learn at once that it is gone.
            self.next_send = self.next_send.min(now);
        }
        out.extend(events.into_iter().map(Action::Log));
        self.update_quorum(now, out);
        self.sync_maintenance(now, out);
        self.track_due(now, out);
        self.note_drift(out);
        self.decide(now, out);
        self.refresh_due(now, out);
        self.retry_due(now, out);
        self.checks_due(now, out);
        if now >= self.next_send && !self.exited {
            self.send(now, Kind::Heartbeat, out);
            self.next_send = now.plus(self.m.heartbeat.interval);
        }
        self.finish_shutdown(now, out);
        // Every change of role, peer or quorum is logged; only then can the status change.
        if self.status.is_empty() || out.iter().any(|a| matches!(a, Action::Log(_))) {
            self.update_status(out);
        }
    }

    /// This node's picture of the cluster, itself included.
    pub(super) fn view(&self) -> ClusterView {
        let mut view = ClusterView::new();
        let mut mine: std::collections::BTreeMap<String, GroupState> = self
            .runners
            .iter()
            .filter_map(|(n, r)| r.advertised().map(|s| (n.clone(), s)))
            .collect();
        for g in self.failed_until.keys() {
            mine.entry(g.clone()).or_insert(GroupState::Failed);
        }
        for (g, _) in self.carrier_lost() {
            mine.entry(g).or_insert(GroupState::Failed);
        }
        let me = NodeView {
            alive: true,
            quorate: self.quorate,
            standby: self.intents.standby(&self.me),
            connectivity: self.connectivity,
            groups: mine,
            differs: Default::default(),
        };
        view.insert(self.me.clone(), me);
        // A peer that another peer vouches for is alive, even if we do not hear it (a one-way
        // or non-transitive cut): it may still run what it ran, so nothing is taken.
        let hb = &self.m.heartbeat;
        for (name, p) in self.members.peers() {
            let v = match &p.view {
                Some(d) => NodeView {
                    alive: p.state.alive() || self.members.vouched(name, self.now, hb),
                    quorate: d.quorate,
                    standby: d.standby || self.intents.standby(name),
                    connectivity: d.connectivity,
                    groups: d.groups.iter().cloned().collect(),
                    differs: self.differing_groups(name),
                },
                None => NodeView::default(),
            };
            view.insert(name.clone(), v);
        }
        view
    }

    fn decide(&mut self, now: Time, out: &mut Vec<Action>) {
        let settled = self.members.settled(now, &self.m.heartbeat);
        if settled && !self.ready {
            self.ready = true;
            out.push(Action::Notify(Notify::Ready));
        }
        let view = self.view();
        let m = std::sync::Arc::clone(&self.m);
        for (name, g) in &m.groups {
            // Maintenance: nothing is started, stopped or moved (`maintenance.rs`).
            if self.maintained(name) {
                continue;
            }
            let owner = if self.shutting_down {
                None
            } else {
                election::owner(&m, name, g, &view, &self.intents)
            };
            let mine = owner.as_deref() == Some(self.me.as_str());
            let phase = self.runners.get(name).map_or(Phase::Idle, |r| r.phase);
            match phase {
                Phase::Starting | Phase::Running
                    if (!mine && !self.keeps_adopted(name, g, &view))
                        || self.adopted_elsewhere(name, &view) =>
                {
                    let reason = if self.adopted_elsewhere(name, &view) {
                        "another node took it over while this agent was down: its copy stands"
                            .to_owned()
                    } else {
                        self.release_reason(name, g, owner.as_deref())
                    };
                    self.adopted.remove(name);
                    out.push(self.event(EventKind::Release, Some(name), reason));
                    if let Some(r) = self.runners.get_mut(name) {
                        let (actions, outcome) = r.stop(name, g);
                        out.extend(actions);
                        self.outcome(now, name, outcome, out);
                    }
                }
                Phase::Idle if mine && settled => self.claim(now, name, g, &view, out),
                Phase::Idle => {
                    self.claims.remove(name);
                }
                _ => {}
            }
        }
        self.end_grace(now);
    }

    /// Claims `name`, then starts it once every live peer has seen the claim and none claims,
    /// runs or stops it: two nodes with briefly different views cannot both start it. Of two
    /// simultaneous claimants the one earlier in the group's `nodes` keeps its claim.
    fn claim(
        &mut self,
        now: Time,
        name: &str,
        g: &Group,
        view: &ClusterView,
        out: &mut Vec<Action>,
    ) {
        if !self.clear_to_acquire(now, name, g, view, out) {
            self.claims.remove(name);
            return;
        }
        let claim = match self.claims.get(name) {
            Some(&claim) => claim,
            None => {
                // The next datagram carries the claim; send it now rather than at the next
                // interval.
                self.claims.insert(name.to_owned(), self.seq + 1);
                self.next_send = now;
                self.seq + 1
            }
        };
        let rank = |n: &str| g.nodes.iter().position(|x| x == n).unwrap_or(usize::MAX);
        let mut acked = true;
        for (peer, p) in self.members.peers() {
            // Peers alive only by hearsay must ack too: their own word is the one that counts.
            if !view.get(peer).is_some_and(|v| v.alive) {
                continue;
            }
            let Some(d) = p.view.as_ref().filter(|_| p.state.alive()) else {
                return;
            };
            if d.groups
                .iter()
                .any(|(n, s)| n == name && *s == GroupState::Claiming)
                && rank(peer) < rank(&self.me)
            {
                self.claims.remove(name);
                return;
            }
            // Only this run's sequence numbers count: an acknowledgement of an earlier run
            // (whose generation may have been higher: a lost state directory) proves nothing.
            let heard = d
                .seen
                .iter()
                .any(|(n, seq)| *n == self.me && *seq >= claim && *seq <= self.seq);
            let busy = d
                .groups
                .iter()
                .any(|(n, s)| n == name && *s != GroupState::Failed);
            acked &= heard && !busy;
        }
        if acked {
            self.claims.remove(name);
            let reason = self.acquire_reason(name, view);
            out.push(self.event(EventKind::Acquire, Some(name), reason));
            if let Some(r) = self.runners.get_mut(name) {
                out.extend(r.start(name, g));
            }
        }
    }

    /// Whether nothing stands in the way of starting `name` here.
    fn clear_to_acquire(
        &mut self,
        now: Time,
        name: &str,
        g: &Group,
        view: &ClusterView,
        out: &mut Vec<Action>,
    ) -> bool {
        let busy_elsewhere = view.iter().any(|(n, v)| {
            *n != self.me
                && v.alive
                && matches!(
                    v.groups.get(name),
                    Some(
                        GroupState::Starting
                            | GroupState::Running
                            | GroupState::Stopping
                            | GroupState::Blocked
                    )
                )
        });
        // A reload changed the group and its old copy is still stopping here: the new one
        // starts once it is down.
        if busy_elsewhere || self.retiring.contains_key(name) {
            return false;
        }
        if !self.clear_of_blocks(name, g, out) {
            return false;
        }
        if g.stateful
            && self.m.quorum.wait_for_all
            && !self.wfa_override
            && !self
                .members
                .peers()
                .keys()
                .all(|p| self.in_touch_once.contains(p))
        {
            return false;
        }
        if !g.stateful {
            return true;
        }
        // A peer we do not hear may have held quorum on its own until we gained it, and may
        // have started the group meanwhile (a partition that healed as it froze, say). Unless
        // every peer is heard, wait until such a peer must have released it or been killed by
        // its watchdog: `dead_after` of continuous quorum.
        // A peer that said goodbye released everything and rejoins through claims.
        let all_heard = self
            .members
            .peers()
            .values()
            .all(|p| p.state.alive() || self.away(now, p));
        let since = self.quorate_since.unwrap_or(now);
        if self.m.nodes.len() > 2 && !all_heard && now.since(since) < self.m.heartbeat.dead_after {
            return false;
        }
        if self.m.fencing_required {
            // Any node of the group that vanished without saying goodbye may still run it,
            // whatever it last said: fence it first (Pacemaker fences unclean nodes likewise).
            let unclean: Vec<String> = g
                .nodes
                .iter()
                .filter(|n| {
                    **n != self.me
                        && !view.get(*n).is_some_and(|v| v.alive)
                        && self.members.state(n) != PeerState::Left
                })
                .cloned()
                .collect();
            return self.fence_holders(name, unclean, out);
        }
        true
    }

    /// Fences each of `nodes` (once per disappearance); true once all are off.
    pub(super) fn fence_holders(
        &mut self,
        name: &str,
        holders: Vec<String>,
        out: &mut Vec<Action>,
    ) -> bool {
        let mut clear = true;
        for peer in holders {
            match self.fences.get(&peer) {
                Some(Fence::Done) => {}
                Some(Fence::Pending) => clear = false,
                Some(Fence::Failed { retry_at }) if *retry_at > self.now => clear = false,
                Some(Fence::Failed { .. }) | None => {
                    clear = false;
                    if let Some(unit) = self.m.nodes.get(&peer).and_then(|n| n.fence.clone()) {
                        self.fences.insert(peer.clone(), Fence::Pending);
                        out.push(self.event(
                            EventKind::Fence,
                            Some(name),
                            format!("fencing {peer} with {unit} before taking over"),
                        ));
                        out.push(Action::Fence { node: peer, unit });
                    }
                }
            }
        }
        clear
    }

    fn acquire_reason(&self, name: &str, view: &ClusterView) -> String {
        if self.intents.moved_to(name) == Some(self.me.as_str()) {
            return "moved here by an operator".into();
        }
        let previous = self.members.peers().iter().find(|(_, p)| {
            p.view
                .as_ref()
                .is_some_and(|d| d.groups.iter().any(|(g, _)| g == name))
        });
        match previous {
            Some((peer, p)) if !p.state.alive() => {
                format!("taking over from {peer} ({:?})", p.state).to_lowercase()
            }
            Some((peer, _)) => format!("{peer} released it"),
            None if view.len() == 1 => "single node".into(),
            None => "this node is first in preference among eligible nodes".into(),
        }
    }

    fn release_reason(&self, name: &str, g: &Group, owner: Option<&str>) -> String {
        if self.shutting_down {
            return "shutting down".into();
        }
        if self.intents.standby(&self.me) {
            return "this node is in standby".into();
        }
        if (g.stateful || g.release_on_quorum_loss) && !self.quorate {
            return "quorum lost".into();
        }
        match owner {
            Some(o) if self.intents.moved_to(name) == Some(o) => {
                format!("moved to {o} by an operator")
            }
            Some(o) => format!("{o} is preferred and eligible"),
            None => "no longer eligible here".into(),
        }
    }

    fn refresh_due(&mut self, now: Time, out: &mut Vec<Action>) {
        let due = self.refresh.due(now);
        for res in due {
            // Only a group that runs here is announced: one being released (a pause, a move)
            // must not point clients back here.
            let held = self.runners.get(&res.group).is_some_and(|r| {
                matches!(r.phase, Phase::Running | Phase::Starting)
                    && r.res.get(res.index) == Some(&Res::Up)
            });
            let vip = self
                .m
                .groups
                .get(&res.group)
                .and_then(|g| g.resources.get(res.index))
                .and_then(|r| match &r.kind {
                    ResourceKind::Vip(v) => Some(v.clone()),
                    ResourceKind::Unit(_) => None,
                });
            match (held, vip) {
                (true, Some(vip)) => {
                    let every = vip.announce.refresh.unwrap_or(self.m.heartbeat.dead_after);
                    self.refresh.insert(res.clone(), now.plus(every));
                    out.push(Action::Announce { res, vip });
                }
                _ => {
                    self.refresh.remove(&res);
                }
            }
        }
    }

    fn finish_shutdown(&mut self, now: Time, out: &mut Vec<Action>) {
        // A group in maintenance is left as it is: running, it stays running after the exit.
        let settled = |n: &str, p: Phase| {
            matches!(p, Phase::Idle | Phase::Blocked { .. })
                || (self.maintained(n) && !matches!(p, Phase::Starting | Phase::Stopping { .. }))
        };
        let done = self.runners.iter().all(|(n, r)| settled(n, r.phase))
            && self.retiring.iter().all(|(n, (_, r))| settled(n, r.phase));
        if !self.shutting_down || !done || self.exited {
            return;
        }
        let (left, blocked): (Vec<&String>, Vec<&String>) = self
            .runners
            .iter()
            .chain(self.retiring.iter().map(|(n, (_, r))| (n, r)))
            .filter(|(_, r)| r.phase != Phase::Idle)
            .map(|(n, _)| n)
            .partition(|n| self.maintained(n));
        if !left.is_empty() {
            // No goodbye either: peers must not count these groups stopped.
            let names = crate::text::quoted_list(&left);
            out.push(self.event(
                EventKind::Release,
                None,
                format!("exiting in maintenance: {names} left running, untouched"),
            ));
        }
        if blocked.is_empty() && left.is_empty() {
            // Peers take over at once instead of waiting for dead_after.
            self.send(now, Kind::Leaving, out);
        } else if blocked.is_empty() {
            self.send(now, Kind::Heartbeat, out);
        } else {
            // Not a goodbye: peers remember the groups blocked here and start none of them
            // until this node is back, fenced, or unblocked by an operator.
            let names = crate::text::quoted_list(&blocked);
            out.push(self.event(
                EventKind::Release,
                None,
                format!(
                    "exiting with {names} blocked: no other node starts them until they are stopped"
                ),
            ));
            self.send(now, Kind::Heartbeat, out);
        }
        // The next start of this node must know what this one knew of its peers' runs.
        out.push(Action::SavePeers(self.members.runs()));
        self.exited = true;
        out.push(Action::Exit);
    }

    pub(super) fn update_status(&mut self, out: &mut Vec<Action>) {
        let running: Vec<String> = self
            .runners
            .iter()
            .filter(|(_, r)| r.phase != Phase::Idle)
            .map(|(n, r)| format!("{n} {:?}", r.phase).to_lowercase())
            .collect();
        let peers: Vec<String> = self
            .members
            .peers()
            .iter()
            .map(|(n, p)| format!("{n} {:?}", p.state).to_lowercase())
            .collect();
        let role = if running.is_empty() {
            "standby".to_owned()
        } else {
            running.join(", ")
        };
        let quorum = if self.quorate { "quorate" } else { "no quorum" };
        let status = format!(
            "{role}; {quorum}; peers: {}",
            if peers.is_empty() {
                "none".into()
            } else {
                peers.join(", ")
            }
        );
        if status != self.status {
            self.status = status.clone();
            out.push(Action::Notify(Notify::Status(status)));
        }
    }
}
