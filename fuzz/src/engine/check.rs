//! The invariants the engine target checks after every input. Each names what broke; a panic
//! here is a crash libFuzzer saves with the input that led to it.
//!
//! - Safety: a stateful group is acquired (started, not adopted) only with quorum, and never
//!   while a peer the engine counts alive says it starts, runs, stops or is blocked with it.
//!   (A VIP of a group held here is put back when it vanishes, quorum or not: a group adopted
//!   at start-up is kept without quorum for a grace period.)
//! - Sequence numbers: every datagram sent carries this run's generation and a sequence number
//!   no lower than the last one sent, of this run's range; every one encodes (it fits the
//!   format's pages) and is signed with a key the node holds.
//! - Actions name what exists: resources of a group of some manifest in force, fences of peers.
//! - Time: after a tick at its deadline, the next deadline is later (no busy loop).
//! - Bounded memory: per peer at most the manifest's links and nodes, the runs remembered
//!   within their cap, the status line and the status snapshot within a fixed size.
//!
//! Arithmetic overflow needs no check of its own: the targets are built with overflow checks,
//! so an overflow panics.

use haagent::auth::KeyRing;
use haagent::engine::{Action, Engine, EventKind, Time};
use haagent::manifest::limits;
use haagent::protocol::wire::{self, GroupState};

use crate::manifests;

/// A generous bound on the status snapshot's JSON for the small manifests here.
const MAX_SNAPSHOT: usize = 64 << 10;
/// Runs of a peer remembered as left behind (`engine/runs.rs`).
const MAX_RETIRED: usize = 8;

/// What the checks remember between inputs.
#[derive(Default)]
pub struct Checker {
    last_seq: Option<u64>,
    inputs: u64,
}

impl Checker {
    /// Checks the engine and the actions it returned for an input at `now`.
    pub fn after(&mut self, e: &Engine, now: Time, actions: &[Action], tick: bool, ring: &KeyRing) {
        self.inputs += 1;
        for a in actions {
            match a {
                // Adopting what an earlier run left running starts nothing: only an acquire
                // that starts something counts.
                Action::Log(ev) if ev.kind == EventKind::Acquire && starts(actions, &ev.group) => {
                    acquire(e, ev.group.as_deref())
                }
                Action::Send {
                    datagram,
                    key,
                    version,
                    ..
                } => {
                    let gen_base = (e.generation() & 0xffff_ffff) << 32;
                    assert_eq!(
                        datagram.generation,
                        e.generation(),
                        "a datagram of another run"
                    );
                    assert!(
                        datagram.seq >= gen_base,
                        "sequence {} below the run's range",
                        datagram.seq
                    );
                    if let Some(last) = self.last_seq {
                        assert!(
                            datagram.seq >= last,
                            "sequence went back from {last} to {}",
                            datagram.seq
                        );
                    }
                    self.last_seq = Some(datagram.seq);
                    let key = ring
                        .get(*key)
                        .unwrap_or_else(|| panic!("signs with key {key}, not held"));
                    if let Err(err) = wire::encode(datagram, key, *version) {
                        panic!("a datagram the engine sent does not encode: {err}");
                    }
                }
                Action::StartUnit { res, .. }
                | Action::StopUnit { res, .. }
                | Action::AddVip { res, .. }
                | Action::RemoveVip { res, .. }
                | Action::Announce { res, .. } => known(res),
                Action::Fence { node, .. } => {
                    assert!(node != e.me(), "fences itself");
                    assert!(
                        e.manifest().nodes.contains_key(node),
                        "fences {node}, no node"
                    );
                }
                _ => {}
            }
        }
        if tick && let Some(next) = e.next_deadline() {
            assert!(
                next > now,
                "after a tick at {now:?} the next deadline is {next:?}: a busy loop"
            );
        }
        bounded(e);
        if self.inputs.is_multiple_of(64) {
            self.at_end(e, now);
        }
    }

    /// The checks too costly for every input.
    pub fn at_end(&self, e: &Engine, now: Time) {
        let snapshot = serde_json::to_string(&e.snapshot(now)).expect("a snapshot serialises");
        assert!(
            snapshot.len() <= MAX_SNAPSHOT,
            "the snapshot has {} bytes",
            snapshot.len()
        );
    }
}

/// `res` is a resource of a group of some manifest in force.
fn known(res: &haagent::engine::ResourceRef) {
    let known = manifests::all().iter().any(|m| {
        m.groups
            .get(&res.group)
            .is_some_and(|g| res.index < g.resources.len())
    });
    assert!(known, "an action for {res}, which no manifest has");
}

/// Whether `actions` start a resource of `group`.
fn starts(actions: &[Action], group: &Option<String>) -> bool {
    actions.iter().any(|a| match a {
        Action::StartUnit { res, .. } | Action::AddVip { res, .. } => {
            Some(&res.group) == group.as_ref()
        }
        _ => false,
    })
}

/// A stateful group acquired here: quorum, and no live peer holding it.
fn acquire(e: &Engine, group: Option<&str>) {
    let Some(name) = group else {
        panic!("an acquire without a group");
    };
    let Some(g) = e.manifest().groups.get(name) else {
        panic!("acquires {name}, not a group of the manifest in force");
    };
    if !g.stateful {
        return;
    }
    assert!(e.quorate(), "acquires stateful group {name} without quorum");
    for (peer, p) in e.members().peers() {
        let holds = p.view.as_ref().is_some_and(|d| {
            d.groups.iter().any(|(n, s)| {
                n == name
                    && matches!(
                        s,
                        GroupState::Starting
                            | GroupState::Running
                            | GroupState::Stopping
                            | GroupState::Blocked
                    )
            })
        });
        assert!(
            !(p.state.alive() && holds),
            "acquires stateful group {name} while {peer} ({:?}) says it holds it",
            p.state
        );
    }
}

/// What the engine keeps stays within the manifest's limits.
fn bounded(e: &Engine) {
    let m = e.manifest();
    let peers = e.members().peers();
    assert!(
        peers.len() < m.nodes.len().max(1),
        "{} peers for {} nodes",
        peers.len(),
        m.nodes.len()
    );
    for (name, p) in peers {
        assert!(
            m.nodes.contains_key(name),
            "a peer {name} not in the manifest"
        );
        assert!(
            p.links.len() <= limits::MAX_LINKS,
            "{name}: {} links",
            p.links.len()
        );
        assert!(
            p.vouches.len() <= limits::MAX_NODES,
            "{name}: {} vouches",
            p.vouches.len()
        );
        assert!(
            p.runs.retired.len() <= MAX_RETIRED,
            "{name}: {} runs retired",
            p.runs.retired.len()
        );
    }
    assert!(
        e.runners().len() <= limits::MAX_GROUPS,
        "{} runners",
        e.runners().len()
    );
    assert!(
        e.status().len() <= 4096,
        "a status of {} bytes",
        e.status().len()
    );
}
