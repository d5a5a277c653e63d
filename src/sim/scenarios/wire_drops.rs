//! Datagrams that must change nothing: replayed, forged, signed with an unknown key.

use super::two_node;
use crate::auth::KeyRing;
use crate::engine::{Action, EventKind, Input};
use crate::protocol::wire::{self, Datagram, DecodeError, Kind};
use crate::sim::World;
use crate::sim::script::KEY;

/// The last datagram `node` sent before `before`, and the key id it was signed with.
fn sent_by(c: &World, node: &str, before: u64) -> (Datagram, u8) {
    c.log
        .iter()
        .rev()
        .filter(|r| r.node == node && r.at.0 < before)
        .find_map(|r| match &r.action {
            Action::Send { datagram, key, .. } => Some((datagram.clone(), *key)),
            _ => None,
        })
        .expect("a datagram")
}

/// The bytes of `alpha`'s last datagram, changed to `kind`, signed with `ring`'s first key.
fn datagram(c: &World, kind: Kind, ring: &str) -> Vec<u8> {
    let (mut d, _) = sent_by(c, "alpha", c.now().0 + 1);
    d.kind = kind;
    d.seq += 1000;
    wire::encode(&d, KeyRing::parse(ring).unwrap().signing(), 3)
        .unwrap()
        .remove(0)
}

// Input: alpha crashes; its heartbeats are replayed to beta afterwards. Output: each replay is
// dropped and counted (logged once), and beta still takes over dead_after after the crash.
#[test]
fn replayed_heartbeats_do_not_keep_a_dead_node_alive() {
    let mut c = World::running(two_node(""), 2000);
    let (old, _) = sent_by(&c, "alpha", 2000);
    c.power_off("alpha");
    for t in [2100, 2200, 2300, 2400] {
        c.run_until(t);
        c.feed(
            "beta",
            Input::Heard {
                link: "link0".into(),
                datagram: old.clone(),
            },
        );
    }
    c.run_until(3000);
    assert_eq!(
        c.engine("beta").unwrap().drops().get(DecodeError::Replay),
        4
    );
    let logged = c
        .log
        .iter()
        .filter(|r| matches!(&r.action, Action::Log(e) if e.kind == EventKind::Dropped))
        .count();
    assert_eq!(logged, 1, "a flood is logged once");
    let start = c
        .first_start("beta", "web", 2000)
        .expect("beta takes over")
        .0;
    assert!(
        start >= 2400,
        "beta started at {start}: a replay kept alpha alive? no, too early"
    );
}

// Input: a forged "leaving" from alpha (right format, wrong secret), and one signed with a key
// id beta does not have. Output: both dropped and counted; beta does not take the group.
#[test]
fn forged_datagrams_change_nothing() {
    let mut c = World::running(two_node(""), 2000);
    let forged = datagram(
        &c,
        Kind::Leaving,
        "1 0101010101010101010101010101010101010101010101010101010101010101\n",
    );
    let unknown = datagram(
        &c,
        Kind::Leaving,
        "7 5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e\n",
    );
    let (d, _) = sent_by(&c, "alpha", 2000);
    let mut flipped = wire::encode(&d, KeyRing::parse(KEY).unwrap().signing(), 3)
        .unwrap()
        .remove(0);
    flipped[20] ^= 1;
    for bytes in [forged, unknown, flipped] {
        c.deliver_bytes("beta", &bytes);
    }
    c.run_until(3000);
    let drops = c.link_drops("beta");
    assert_eq!(
        (
            drops.get(DecodeError::BadMac),
            drops.get(DecodeError::UnknownKey)
        ),
        (2, 1)
    );
    assert!(
        c.steps("beta", 2000).is_empty(),
        "{:?}",
        c.steps("beta", 2000)
    );
    assert_eq!(c.holders("web"), ["alpha"]);
    assert!(c.engine("beta").unwrap().members().state("alpha").alive());
}

/// The key id a datagram of `node` sent before `before` was signed with.
fn signed_with(c: &World, node: &str, before: u64) -> u8 {
    sent_by(c, node, before).1
}

// Input: both nodes load a ring with a new key 2 in front of key 1, one after the other, then
// drop key 1, one after the other. Output: each signs with key 2 only once the other accepts
// it, so no datagram is dropped at any step and nothing moves.
#[test]
fn a_key_rotation_in_any_order_drops_nothing() {
    const NEW: &str = "2 a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\n";
    let ring = |text: &str| KeyRing::parse(text).unwrap();
    let mut c = World::running(two_node(""), 3000);
    let holders = c.holders("web");
    c.set_keys("alpha", ring(&format!("{NEW}{KEY}")));
    c.run_until(4000);
    assert_eq!(
        signed_with(&c, "alpha", 4000),
        1,
        "beta does not accept key 2 yet"
    );
    c.set_keys("beta", ring(&format!("{NEW}{KEY}")));
    c.run_until(5000);
    assert_eq!(signed_with(&c, "alpha", 5000), 2);
    assert_eq!(signed_with(&c, "beta", 5000), 2);
    c.set_keys("beta", ring(NEW));
    c.run_until(6000);
    c.set_keys("alpha", ring(NEW));
    c.run_until(8000);
    for node in ["alpha", "beta"] {
        let drops = c.link_drops(node);
        assert_eq!(
            drops,
            crate::protocol::DropCounts::default(),
            "{node}: {drops:?}"
        );
    }
    assert_eq!(c.holders("web"), holders);
    let late = c.log.iter().any(|r| {
        matches!(&r.action, Action::Log(e) if matches!(e.kind, EventKind::PeerLate | EventKind::PeerDead))
    });
    assert!(!late, "a peer was late or dead during the rotation");
}
