//! The decision engine: pure and deterministic. [`Engine::handle`] takes the current time and
//! one [`Input`] and returns the [`Action`]s the drivers must carry out; [`Engine::next_deadline`]
//! says when to call it again with [`Input::Tick`]. No clock reads, no I/O, no randomness, so a
//! run is reproduced exactly from its inputs (see `sim`).
//!
//! Inside: [`membership`] (who is alive), [`election`] (quorum and who should own each group),
//! [`runner`] (starting and stopping a group's resources here), [`intents`] (operator commands
//! gossiped cluster-wide); this file routes inputs, and `decide.rs` applies the ownership rule
//! with its safety conditions (handoff, fencing, `wait_for_all`).

mod decide;
pub mod election;
pub mod intents;
pub mod membership;
pub mod runner;
pub mod types;

use std::collections::{BTreeMap, BTreeSet};

pub use types::{Action, Command, Event, EventKind, Input, Notify, Op, Time};

use crate::auth::KeyRing;
use crate::heartbeat::wire::{self, Datagram, IntentKind, Kind, Stamp};
use crate::heartbeat::{DropCounts, ReplayGuard};
use crate::manifest::Manifest;
use intents::Intents;
use membership::{Membership, PeerState};
use runner::{Outcome, Runner};

/// Fencing of one dead peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fence {
    /// The fence unit runs.
    Pending,
    /// It succeeded: the peer is off.
    Done,
}

/// One node's engine.
pub struct Engine {
    me: String,
    /// Shared so that a decision can walk the groups while changing the engine.
    m: std::sync::Arc<Manifest>,
    keys: KeyRing,
    generation: u64,
    seq: u64,
    members: Membership,
    /// Replay protection per (sender, link): the same datagram travels every link.
    replay: BTreeMap<String, ReplayGuard>,
    drops: DropCounts,
    runners: BTreeMap<String, Runner>,
    /// Groups removed or changed by a reload, stopping with their old definition.
    retiring: BTreeMap<String, (crate::manifest::model::Group, Runner)>,
    failed_until: BTreeMap<String, Time>,
    intents: Intents,
    /// Lamport clock of operator intents.
    clock: u64,
    connectivity: u16,
    /// Since when every ping round reached a target.
    ping_ok_since: Option<Time>,
    quorate: bool,
    quorate_since: Option<Time>,
    seen: BTreeSet<String>,
    wfa_override: bool,
    fences: BTreeMap<String, Fence>,
    /// (sequence, time) of the datagrams sent lately.
    sent_at: std::collections::VecDeque<(u64, Time)>,
    /// Groups this node claims, with the sequence number of the datagram that first said so.
    claims: BTreeMap<String, u64>,
    refresh: BTreeMap<(String, usize), Time>,
    next_send: Time,
    /// The time of the input being handled, or of the last one.
    now: Time,
    ready: bool,
    shutting_down: bool,
    exited: bool,
    status: String,
}

impl Engine {
    /// An engine for node `me` of `m`, starting at `now`. `generation` must grow at every start
    /// of this node (the driver keeps it in the state directory).
    pub fn new(now: Time, me: &str, m: Manifest, keys: KeyRing, generation: u64) -> Engine {
        let peers = m.nodes.keys().filter(|n| *n != me).cloned();
        let runners = m
            .groups
            .iter()
            .map(|(n, g)| (n.clone(), Runner::idle(g)))
            .collect();
        Engine {
            me: me.to_owned(),
            members: Membership::new(now, peers),
            m: std::sync::Arc::new(m),
            keys,
            generation,
            seq: 0,
            replay: BTreeMap::new(),
            drops: DropCounts::default(),
            runners,
            retiring: BTreeMap::new(),
            failed_until: BTreeMap::new(),
            intents: Intents::default(),
            clock: 0,
            connectivity: 0,
            ping_ok_since: None,
            quorate: false,
            quorate_since: None,
            seen: BTreeSet::new(),
            wfa_override: false,
            fences: BTreeMap::new(),
            claims: BTreeMap::new(),
            sent_at: std::collections::VecDeque::new(),
            refresh: BTreeMap::new(),
            next_send: now,
            now,
            ready: false,
            shutting_down: false,
            exited: false,
            status: String::new(),
        }
    }

    /// This node's name.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The manifest in force.
    pub fn manifest(&self) -> &Manifest {
        &self.m
    }

    /// Dropped datagrams by reason.
    pub fn drops(&self) -> &DropCounts {
        &self.drops
    }

    /// The peers.
    pub fn members(&self) -> &Membership {
        &self.members
    }

    /// Whether this node has quorum.
    pub fn quorate(&self) -> bool {
        self.quorate
    }

    /// This node's runner of each group.
    pub fn runners(&self) -> &BTreeMap<String, Runner> {
        &self.runners
    }

    /// Whether `node` is in standby, by the operator intents this node knows.
    pub fn standby(&self, node: &str) -> bool {
        self.intents.standby(node)
    }

    /// Ping targets this node reached in the last round.
    pub fn connectivity(&self) -> u16 {
        self.connectivity
    }

    /// The status line last sent to systemd.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// Handles one input at time `now`.
    pub fn handle(&mut self, now: Time, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        if self.exited {
            return out;
        }
        self.now = self.now.max(now);
        match input {
            Input::Datagram { link, bytes } => self.receive(now, &link, &bytes, &mut out),
            Input::Tick => {}
            Input::Done {
                group,
                resource,
                op,
                ok,
                detail,
            } => self.done(now, &group, resource, op, ok, &detail, &mut out),
            Input::Lost {
                group,
                resource,
                detail,
            } => self.lost(now, &group, resource, &detail, &mut out),
            Input::Fenced { node, ok } => self.fenced(&node, ok, &mut out),
            Input::Ping { reachable } => {
                self.connectivity = reachable;
                if reachable == 0 {
                    self.ping_ok_since = None;
                } else if self.ping_ok_since.is_none() {
                    self.ping_ok_since = Some(now);
                }
            }
            Input::Control(cmd) => self.command(cmd, &mut out),
            Input::Reload(m) => self.reload(*m, &mut out),
            Input::Shutdown => {
                if !self.shutting_down {
                    self.shutting_down = true;
                    out.push(Action::Notify(Notify::Stopping));
                }
            }
        }
        self.tick(now, &mut out);
        out
    }

    /// When to call [`Engine::handle`] with [`Input::Tick`] next.
    pub fn next_deadline(&self) -> Option<Time> {
        if self.exited {
            return None;
        }
        let mut next = Some(self.next_send);
        let mut consider = |t: Option<Time>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Time| n.min(t)));
            }
        };
        consider(self.members.next_deadline(&self.m.heartbeat));
        self.failed_until.values().for_each(|t| consider(Some(*t)));
        self.refresh.values().for_each(|t| consider(Some(*t)));
        // Quorum changes by time alone too: a peer's acknowledgement or start-up grace runs
        // out, the ping targets have been reached long enough, a hold-off ends.
        let t = &self.m.heartbeat;
        let tick = std::time::Duration::from_millis(1);
        let mut timed = Vec::new();
        for p in self.members.peers().values() {
            timed.push(self.acked_at(p).map(|a| a.plus(t.warn_after + tick)));
            timed.push(self.acked_at(p).map(|a| a.plus(self.lease() + tick)));
            timed.push(p.alive_since.map(|a| a.plus(t.warn_after + tick)));
        }
        timed.push(self.ping_ok_since.map(|a| a.plus(t.dead_after)));
        timed.push(self.quorate_since.map(|a| a.plus(t.dead_after)));
        for at in timed.into_iter().flatten().filter(|at| *at > self.now) {
            consider(Some(at));
        }
        next
    }

    fn receive(&mut self, now: Time, link: &str, bytes: &[u8], out: &mut Vec<Action>) {
        let d = match wire::decode(bytes, &self.keys, &self.m.cluster) {
            Ok(d) if d.sender == self.me || !self.m.nodes.contains_key(&d.sender) => return,
            Ok(d) => d,
            Err(e) => return self.drop(e, out),
        };
        if let Err(e) = self
            .replay
            .entry(format!("{}/{link}", d.sender))
            .or_default()
            .accept(&d)
        {
            return self.drop(e, out);
        }
        for intent in &d.intents {
            self.clock = self.clock.max(intent.stamp.clock);
            if self.intents.merge(intent) {
                self.apply_intent(intent);
            }
        }
        let back = !self.members.state(&d.sender).alive();
        if d.generation > 0 && back {
            self.fences.remove(&d.sender);
        }
        self.seen.insert(d.sender.clone());
        let events = self.members.heard(now, link, d);
        if back && events.iter().any(|e| e.kind == EventKind::PeerUp) {
            // A peer is back (partition healed, reboot): make sure switches and clients point here.
            self.announce_all(out);
        }
        out.extend(events.into_iter().map(Action::Log));
    }

    fn drop(&mut self, why: wire::DecodeError, out: &mut Vec<Action>) {
        // Count every drop; log only the first of each kind, so a flood cannot fill the journal.
        if self.drops.get(why) == 0 {
            out.push(Action::Log(Event {
                kind: EventKind::Dropped,
                node: None,
                group: None,
                reason: format!("{why} (counted from now on)"),
            }));
        }
        self.drops.count(why);
    }

    #[allow(clippy::too_many_arguments)]
    fn done(
        &mut self,
        now: Time,
        group: &str,
        i: usize,
        op: Op,
        ok: bool,
        detail: &str,
        out: &mut Vec<Action>,
    ) {
        let Some((g, runner)) = self.group_mut(group) else {
            return;
        };
        if i >= g.resources.len() {
            return;
        }
        let (actions, outcome) = runner.done(group, &g, i, op, ok);
        out.extend(actions);
        if let (Op::Start, true, crate::manifest::model::ResourceKind::Vip(vip)) =
            (op, ok, &g.resources[i].kind)
        {
            out.push(Action::Announce {
                group: group.to_owned(),
                resource: i,
                vip: vip.clone(),
            });
            if let Some(every) = vip.announce.refresh {
                self.refresh.insert((group.to_owned(), i), now.plus(every));
            }
        }
        if !ok {
            out.push(self.event(
                EventKind::ResourceFailed,
                Some(group),
                format!("{op:?} of {} failed: {detail}", g.resources[i].name).to_lowercase(),
            ));
        }
        self.outcome(now, group, outcome, out);
    }

    fn lost(&mut self, now: Time, group: &str, i: usize, detail: &str, out: &mut Vec<Action>) {
        let Some((g, runner)) = self.group_mut(group) else {
            return;
        };
        if i >= g.resources.len() {
            return;
        }
        let (actions, outcome) = runner.lost(group, &g, i);
        if !actions.is_empty() {
            out.push(self.event(
                EventKind::ResourceFailed,
                Some(group),
                format!("{} went down: {detail}", g.resources[i].name),
            ));
        }
        out.extend(actions);
        self.outcome(now, group, outcome, out);
    }

    /// The group's definition and runner, whether current or retiring after a reload.
    fn group_mut(&mut self, group: &str) -> Option<(crate::manifest::model::Group, &mut Runner)> {
        if let Some((g, r)) = self.retiring.get_mut(group) {
            return Some((g.clone(), r));
        }
        let g = self.m.groups.get(group)?.clone();
        Some((g, self.runners.get_mut(group)?))
    }

    fn outcome(&mut self, now: Time, group: &str, outcome: Option<Outcome>, out: &mut Vec<Action>) {
        if outcome.is_some() {
            // Peers wait for this (a handoff waits for the release): tell them at once.
            self.next_send = self.next_send.min(now);
        }
        match outcome {
            None => {}
            Some(Outcome::Running) => out.push(self.event(
                EventKind::Running,
                Some(group),
                "all resources are up".into(),
            )),
            Some(Outcome::Released) => {
                self.forget_refresh(group);
                out.push(self.event(
                    EventKind::Release,
                    Some(group),
                    "all resources are stopped".into(),
                ));
            }
            Some(Outcome::Failed) => {
                self.forget_refresh(group);
                // Not eligible here for a while, so the group moves on instead of bouncing back.
                let cooldown =
                    (self.m.heartbeat.dead_after * 10).max(std::time::Duration::from_secs(30));
                self.failed_until
                    .insert(group.to_owned(), now.plus(cooldown));
                out.push(self.event(
                    EventKind::ResourceFailed,
                    Some(group),
                    format!(
                        "stopped after a failure; not eligible here for {}s",
                        cooldown.as_secs()
                    ),
                ));
            }
        }
        if self
            .retiring
            .get(group)
            .is_some_and(|(_, r)| r.phase == runner::Phase::Idle)
        {
            self.retiring.remove(group);
        }
    }

    fn forget_refresh(&mut self, group: &str) {
        self.refresh.retain(|(g, _), _| g != group);
    }

    fn fenced(&mut self, node: &str, ok: bool, out: &mut Vec<Action>) {
        if ok {
            self.fences.insert(node.to_owned(), Fence::Done);
        } else {
            // Tried again at the next decision: a stateful group stays down until it works.
            self.fences.remove(node);
        }
        out.push(self.event(
            EventKind::Fence,
            None,
            format!("fencing {node} {}", if ok { "succeeded" } else { "failed" }),
        ));
    }

    fn command(&mut self, cmd: Command, out: &mut Vec<Action>) {
        self.clock += 1;
        let stamp = Stamp {
            clock: self.clock,
            origin: self.me.clone(),
        };
        let (what, text) = match cmd {
            Command::Failover { group, to } => (
                IntentKind::Move {
                    group: group.clone(),
                    to: Some(to.clone()),
                },
                format!("move {group} to {to}"),
            ),
            Command::Clear { group } => (
                IntentKind::Move {
                    group: group.clone(),
                    to: None,
                },
                format!("clear moves and failures of {group}"),
            ),
            Command::Standby { node, on } => (
                IntentKind::Standby {
                    node: node.clone(),
                    on,
                },
                format!("standby {} for {node}", if on { "on" } else { "off" }),
            ),
            Command::OverrideWaitForAll => {
                self.wfa_override = true;
                out.push(self.event(
                    EventKind::Operator,
                    None,
                    "start stateful groups without waiting for all nodes".into(),
                ));
                return;
            }
        };
        let intent = self.intents.issue(stamp, what);
        self.apply_intent(&intent);
        out.push(self.event(EventKind::Operator, None, text));
    }

    /// Side effects of an intent on local state: a clear forgets this node's failure marks.
    fn apply_intent(&mut self, intent: &wire::Intent) {
        if let IntentKind::Move { group, to: None } = &intent.what {
            self.failed_until.remove(group);
        }
    }

    fn reload(&mut self, m: Manifest, out: &mut Vec<Action>) {
        for (name, old) in &self.m.groups {
            let changed = m.groups.get(name) != Some(old);
            if changed
                && let Some(runner) = self.runners.remove(name)
                && runner.phase != runner::Phase::Idle
            {
                self.retiring.insert(name.clone(), (old.clone(), runner));
            }
        }
        for (name, g) in &m.groups {
            self.runners
                .entry(name.clone())
                .or_insert_with(|| Runner::idle(g));
        }
        let peers: Vec<String> = m.nodes.keys().filter(|n| **n != self.me).cloned().collect();
        self.members.set_peers(peers);
        self.m = std::sync::Arc::new(m);
        for (name, (g, runner)) in &mut self.retiring {
            let (actions, _) = runner.stop(name, g);
            out.extend(actions);
        }
        out.push(self.event(EventKind::Operator, None, "manifest reloaded".into()));
    }

    fn event(&self, kind: EventKind, group: Option<&str>, reason: String) -> Action {
        Action::Log(Event {
            kind,
            node: Some(self.me.clone()),
            group: group.map(str::to_owned),
            reason,
        })
    }

    /// The datagram this node sends now.
    fn datagram(&mut self, kind: Kind) -> Vec<u8> {
        self.seq += 1;
        let mut groups: Vec<(String, wire::GroupState)> = self
            .runners
            .iter()
            .filter_map(|(n, r)| r.advertised().map(|s| (n.clone(), s)))
            .collect();
        groups.extend(
            self.claims
                .keys()
                .map(|g| (g.clone(), wire::GroupState::Claiming)),
        );
        groups.extend(
            self.retiring
                .iter()
                .filter_map(|(n, (_, r))| r.advertised().map(|s| (n.clone(), s))),
        );
        // Expired failure marks are pruned before every send.
        for g in self.failed_until.keys() {
            if !groups.iter().any(|(n, _)| n == g) {
                groups.push((g.clone(), wire::GroupState::Failed));
            }
        }
        let d = Datagram {
            kind,
            cluster: self.m.cluster.clone(),
            sender: self.me.clone(),
            generation: self.generation,
            seq: self.seq,
            connectivity: self.connectivity,
            standby: self.intents.standby(&self.me),
            quorate: self.quorate,
            // Only peers heard within warn_after: a peer left out knows at once it is not seen.
            seen: self
                .members
                .peers()
                .iter()
                .filter(|(_, p)| p.state == PeerState::Up)
                .filter_map(|(n, p)| p.view.as_ref().map(|v| (n.clone(), v.seq)))
                .collect(),
            groups,
            intents: self.intents.all(),
        };
        wire::encode(&d, self.keys.signing())
    }

    fn send(&mut self, now: Time, kind: Kind, out: &mut Vec<Action>) {
        let bytes = self.datagram(kind);
        // Remember when each datagram left, to know how fresh a peer's acknowledgement is.
        if self.sent_at.len() == 256 {
            self.sent_at.pop_front();
        }
        self.sent_at.push_back((self.seq, now));
        for link in &self.m.heartbeat.links {
            out.push(Action::Send {
                link: link.name.clone(),
                bytes: bytes.clone(),
            });
        }
    }

    /// When the newest datagram `p` acknowledges receiving from this node was sent, if known.
    fn acked_at(&self, p: &membership::Peer) -> Option<Time> {
        let seq = p.view.as_ref()?.seen.iter().find(|(n, _)| *n == self.me)?.1;
        self.sent_at
            .iter()
            .rev()
            .find(|(s, _)| *s <= seq)
            .filter(|(s, _)| *s == seq)
            .map(|(_, t)| *t)
    }

    fn announce_all(&self, out: &mut Vec<Action>) {
        for (name, r) in &self.runners {
            let Some(g) = self.m.groups.get(name) else {
                continue;
            };
            for (i, res) in g.resources.iter().enumerate() {
                if let (runner::Res::Up, crate::manifest::model::ResourceKind::Vip(vip)) =
                    (r.res[i], &res.kind)
                {
                    out.push(Action::Announce {
                        group: name.clone(),
                        resource: i,
                        vip: vip.clone(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
