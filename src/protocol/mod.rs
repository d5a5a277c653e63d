//! Heartbeats between nodes: the datagram format ([`wire`]) and the receive-side bookkeeping
//! that every driver shares: replay protection and drop counters.

pub mod wire;

use std::collections::BTreeMap;

use serde::Serialize;
pub use wire::{Datagram, DecodeError};

/// Remembers the newest (generation, sequence) accepted from each sender, so a recorded
/// datagram replayed later is dropped. A sender's generation grows at every start, so its
/// sequence may start again from 1 without being taken for a replay.
#[derive(Clone, Debug, Default)]
pub struct ReplayGuard {
    newest: BTreeMap<String, (u64, u64)>,
}

impl ReplayGuard {
    /// Accepts `d` if it is newer than anything accepted from its sender, and remembers it.
    pub fn accept(&mut self, d: &Datagram) -> Result<(), DecodeError> {
        let stamp = (d.generation, d.seq);
        match self.newest.get(&d.sender) {
            Some(last) if *last >= stamp => Err(DecodeError::Replay),
            _ => {
                self.newest.insert(d.sender.clone(), stamp);
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
            Err(DecodeError::Replay),
            "an older generation"
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
