//! Which run of a peer counts, so that recorded datagrams re-sent later (by anyone on the
//! network: they need no key to replay) change nothing, across restarts of either side.
//!
//! A peer's run is its generation (grown at every start, kept in its state directory); within
//! a run, sequence numbers grow. Per peer this node keeps the run it follows, the highest
//! sequence number heard from it, and a few runs it left behind (retired), and saves them with
//! its checkpoint of peers so that its own restart forgets none of it:
//! - a datagram of the followed run is taken only if newer than the last (a copy on another
//!   link only shows that link works);
//! - a datagram of a retired run is a replay (even a fresh one: a copy of a run's last
//!   datagram, delayed on a link, is fresh too);
//! - a higher generation is a new run (the peer restarted), taken at once;
//! - a lower generation (the peer lost its state directory, say) is taken only when fresh: it
//!   acknowledges a datagram this node sent within the proof window, which no recording made
//!   before can do. Otherwise it is a replay.
//!
//! And a run's word counts only once it has shown it is live now (one of its datagrams
//! acknowledged a recent datagram of this node's current run): until then its datagrams keep
//! the peer alive (which only makes this node more careful) but its operator intents and its
//! word about other nodes are not taken.

use serde::{Deserialize, Serialize};

use crate::protocol::wire::Datagram;

/// Retired runs remembered per peer.
pub(super) const RETIRED: usize = 8;

/// What this node knows of a peer's runs: saved, and restored at its start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runs {
    /// The run followed and the highest sequence number heard from it.
    pub current: Option<(u64, u64)>,
    /// Runs left behind, newest last.
    pub retired: Vec<u64>,
    /// Whether the followed run has shown it is live now (not saved: a restart of this node
    /// asks again).
    #[serde(skip)]
    pub proven: bool,
}

/// What to do with a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Newer than anything heard from its run.
    Newer,
    /// The first of a run to follow from now on.
    NewRun,
    /// A copy of (or older than) a datagram already heard: only its link is news.
    Copy,
    /// A recording re-sent: dropped.
    Replay,
}

impl Runs {
    /// What `d` is, given whether it acknowledges a recent datagram of this node.
    pub fn admit(&self, d: &Datagram, fresh: bool) -> Admit {
        match self.current {
            None => Admit::NewRun,
            Some((g, s)) if d.generation == g => {
                if d.seq > s {
                    Admit::Newer
                } else {
                    Admit::Copy
                }
            }
            // A run left behind never comes back, fresh or not: a copy of its last datagrams,
            // delayed on a link, acknowledges recent datagrams too.
            Some(_) if self.retired.contains(&d.generation) => Admit::Replay,
            // Fresh is proof enough for a lower generation: no recording made before can
            // acknowledge what this node sent within the proof window.
            Some((g, _)) if d.generation > g || fresh => Admit::NewRun,
            Some(_) => Admit::Replay,
        }
    }

    /// Takes `d`, admitted as `how`.
    pub fn take(&mut self, d: &Datagram, how: Admit, fresh: bool) {
        match how {
            Admit::NewRun => {
                if let Some((g, _)) = self.current {
                    self.retired.retain(|r| *r != g);
                    self.retired.push(g);
                    if self.retired.len() > RETIRED {
                        self.retired.remove(0);
                    }
                }
                self.current = Some((d.generation, d.seq));
                self.proven = fresh;
            }
            Admit::Newer => {
                self.current = Some((d.generation, d.seq));
                self.proven |= fresh;
            }
            Admit::Copy | Admit::Replay => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::wire::Kind;

    fn d(generation: u64, n: u64) -> Datagram {
        Datagram::bare(
            Kind::Heartbeat,
            "c",
            "b",
            generation,
            (generation << 32) + n,
        )
    }

    #[test]
    fn copies_replays_restarts_and_a_lost_state_directory() {
        let mut r = Runs::default();
        assert_eq!(r.admit(&d(5, 1), false), Admit::NewRun);
        r.take(&d(5, 1), Admit::NewRun, false);
        assert_eq!(r.admit(&d(5, 1), false), Admit::Copy);
        assert_eq!(r.admit(&d(5, 2), false), Admit::Newer);
        r.take(&d(5, 2), Admit::Newer, true);
        assert!(r.proven);
        assert_eq!(r.admit(&d(6, 1), false), Admit::NewRun, "a restart");
        r.take(&d(6, 1), Admit::NewRun, false);
        assert!(!r.proven, "a new run proves itself again");
        assert_eq!(
            r.admit(&d(5, 9), true),
            Admit::Replay,
            "a retired run, a late copy"
        );
        assert_eq!(
            r.admit(&d(3, 1), false),
            Admit::Replay,
            "an older run, not acknowledging anything recent"
        );
        assert_eq!(
            r.admit(&d(3, 1), true),
            Admit::NewRun,
            "a restart with its state lost: fresh"
        );
        r.take(&d(3, 1), Admit::NewRun, true);
        assert_eq!(r.admit(&d(6, 7), false), Admit::Replay, "6 is retired now");
    }

    #[test]
    fn runs_are_saved_without_their_proof() {
        let r = Runs {
            current: Some((7, 9)),
            retired: vec![5, 6],
            proven: true,
        };
        let json = serde_json::to_string(&r).unwrap();
        let back: Runs = serde_json::from_str(&json).unwrap();
        assert_eq!(back.current, Some((7, 9)));
        assert!(!back.proven);
    }
}
