//! Whether this node has quorum: which peers count as in touch, which are away for good, and
//! the tie-breakers of two-voter clusters.
//!
//! The margin that keeps a cut-off node from running a group next to its successor: a peer
//! counts only while it acknowledges a datagram this node sent within the proof window, and
//! no peer takes over before `dead_after` of silence from this node, which began no earlier
//! than that datagram left. Losing quorum at most a window after the acknowledged datagram
//! leaves `dead_after - window`, at least the watchdog bound, to stop (or for the watchdog to
//! kill a frozen agent). Word of a peer gossiped by others lasts as long (peers list every
//! peer they count alive, up to `dead_after`, and a word stands until withdrawn by the same
//! run or for `dead_after`: see `Membership::vouched`), so a holder alive only by hearsay
//! stops before that word runs out too.

use std::time::Duration;

use super::election;
use super::membership::{Peer, PeerState};
use super::{Action, Engine, EventKind, Time};
use crate::manifest::model::TieBreaker;

impl Engine {
    pub(super) fn update_quorum(&mut self, now: Time, out: &mut Vec<Action>) {
        let warn = self.m.heartbeat.warn_after;
        let peers = self.members.peers().values();
        // In touch: heard within warn_after (late peers do not count) and proven to hear us,
        // or a run just started that has not had the time to.
        let mutual = peers
            .clone()
            .filter(|p| p.state == PeerState::Up && (self.proven(now, p) || self.newborn(now, p)))
            .count();
        let away = peers.clone().filter(|p| self.away(now, p)).count();
        // Unproven: a live peer, around long enough to have heard us, with no acknowledgement
        // of ours within the lease. It may be deaf to us, and take over once our silence lasts
        // its dead_after.
        let lease = self.lease();
        let unproven = |p: &Peer| {
            p.state.alive()
                && p.alive_since.is_some_and(|t| now.since(t) > warn)
                && self.acked_at(p).is_none_or(|t| now.since(t) > lease)
        };
        // Deaf: unproven, and its last datagram already showed it had not heard us for more
        // than warn_after (or no longer listed us).
        let deaf = |p: &Peer| {
            let stopped_hearing = match (p.last, self.acked_at(p)) {
                (Some(last), Some(acked)) => last.since(acked) > warn,
                (Some(_), None) => true,
                _ => false,
            };
            unproven(p) && stopped_hearing
        };
        // Which live peers forbid standing on the tie-breaker alone. A ping tie-breaker cannot
        // tell a dead peer from a live one whose datagrams are lost while ours do not reach
        // it: both reach the targets, and that peer takes over once our silence lasts
        // dead_after. So a lone node stands on the ping targets only while no live peer is
        // unproven: an acknowledgement is a lease that runs out before the peer's dead_after
        // can, leaving time to stop. Fencing needs no lease (a peer acting on our silence
        // fences us first), only a yield to a peer that visibly does not hear us, so that the
        // two do not fence each other.
        let shunned = match self.m.quorum.tie_breaker {
            Some(TieBreaker::Ping) => peers.clone().any(unproven),
            _ => peers.clone().any(deaf),
        };
        // As a tie-breaker, reaching the targets counts only once it has lasted dead_after: a
        // flaky network (heavy loss) must not make both sides of a two-node cluster quorate.
        let steady = self
            .ping_ok_since
            .is_some_and(|t| now.since(t) >= self.m.heartbeat.dead_after);
        let quorate = election::quorate(
            &self.m,
            1 + mutual,
            away,
            if steady { self.connectivity } else { 0 },
            shunned,
        );
        if quorate != self.quorate {
            self.quorate = quorate;
            self.quorate_since = quorate.then_some(now);
            let (kind, what) = if quorate {
                (EventKind::QuorumGained, "gained")
            } else {
                (EventKind::QuorumLost, "lost")
            };
            let left = match away {
                0 => String::new(),
                n => format!(" ({n} left the cluster)"),
            };
            let reason = format!(
                "quorum {what}: {} of {} voters in touch{left}, {} ping targets reached",
                1 + mutual,
                self.m.nodes.len() - away,
                self.connectivity
            );
            out.push(self.event(kind, None, reason));
        }
    }

    /// Whether `p` is out of the vote count: it said goodbye (it released everything, and on
    /// its return `wait_for_all` and the claims keep it from starting a stateful group until it
    /// has heard the cluster again), or it has just returned and not yet acknowledged us (for
    /// at most warn_after). Corosync's `last_man_standing` lowers the expected votes the same
    /// way. Without `wait_for_all` nothing stops a leaver from returning on its own, so it
    /// counts as absent, as if it had crashed.
    pub(super) fn away(&self, now: Time, p: &Peer) -> bool {
        if !self.m.quorum.wait_for_all {
            return false;
        }
        let returning = p.state == PeerState::Up
            && p.rejoining
            && !self.proven(now, p)
            && p.alive_since
                .is_some_and(|t| now.since(t) <= self.m.heartbeat.warn_after);
        p.state == PeerState::Left || returning
    }

    /// Whether we heard `p`'s run from its first datagram on, less than warn_after ago. It
    /// counts as in touch until it acknowledges us: it cannot act on our silence before
    /// `dead_after` from its start, and if it has not acknowledged us by warn_after we stop
    /// counting it with time left to stop. Without this a restart of one node (a killed
    /// agent back at once) would cost the other its quorum for a round trip whenever it
    /// stands on its own tie-breaker.
    fn newborn(&self, now: Time, p: &Peer) -> bool {
        p.born_at
            .is_some_and(|t| now.since(t) <= self.m.heartbeat.warn_after)
    }

    /// How long an acknowledgement proves that a peer hears this node: until the peer may
    /// declare it dead, less the time left to stop its groups (the other half of
    /// `dead_after - warn_after` is the watchdog's).
    pub(super) fn lease(&self) -> Duration {
        self.m.heartbeat.dead_after - self.m.heartbeat.watchdog()
    }

    /// How old the acknowledged datagram of a peer counted in touch may be: warn_after, but at
    /// least two and a half intervals. A peer acknowledges in its next datagram (up to one of
    /// its intervals after ours arrived), which stands until the one after (another interval):
    /// two intervals of lag are normal, and a window shorter than that makes quorum flap.
    /// Validation keeps this within the lease (`warn_after + dead_after >= 5 x interval`).
    pub(super) fn proof_window(&self) -> Duration {
        let t = &self.m.heartbeat;
        t.warn_after.max(t.interval * 5 / 2).min(self.lease())
    }

    /// Whether `p` acknowledged, within the proof window, a datagram this node sent.
    /// How long this node may go on running its groups if no peer acknowledges anything more
    /// (a restart's grace never outlasts it): zero without quorum; else until the lease of the
    /// first live peer runs out, since a peer that heard nothing after the datagram it last
    /// acknowledged may take over `dead_after` after it left, and the lease leaves the time to
    /// stop; `None` when no peer is alive.
    pub(super) fn quorum_stands(&self, now: Time) -> Option<Duration> {
        if !self.quorate {
            return Some(Duration::ZERO);
        }
        let lease = self.lease();
        self.members
            .peers()
            .values()
            .filter(|p| p.state.alive())
            .map(|p| match self.acked_at(p) {
                Some(t) => t.plus(lease).since(now),
                None => Duration::ZERO,
            })
            .min()
    }

    pub(super) fn proven(&self, now: Time, p: &Peer) -> bool {
        self.acked_at(p)
            .is_some_and(|t| now.since(t) <= self.proof_window())
    }
}
