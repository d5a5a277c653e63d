//! Handling of each kind of input: datagrams, finished and lost resource actions, fencing
//! results, operator commands and reloads. Each updates the state; the decision that follows
//! every input is `decide.rs`'s.

use super::runner::{self, Outcome, Runner};
use super::runs::Admit;
use super::{Action, Command, Engine, Event, EventKind, Fence, Op, ResourceRef, Time};
use crate::manifest::Manifest;
use crate::manifest::model::{Group, ResourceKind};
use crate::protocol::ReplayGuard;
use crate::protocol::wire::{self, Datagram, IntentKind, Stamp};

/// The highest operator clock taken: far beyond any real count of commands, far below where
/// arithmetic on it could overflow.
const MAX_CLOCK: u64 = 1 << 48;

impl Engine {
    /// Takes in an authenticated datagram; false if it changes nothing to decide on: a replay,
    /// a datagram of this node or of a node the manifest does not have, or a copy of (or one
    /// older than) a datagram already heard on another link, which only shows that this link
    /// works.
    pub(super) fn receive(
        &mut self,
        now: Time,
        link: &str,
        mut d: Datagram,
        out: &mut Vec<Action>,
    ) -> bool {
        if d.sender == self.me
            || !self.m.nodes.contains_key(&d.sender)
            || d.cluster != self.m.cluster
        {
            return false;
        }
        if !self.replay.contains_key(link) {
            self.replay.insert(link.to_owned(), ReplayGuard::default());
        }
        if let Some(Err(e)) = self.replay.get_mut(link).map(|g| g.accept(&d)) {
            self.drop(e, out);
            return false;
        }
        let fresh = self
            .ack_time(&d)
            .is_some_and(|t| now.since(t) <= self.proof_window());
        let how = self.members.admit(&d, fresh);
        match how {
            Admit::Replay => {
                self.drop(wire::DecodeError::Replay, out);
                return false;
            }
            Admit::Copy => {
                out.extend(
                    self.members
                        .link_heard(now, link, &d.sender)
                        .map(Action::Log),
                );
                return false;
            }
            Admit::Newer | Admit::NewRun => {}
        }
        let intents = std::mem::take(&mut d.intents);
        // The view keeps the sender's maintenance intents: whether it held a group in
        // maintenance when last heard decides whether its silence may be taken for a release
        // (`blocked.rs`).
        d.intents = intents
            .iter()
            .filter(|i| matches!(i.what, wire::IntentKind::Maintenance { .. }))
            .cloned()
            .collect();
        let back = !self.members.state(&d.sender).alive();
        if d.generation > 0 && back {
            self.fences.remove(&d.sender);
        }
        // A peer waits for our acknowledgement of a new claim: answer now, not next interval.
        // (Copies on other links and the claim's repetitions need no answer of their own.)
        let before = self
            .members
            .peers()
            .get(&d.sender)
            .and_then(|p| p.view.as_ref());
        let claiming = |v: Option<&wire::Datagram>, g: &str| {
            v.is_some_and(|v| {
                v.groups
                    .iter()
                    .any(|(n, s)| n == g && *s == wire::GroupState::Claiming)
            })
        };
        let new_claim = d
            .groups
            .iter()
            .any(|(g, s)| *s == wire::GroupState::Claiming && !claiming(before, g));
        // wait_for_all asks for every node in touch once, both ways (Corosync's "all nodes
        // visible at the same time"): heard, and hearing this run. A node that only heard a
        // peer, say a leaver returning as a partition begins, while the peer still counts it
        // gone, must not start a stateful group on that.
        let base = self.generation << 32;
        if !self.in_touch_once.contains(&d.sender)
            && d.seen
                .iter()
                .any(|(n, s)| *n == self.me && *s > base && *s <= self.seq)
        {
            self.in_touch_once.insert(d.sender.clone());
        }
        let sender = d.sender.clone();
        let events = self.members.heard(now, link, d, how, fresh);
        self.note_ack(&sender);
        // Operator intents count only from a run shown live now: a replayed datagram of an
        // earlier run must not bring back a move that was cleared since.
        if self.members.proven(&sender) {
            for intent in &intents {
                if !self.valid_intent(intent) {
                    continue;
                }
                self.clock = self.clock.max(intent.stamp.clock);
                if self.intents.merge(intent) {
                    self.apply_intent(now, intent, out);
                }
            }
        }
        if back && events.iter().any(|e| e.kind == EventKind::PeerUp) {
            // A peer is back (partition healed, reboot): make sure switches and clients point here.
            self.announce_all(out);
        }
        // A peer that appears, returns, restarts or leaves changes what others may do: tell
        // them at once (a restarted peer gets our acknowledgement within a round trip, and
        // peers that know of a departure only through us learn it now).
        let news = events
            .iter()
            .any(|e| matches!(e.kind, EventKind::PeerUp | EventKind::PeerLeft));
        if new_claim || news {
            self.next_send = self.next_send.min(now);
        }
        out.extend(events.into_iter().map(Action::Log));
        true
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

    pub(super) fn done(
        &mut self,
        now: Time,
        res: &ResourceRef,
        op: Op,
        ok: bool,
        detail: &str,
        out: &mut Vec<Action>,
    ) {
        let Some((g, runner)) = self.group_mut(res) else {
            return;
        };
        let (actions, outcome) = runner.done(&res.group, &g, res.index, op, ok);
        out.extend(actions);
        if let (Op::Start, Some(since)) = (op, self.starting_since.remove(res))
            && ok
        {
            let took = now.since(since);
            let slot = self.start_took.entry(res.clone()).or_default();
            *slot = (*slot).max(took);
        }
        if let (Op::Start, true, ResourceKind::Vip(vip)) = (op, ok, &g.resources[res.index].kind) {
            out.push(Action::Announce {
                res: res.clone(),
                vip: vip.clone(),
            });
            if let Some(every) = vip.announce.refresh {
                self.refresh.insert(res.clone(), now.plus(every));
            }
        }
        if !ok {
            out.push(
                self.event(
                    EventKind::ResourceFailed,
                    Some(&res.group),
                    format!("{op:?} of {} failed: {detail}", g.resources[res.index].name)
                        .to_lowercase(),
                ),
            );
        }
        self.outcome(now, &res.group, outcome, out);
    }

    /// A resource of a group that runs here went down on its own (a unit failed or was
    /// stopped, a VIP was removed).
    pub(super) fn lost(
        &mut self,
        now: Time,
        res: &ResourceRef,
        detail: &str,
        out: &mut Vec<Action>,
    ) {
        if self.restart_in_place(now, res, detail, false, out) {
            return;
        }
        let Some((g, runner)) = self.group_mut(res) else {
            return;
        };
        let (actions, outcome) = runner.lost(&res.group, &g, res.index);
        if !actions.is_empty() {
            out.push(self.event(
                EventKind::ResourceFailed,
                Some(&res.group),
                format!("{} went down: {detail}", g.resources[res.index].name),
            ));
        }
        out.extend(actions);
        self.outcome(now, &res.group, outcome, out);
    }

    /// The group's definition and runner, whether current or retiring after a reload, if it
    /// has resource number `resource`.
    pub(super) fn group_mut(
        &mut self,
        res: &ResourceRef,
    ) -> Option<(std::sync::Arc<Group>, &mut Runner)> {
        let (g, r) = match self.retiring.get_mut(&res.group) {
            Some((g, r)) => (g.clone(), r),
            None => (
                self.shared.get(&res.group)?.clone(),
                self.runners.get_mut(&res.group)?,
            ),
        };
        // A report about a resource the group no longer has (a reload removed it) is stale.
        (res.index < g.resources.len()).then_some((g, r))
    }

    pub(super) fn outcome(
        &mut self,
        now: Time,
        group: &str,
        outcome: Option<Outcome>,
        out: &mut Vec<Action>,
    ) {
        if outcome.is_some() {
            // Peers wait for this (a handoff waits for the release): tell them at once.
            self.next_send = self.next_send.min(now);
        }
        self.unblocked(group, outcome);
        if let Some(o) = outcome {
            self.stray_outcome(group, o, out);
        }
        match outcome {
            None => {}
            Some(Outcome::Blocked) => self.blocked(now, group, out),
            Some(Outcome::Running) => out.push(self.event(
                EventKind::Running,
                Some(group),
                "all resources are up".into(),
            )),
            Some(Outcome::StrayStopped) => out.push(self.event(
                EventKind::Stray,
                Some(group),
                "the stray copy is stopped".into(),
            )),
            Some(Outcome::Released) => {
                self.forget_refresh(group);
                out.push(self.event(
                    EventKind::Released,
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

    pub(super) fn forget_refresh(&mut self, group: &str) {
        self.refresh.forget_group(group);
    }

    pub(super) fn fenced(&mut self, now: Time, node: &str, ok: bool, out: &mut Vec<Action>) {
        let reason = if ok {
            self.fences.insert(node.to_owned(), Fence::Done);
            format!("fencing {node} succeeded")
        } else {
            // A stateful group stays down until it works; a fence device that fails (a BMC
            // that does not answer) is asked again once per dead_after, not hammered.
            let wait = self.m.heartbeat.dead_after;
            let retry_at = now.plus(wait);
            self.fences
                .insert(node.to_owned(), Fence::Failed { retry_at });
            format!(
                "fencing {node} failed; trying again in {}ms",
                wait.as_millis()
            )
        };
        out.push(self.event(EventKind::Fence, None, reason));
    }

    pub(super) fn command(&mut self, cmd: Command, out: &mut Vec<Action>) {
        if let Command::Maintenance { on: true, .. } = cmd
            && let Some(why) = self.refuses_maintenance()
        {
            out.push(self.event(EventKind::Operator, None, format!("command refused: {why}")));
            return;
        }
        let Some(clock) = self.clock.checked_add(1).filter(|c| *c < MAX_CLOCK) else {
            out.push(self.event(
                EventKind::Operator,
                None,
                "command refused: the operator clock is exhausted".into(),
            ));
            return;
        };
        self.clock = clock;
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
            Command::Maintenance { group, on } => (
                IntentKind::Maintenance {
                    group: group.clone(),
                    on,
                },
                format!(
                    "maintenance {} for {}",
                    if on { "on" } else { "off" },
                    group.as_deref().unwrap_or("the whole cluster")
                ),
            ),
            Command::Unblock { group, node } => (
                IntentKind::Unblock {
                    group: group.clone(),
                    node: node.clone(),
                },
                format!("unblock {group} on {node}: checked by hand that it is stopped there"),
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
        let now = self.now;
        self.apply_intent(now, &intent, out);
        // Peers act on it (a planned move waits for it): gossip it now.
        self.next_send = self.next_send.min(self.now);
        out.push(self.event(EventKind::Operator, None, text));
    }

    /// Side effects of an intent on local state: a clear forgets this node's failure marks;
    /// an unblock forgets a failed stop.
    fn apply_intent(&mut self, now: Time, intent: &wire::Intent, out: &mut Vec<Action>) {
        match &intent.what {
            IntentKind::Move { group, to: None } => {
                self.failed_until.remove(group);
                self.forget_restarts(group);
            }
            IntentKind::Unblock { group, node } => self.unblock(now, group, node, out),
            _ => {}
        }
    }

    /// Whether a gossiped intent may be taken: its clock is within bounds, its origin is a node
    /// of the manifest, and it names groups and nodes the manifest has (a move, to one of the
    /// group's nodes). The table stays within one slot per group and per node.
    pub(super) fn valid_intent(&self, i: &wire::Intent) -> bool {
        let node = |n: &str| self.m.nodes.contains_key(n);
        let group = |g: &str| self.m.groups.contains_key(g);
        i.stamp.clock < MAX_CLOCK
            && node(&i.stamp.origin)
            && match &i.what {
                IntentKind::Move { group: g, to } => {
                    group(g)
                        && to
                            .as_ref()
                            .is_none_or(|t| self.m.groups[g].nodes.contains(t))
                }
                IntentKind::Standby { node: n, .. } => node(n),
                IntentKind::Unblock { group: g, node: n } => group(g) && node(n),
                IntentKind::Maintenance { group: g, .. } => g.as_deref().is_none_or(group),
            }
    }

    pub(super) fn reload(&mut self, m: Manifest, out: &mut Vec<Action>) {
        for (name, old) in &self.m.groups {
            let changed = m.groups.get(name) != Some(old);
            if changed
                && let Some(runner) = self.runners.remove(name)
                && runner.phase != runner::Phase::Idle
            {
                // Maintenance stops nothing: what runs stays, under the new definition if it
                // has as many resources, else forgotten here until `off` reconciles it with
                // what is observed (a resource the reload removed is then left running).
                if self.maintained(name) {
                    if m.groups
                        .get(name)
                        .is_some_and(|g| g.resources.len() == runner.res.len())
                    {
                        self.runners.insert(name.clone(), runner);
                    }
                    continue;
                }
                let old = std::sync::Arc::new(old.clone());
                self.retiring.insert(name.clone(), (old, runner));
            }
        }
        for (name, g) in &m.groups {
            self.runners
                .entry(name.clone())
                .or_insert_with(|| Runner::idle(g));
        }
        let peers: Vec<String> = m.nodes.keys().filter(|n| **n != self.me).cloned().collect();
        self.members.set_peers(peers);
        self.digest = super::digest(&m);
        self.group_digests = super::drift::group_digests(&m);
        self.shared = super::share(&m);
        self.checked = super::checks::checked(self.shared.iter());
        self.m = std::sync::Arc::new(m);
        for (name, (g, runner)) in &mut self.retiring {
            let (actions, _) = runner.stop(name, g);
            out.extend(actions);
        }
        out.push(self.event(EventKind::Operator, None, "manifest reloaded".into()));
    }
}
