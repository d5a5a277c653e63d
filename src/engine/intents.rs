//! Operator intents (moves, standby, unblocks, maintenance), gossiped in every heartbeat until a newer one replaces
//! them, so a command given on any node reaches every node and survives the node it was given
//! on. The newest stamp wins, the same way everywhere.

use std::collections::BTreeMap;

use crate::protocol::wire::{Intent, IntentKind, Stamp};

/// The newest intent per slot: one per group (moves) and one per node (standby), each map
/// keyed by that name; maintenance has one slot per group and one (keyed `""`, which no
/// group is named) for the whole cluster.
#[derive(Clone, Debug, Default)]
pub struct Intents {
    moves: BTreeMap<String, Intent>,
    standby: BTreeMap<String, Intent>,
    unblocks: BTreeMap<String, Intent>,
    maintenance: BTreeMap<String, Intent>,
}

impl Intents {
    /// Takes `intent` if it is newer than what its slot holds; returns whether it did.
    pub fn merge(&mut self, intent: &Intent) -> bool {
        let (slots, name) = match &intent.what {
            IntentKind::Move { group, .. } => (&mut self.moves, group.as_str()),
            IntentKind::Standby { node, .. } => (&mut self.standby, node.as_str()),
            IntentKind::Unblock { group, .. } => (&mut self.unblocks, group.as_str()),
            IntentKind::Maintenance { group, .. } => {
                (&mut self.maintenance, group.as_deref().unwrap_or(""))
            }
        };
        if slots.get(name).is_some_and(|cur| cur.stamp >= intent.stamp) {
            return false;
        }
        slots.insert(name.to_owned(), intent.clone());
        true
    }

    /// The newest of each slot among `list` (a peer's heartbeat's intents).
    pub fn of(list: &[Intent]) -> Intents {
        let mut i = Intents::default();
        for intent in list {
            i.merge(intent);
        }
        i
    }

    /// Issues a new intent with `stamp`.
    pub fn issue(&mut self, stamp: Stamp, what: IntentKind) -> Intent {
        let intent = Intent { stamp, what };
        self.merge(&intent);
        intent
    }

    /// The node a group was moved to, if any.
    pub fn moved_to(&self, group: &str) -> Option<&str> {
        match self.moves.get(group).map(|i| &i.what) {
            Some(IntentKind::Move { to, .. }) => to.as_deref(),
            _ => None,
        }
    }

    /// The stamp of the newest move (or clear) of a group.
    pub fn move_stamp(&self, group: &str) -> Option<&Stamp> {
        self.moves.get(group).map(|i| &i.stamp)
    }

    /// Whether an operator put `node` in standby.
    pub fn standby(&self, node: &str) -> bool {
        matches!(
            self.standby.get(node).map(|i| &i.what),
            Some(IntentKind::Standby { on: true, .. })
        )
    }

    /// Whether `group` is in maintenance: the whole cluster is, or the group is on its own.
    pub fn maintenance(&self, group: &str) -> bool {
        self.maintenance_of(None) || self.maintenance_of(Some(group))
    }

    /// Whether maintenance is on for the whole cluster (`None`) or for this group on its own.
    pub fn maintenance_of(&self, group: Option<&str>) -> bool {
        matches!(
            self.maintenance.get(group.unwrap_or("")).map(|i| &i.what),
            Some(IntentKind::Maintenance { on: true, .. })
        )
    }

    /// The maintenance intents, for the checkpoint: a restarted agent knows at once that it
    /// is in maintenance, before any peer tells it.
    pub fn maintenance_intents(&self) -> Vec<Intent> {
        self.maintenance.values().cloned().collect()
    }

    /// All intents, for the heartbeat: moves, then standby, then unblocks, then maintenance,
    /// each by name; format 2 carries no unblock, formats 2 and 3 no maintenance.
    pub fn all(&self, version: u8) -> Vec<Intent> {
        let unblocks = self.unblocks.values().filter(|_| version >= 3);
        let maintenance = self.maintenance.values().filter(|_| version >= 4);
        self.moves
            .values()
            .chain(self.standby.values())
            .chain(unblocks)
            .chain(maintenance)
            .cloned()
            .collect()
    }

    /// The newest stamp of every intent, for the Lamport clock.
    pub fn newest_clock(&self) -> u64 {
        self.moves
            .values()
            .chain(self.standby.values())
            .chain(self.unblocks.values())
            .chain(self.maintenance.values())
            .map(|i| i.stamp.clock)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(generation: u64, seq: u64, origin: &str) -> Stamp {
        Stamp {
            clock: generation * 1000 + seq,
            origin: origin.into(),
        }
    }

    fn mv(group: &str, to: Option<&str>) -> IntentKind {
        IntentKind::Move {
            group: group.into(),
            to: to.map(str::to_owned),
        }
    }

    #[test]
    fn the_newest_intent_wins_whatever_the_order() {
        let a = Intent {
            stamp: stamp(1, 5, "alpha"),
            what: mv("web", Some("beta")),
        };
        let b = Intent {
            stamp: stamp(1, 6, "alpha"),
            what: mv("web", None),
        };
        let c = Intent {
            stamp: stamp(2, 1, "beta"),
            what: mv("web", Some("gamma")),
        };
        for order in [[&a, &b, &c], [&c, &b, &a], [&b, &c, &a]] {
            let mut i = Intents::default();
            for x in order {
                i.merge(x);
            }
            assert_eq!(i.moved_to("web"), Some("gamma"));
        }
        let mut i = Intents::default();
        i.merge(&a);
        assert!(i.merge(&b));
        assert!(!i.merge(&a), "an older intent is ignored");
        assert_eq!(i.moved_to("web"), None, "cleared");
    }

    #[test]
    fn standby_and_moves_are_separate_slots() {
        let mut i = Intents::default();
        i.issue(
            stamp(1, 1, "a"),
            IntentKind::Standby {
                node: "beta".into(),
                on: true,
            },
        );
        i.issue(stamp(1, 2, "a"), mv("web", Some("beta")));
        assert!(i.standby("beta") && !i.standby("alpha"));
        assert_eq!(i.all(3).len(), 2);
        i.issue(
            stamp(1, 3, "a"),
            IntentKind::Standby {
                node: "beta".into(),
                on: false,
            },
        );
        assert!(!i.standby("beta"));
    }

    // Input: maintenance of the whole cluster and of one group, on and off in turn. Output: a
    // group is in maintenance while either slot says on; format 3 does not carry them.
    #[test]
    fn maintenance_of_the_cluster_and_of_a_group_are_separate_slots() {
        let mut i = Intents::default();
        let m = |group: Option<&str>, on| IntentKind::Maintenance {
            group: group.map(str::to_owned),
            on,
        };
        i.issue(stamp(1, 1, "a"), m(Some("web"), true));
        assert!(i.maintenance("web") && !i.maintenance("db"));
        i.issue(stamp(1, 2, "a"), m(None, true));
        assert!(i.maintenance("db"));
        i.issue(stamp(1, 3, "a"), m(Some("web"), false));
        assert!(i.maintenance("web"), "the cluster-wide slot still says on");
        i.issue(stamp(1, 4, "a"), m(None, false));
        assert!(!i.maintenance("web") && !i.maintenance("db"));
        assert_eq!(i.all(3).len(), 0);
        assert_eq!(i.all(4).len(), 2);
        assert_eq!(i.maintenance_intents().len(), 2);
        assert_eq!(i.newest_clock(), 1004);
    }
}
