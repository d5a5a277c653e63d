//! Who is alive: per peer and per link, from the time of the last valid datagram.
//!
//! A peer is `Up` while datagrams arrive on any link, `Late` after `warn_after` of silence
//! (logged once), `Dead` after `dead_after`, or `Left` when it said goodbye. A peer never heard
//! since start-up is `Unknown` until `initial_dead` has passed (Heartbeat's `initdead`), so a
//! booting cluster does not take over groups from nodes that are merely slower to start.

use std::collections::BTreeMap;

use serde::Serialize;

use super::runs::{Admit, Runs};
use super::types::{Event, EventKind, Time};
use crate::manifest::model::Heartbeat;
use crate::protocol::wire::{Datagram, Kind};

/// A peer's state as this node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerState {
    /// Not heard since start-up, still within `initial_dead`.
    Unknown,
    /// Heartbeats arrive.
    Up,
    /// Silent for more than `warn_after`.
    Late,
    /// Silent for more than `dead_after` (or never heard within `initial_dead`).
    Dead,
    /// Said it was leaving and released everything.
    Left,
}

impl PeerState {
    /// Counts as alive (votes, may hold groups).
    pub fn alive(self) -> bool {
        matches!(self, PeerState::Up | PeerState::Late)
    }
}

/// What this node knows of one peer.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Current state.
    pub state: PeerState,
    /// Last valid datagram, any link.
    pub last: Option<Time>,
    /// Last valid datagram per link, and whether that link is counted up.
    pub links: BTreeMap<String, (Time, bool)>,
    /// The latest datagram: the peer's view of the cluster.
    pub view: Option<Datagram>,
    /// When it last came alive (after being unknown, dead or gone) or restarted: since when
    /// it may have heard this node.
    pub alive_since: Option<Time>,
    /// It came back after leaving and may not hear this node yet (quorum counts it as still
    /// away until it acknowledges this node, see `quorum.rs`).
    pub rejoining: bool,
    /// When its current run was first heard, if by the run's first datagram: the run started
    /// as that was sent.
    pub born_at: Option<Time>,
    /// Peers it said it counts alive: by which of its runs, and when we heard so.
    pub vouches: BTreeMap<String, (u64, Time)>,
    /// When the newest datagram of this node that its latest datagram acknowledges was sent,
    /// if it acknowledges one of this run (the engine keeps the send times).
    pub acked: Option<Time>,
    /// Which of its runs counts (`runs.rs`).
    pub runs: Runs,
}

impl Peer {
    fn new() -> Peer {
        Peer {
            state: PeerState::Unknown,
            last: None,
            links: BTreeMap::new(),
            view: None,
            alive_since: None,
            rejoining: false,
            born_at: None,
            vouches: BTreeMap::new(),
            acked: None,
            runs: Runs::default(),
        }
    }
}

/// All peers.
#[derive(Clone, Debug)]
pub struct Membership {
    started: Time,
    peers: BTreeMap<String, Peer>,
}

fn event(kind: EventKind, node: &str, reason: String) -> Event {
    Event {
        kind,
        node: Some(node.to_owned()),
        group: None,
        reason,
    }
}

impl Membership {
    /// Peers named in `names`, none heard yet.
    pub fn new(now: Time, names: impl IntoIterator<Item = String>) -> Membership {
        Membership {
            started: now,
            peers: names.into_iter().map(|n| (n, Peer::new())).collect(),
        }
    }

    /// After a pause: every peer counts as not heard since `now`, as at start-up (what they
    /// said before is kept, for the record, but none counts as alive until heard again or
    /// `initial_dead` has passed).
    pub fn rejoin(&mut self, now: Time) {
        self.started = now;
        for p in self.peers.values_mut() {
            if p.state != PeerState::Left {
                p.state = PeerState::Unknown;
            }
            p.last = None;
            p.links.clear();
            p.vouches.clear();
            p.acked = None;
            p.alive_since = None;
            p.born_at = None;
        }
    }

    /// Follows a reload: peers no longer in the manifest are forgotten, new ones start unknown.
    pub fn set_peers(&mut self, names: Vec<String>) {
        self.peers.retain(|n, _| names.contains(n));
        for n in names {
            self.peers.entry(n).or_insert_with(Peer::new);
        }
    }

    /// The peers.
    pub fn peers(&self) -> &BTreeMap<String, Peer> {
        &self.peers
    }

    /// A peer's state (`Dead` for names not in the manifest).
    pub fn state(&self, name: &str) -> PeerState {
        self.peers.get(name).map_or(PeerState::Dead, |p| p.state)
    }

    /// Whether start-up is over: every peer heard, or `initial_dead` passed.
    pub fn settled(&self, now: Time, t: &Heartbeat) -> bool {
        now.since(self.started) >= t.initial_dead || self.peers.values().all(|p| p.last.is_some())
    }

    /// Records when the datagram of ours that `name`'s latest one acknowledges was sent.
    pub fn set_acked(&mut self, name: &str, at: Option<Time>) {
        if let Some(p) = self.peers.get_mut(name) {
            p.acked = at;
        }
    }

    /// What `d` is to this node (`runs.rs`), given whether it acknowledges a recent datagram
    /// of this node. The same datagram travels every link, each with its own delay: a copy, or
    /// an older one arriving late on another link, says only that this link works
    /// ([`Membership::link_heard`]).
    pub fn admit(&self, d: &Datagram, fresh: bool) -> Admit {
        self.peers
            .get(&d.sender)
            .map_or(Admit::Replay, |p| p.runs.admit(d, fresh))
    }

    /// A peer, to change.
    pub(super) fn peer_mut(&mut self, name: &str) -> Option<&mut Peer> {
        self.peers.get_mut(name)
    }

    /// Records that `link` carries `sender`'s datagrams; returns an event if it came back.
    pub fn link_heard(&mut self, now: Time, link: &str, sender: &str) -> Option<Event> {
        let p = self.peers.get_mut(sender)?;
        let was_up = p.links.get(link).is_some_and(|(_, up)| *up);
        p.links.insert(link.to_owned(), (now, true));
        (!was_up && p.state.alive()).then(|| {
            event(
                EventKind::LinkUp,
                sender,
                format!("link {link} carries heartbeats again"),
            )
        })
    }

    /// Records a datagram admitted as `how` (newer, or a new run); `fresh` when it
    /// acknowledges a recent datagram of this node. Returns events for state changes.
    pub fn heard(
        &mut self,
        now: Time,
        link: &str,
        d: Datagram,
        how: Admit,
        fresh: bool,
    ) -> Vec<Event> {
        let mut out: Vec<Event> = self.link_heard(now, link, &d.sender).into_iter().collect();
        if !matches!(how, Admit::Newer | Admit::NewRun) {
            return out;
        }
        let Some(p) = self.peers.get_mut(&d.sender) else {
            return out;
        };
        p.runs.take(&d, how, fresh);
        let leaving = d.kind == Kind::Leaving;
        p.last = Some(now);
        let next = if leaving {
            PeerState::Left
        } else {
            PeerState::Up
        };
        // A new run of a peer that was never missed has not heard this node yet either.
        let restarted = how == Admit::NewRun && p.view.is_some();
        if restarted || p.view.is_none() {
            // Sequence numbers of a run start after `generation << 32` (see `Engine::new`).
            let first = d.generation.checked_shl(32).and_then(|b| b.checked_add(1));
            p.born_at = (Some(d.seq) == first).then_some(now);
        }
        if p.state != next || (restarted && next == PeerState::Up) {
            let (kind, why) = match (p.state, next) {
                (_, PeerState::Left) => (EventKind::PeerLeft, "announced it is leaving".to_owned()),
                (PeerState::Dead | PeerState::Left, _) => (
                    EventKind::PeerUp,
                    format!("back (generation {})", d.generation),
                ),
                (PeerState::Up | PeerState::Late, _) if restarted => (
                    EventKind::PeerUp,
                    format!("restarted (generation {})", d.generation),
                ),
                (PeerState::Late, _) => (EventKind::PeerUp, "heartbeats resumed".to_owned()),
                _ => (EventKind::PeerUp, format!("first heartbeat on {link}")),
            };
            out.push(event(kind, &d.sender, why));
            if !p.state.alive() || restarted {
                p.alive_since = Some(now);
            }
            p.rejoining = p.state == PeerState::Left && next == PeerState::Up;
            p.state = next;
        }
        // Its word that a peer lives stands until a later datagram of the same run withdraws
        // it, or for dead_after, as long as it could have lasted: a reporter that restarts
        // (and knows nobody yet) or falls silent does not end it early.
        for (n, _) in &d.seen {
            p.vouches.insert(n.clone(), (d.generation, now));
        }
        p.vouches
            .retain(|n, (run, _)| *run != d.generation || d.seen.iter().any(|(s, _)| s == n));
        p.view = Some(d);
        out
    }

    /// Whether a peer other than `name` vouched for it within `dead_after`: `name` may be alive
    /// although this node does not hear it (a one-way or non-transitive cut). Only the word of
    /// a run shown live now counts (`runs.rs`).
    pub fn vouched(&self, name: &str, now: Time, t: &Heartbeat) -> bool {
        self.peers.iter().any(|(q, p)| {
            q != name
                && p.runs.proven
                && p.vouches
                    .get(name)
                    .is_some_and(|(_, at)| now.since(*at) <= t.dead_after)
        })
    }

    /// Moves peers to `Late` or `Dead` by the time passed; returns events for changes.
    pub fn tick(&mut self, now: Time, t: &Heartbeat) -> Vec<Event> {
        let mut out = Vec::new();
        let initial_over = now.since(self.started) >= t.initial_dead;
        for (name, p) in &mut self.peers {
            p.vouches
                .retain(|_, (_, at)| now.since(*at) <= t.dead_after);
            for (link, (at, up)) in &mut p.links {
                if *up && now.since(*at) > t.dead_after {
                    *up = false;
                    if p.state.alive() {
                        out.push(event(
                            EventKind::LinkDown,
                            name,
                            format!(
                                "no heartbeat on {link} for {}ms",
                                now.since(*at).as_millis()
                            ),
                        ));
                    }
                }
            }
            let silence = p.last.map(|l| now.since(l));
            let next = match (p.state, silence) {
                (PeerState::Left, _) => PeerState::Left,
                (PeerState::Unknown, None) if initial_over => PeerState::Dead,
                (state, None) => state,
                (_, Some(s)) if s > t.dead_after => PeerState::Dead,
                (_, Some(s)) if s > t.warn_after => PeerState::Late,
                (_, Some(_)) => PeerState::Up,
            };
            if next != p.state {
                let reason = match silence {
                    Some(s) => format!("no heartbeat for {}ms", s.as_millis()),
                    None => format!(
                        "not heard within initial_dead ({}ms)",
                        t.initial_dead.as_millis()
                    ),
                };
                match next {
                    PeerState::Late => out.push(event(EventKind::PeerLate, name, reason)),
                    PeerState::Dead => out.push(event(EventKind::PeerDead, name, reason)),
                    _ => {}
                }
                p.state = next;
            }
        }
        out
    }

    /// The next time a peer's state can change by silence alone.
    pub fn next_deadline(&self, t: &Heartbeat) -> Option<Time> {
        let mut next: Option<Time> = None;
        let mut consider = |at: Time| next = Some(next.map_or(at, |n| n.min(at)));
        for p in self.peers.values() {
            match (p.state, p.last) {
                (PeerState::Unknown, None) => consider(self.started.plus(t.initial_dead)),
                (PeerState::Up, Some(l)) => consider(
                    l.plus(t.warn_after)
                        .plus(std::time::Duration::from_millis(1)),
                ),
                (PeerState::Late, Some(l)) => consider(
                    l.plus(t.dead_after)
                        .plus(std::time::Duration::from_millis(1)),
                ),
                _ => {}
            }
            for (_, at) in p.vouches.values() {
                consider(
                    at.plus(t.dead_after)
                        .plus(std::time::Duration::from_millis(1)),
                );
            }
            for (at, up) in p.links.values() {
                if *up {
                    consider(
                        at.plus(t.dead_after)
                            .plus(std::time::Duration::from_millis(1)),
                    );
                }
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::protocol::wire::Datagram;

    fn timers() -> Heartbeat {
        Heartbeat {
            interval: Duration::from_millis(100),
            warn_after: Duration::from_millis(300),
            dead_after: Duration::from_millis(500),
            initial_dead: Duration::from_millis(1000),
            links: vec![],
        }
    }

    /// A datagram from `sender`, newer than any before it.
    fn hb(sender: &str, kind: Kind) -> Datagram {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Datagram::bare(kind, "c", sender, 1, seq)
    }

    /// Takes `d` as the engine would, as a fresh datagram.
    fn hear(m: &mut Membership, now: Time, link: &str, d: Datagram) -> Vec<Event> {
        let how = m.admit(&d, true);
        m.heard(now, link, d, how, true)
    }

    fn kinds(events: &[Event]) -> Vec<EventKind> {
        events.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn up_late_dead_and_back() {
        let t = timers();
        let mut m = Membership::new(Time(0), ["b".to_owned()]);
        assert_eq!(m.state("b"), PeerState::Unknown);
        assert_eq!(
            kinds(&hear(&mut m, Time(10), "lan", hb("b", Kind::Heartbeat))),
            [EventKind::PeerUp]
        );
        assert!(
            m.tick(Time(300), &t).is_empty(),
            "300ms of silence is not late yet"
        );
        assert_eq!(kinds(&m.tick(Time(311), &t)), [EventKind::PeerLate]);
        assert!(m.tick(Time(400), &t).is_empty(), "late is logged once");
        assert_eq!(
            kinds(&m.tick(Time(511), &t)),
            [EventKind::LinkDown, EventKind::PeerDead]
        );
        assert_eq!(
            kinds(&hear(&mut m, Time(600), "lan", hb("b", Kind::Heartbeat))),
            [EventKind::PeerUp]
        );
        assert_eq!(m.state("b"), PeerState::Up);
    }

    #[test]
    fn never_heard_peers_die_after_initial_dead() {
        let t = timers();
        let mut m = Membership::new(Time(0), ["b".to_owned()]);
        assert!(!m.settled(Time(999), &t));
        assert_eq!(m.next_deadline(&t), Some(Time(1000)));
        assert!(m.tick(Time(999), &t).is_empty());
        assert_eq!(kinds(&m.tick(Time(1000), &t)), [EventKind::PeerDead]);
        assert!(m.settled(Time(1000), &t));
    }

    #[test]
    fn a_dead_link_on_a_live_peer_is_reported() {
        let t = timers();
        let mut m = Membership::new(Time(0), ["b".to_owned()]);
        hear(&mut m, Time(0), "lan", hb("b", Kind::Heartbeat));
        hear(&mut m, Time(0), "san", hb("b", Kind::Heartbeat));
        for now in (100..=600).step_by(100) {
            hear(&mut m, Time(now), "lan", hb("b", Kind::Heartbeat));
            let events = m.tick(Time(now + 1), &t);
            if now == 500 {
                assert_eq!(kinds(&events), [EventKind::LinkDown], "at {now}");
            }
        }
        assert_eq!(m.state("b"), PeerState::Up);
        assert!(!m.peers()["b"].links["san"].1);
        assert_eq!(
            kinds(&hear(&mut m, Time(700), "san", hb("b", Kind::Heartbeat))),
            [EventKind::LinkUp]
        );
    }

    #[test]
    fn a_late_copy_on_another_link_changes_nothing_but_that_link() {
        let t = timers();
        let mut m = Membership::new(Time(0), ["b".to_owned()]);
        let old = hb("b", Kind::Leaving);
        hear(&mut m, Time(0), "lan", hb("b", Kind::Heartbeat));
        hear(&mut m, Time(100), "lan", hb("b", Kind::Heartbeat));
        assert_eq!(
            kinds(&hear(&mut m, Time(150), "san", old)),
            [EventKind::LinkUp],
            "the link works; the peer did not leave"
        );
        assert_eq!(m.state("b"), PeerState::Up);
        assert_eq!(m.peers()["b"].last, Some(Time(100)));
        assert!(m.peers()["b"].links["san"].1);
        assert_eq!(kinds(&m.tick(Time(401), &t)), [EventKind::PeerLate]);
    }

    #[test]
    fn leaving_is_immediate() {
        let t = timers();
        let mut m = Membership::new(Time(0), ["b".to_owned()]);
        hear(&mut m, Time(0), "lan", hb("b", Kind::Heartbeat));
        assert_eq!(
            kinds(&hear(&mut m, Time(50), "lan", hb("b", Kind::Leaving))),
            [EventKind::PeerLeft]
        );
        assert!(!m.state("b").alive());
        assert!(
            kinds(&m.tick(Time(5000), &t))
                .iter()
                .all(|k| *k == EventKind::LinkDown)
        );
        assert_eq!(m.state("b"), PeerState::Left);
    }
}
