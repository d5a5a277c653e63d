//! Heartbeats between nodes: the datagram format ([`wire`]) and the receive-side bookkeeping
//! that every driver shares: replay protection and drop counters.

pub mod wire;

use std::collections::BTreeMap;

use serde::Serialize;
pub use wire::{Datagram, DecodeError};

/// Remembers, on one link, the newest sequence number accepted from each sender's run, so a
/// datagram re-sent on that link (a copy, or a recording) is dropped before it can make the
/// link look alive. Which run of a sender counts is the engine's to decide (`engine/runs.rs`):
/// a datagram of another generation passes here.
#[derive(Clone, Debug, Default)]
pub struct ReplayGuard {
    newest: BTreeMap<String, (u64, u64)>,
}

impl ReplayGuard {
    /// Accepts `d` unless its run's newer datagrams were already seen on this link.
    pub fn accept(&mut self, d: &Datagram) -> Result<(), DecodeError> {
        match self.newest.get(&d.sender) {
            Some((g, s)) if *g == d.generation && *s >= d.seq => Err(DecodeError::Replay),
            _ => {
                self.newest.insert(d.sender.clone(), (d.generation, d.seq));
                Ok(())
            }
        }
    }
}

/// How many datagrams were dropped, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DropCounts(pub BTreeMap<DecodeError, u64>);

impl DropCounts {
    /// Counts one drop.
    pub fn count(&mut self, why: DecodeError) {
        *self.0.entry(why).or_default() += 1;
    }

    /// Drops counted for `why`.
    pub fn get(&self, why: DecodeError) -> u64 {
        self.0.get(&why).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::wire::Kind;

    fn d(sender: &str, generation: u64, seq: u64) -> Datagram {
        Datagram::bare(Kind::Heartbeat, "c", sender, generation, seq)
    }

    #[test]
    fn replays_are_dropped_restarts_are_not() {
        let mut g = ReplayGuard::default();
        assert_eq!(g.accept(&d("a", 5, 10)), Ok(()));
        assert_eq!(g.accept(&d("a", 5, 10)), Err(DecodeError::Replay));
        assert_eq!(g.accept(&d("a", 5, 9)), Err(DecodeError::Replay));
        assert_eq!(
            g.accept(&d("a", 4, 99)),
            Ok(()),
            "another generation: the engine decides"
        );
        assert_eq!(g.accept(&d("a", 5, 11)), Ok(()));
        assert_eq!(
            g.accept(&d("a", 6, 1)),
            Ok(()),
            "a restart begins a new generation"
        );
        assert_eq!(g.accept(&d("b", 1, 1)), Ok(()), "senders are independent");
    }

    #[test]
    fn drops_are_counted_by_reason() {
        let mut c = DropCounts::default();
        c.count(DecodeError::BadMac);
        c.count(DecodeError::BadMac);
        c.count(DecodeError::Replay);
        assert_eq!(
            (
                c.get(DecodeError::BadMac),
                c.get(DecodeError::Replay),
                c.get(DecodeError::Truncated)
            ),
            (2, 1, 0)
        );
    }
}
