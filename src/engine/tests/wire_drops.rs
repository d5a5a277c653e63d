//! Datagrams that must change nothing: replayed, forged, signed with an unknown key.

use super::cluster::{Cluster, KEY, two_node};
use crate::auth::KeyRing;
use crate::engine::{Action, EventKind, Input};
use crate::protocol::wire::{self, DecodeError, Kind};

fn sent_by(c: &Cluster, node: &str, before: u64) -> Vec<u8> {
    c.log
        .iter()
        .rev()
        .filter(|r| r.node == node && r.at.0 < before)
        .find_map(|r| match &r.action {
            Action::Send { bytes, .. } => Some(bytes.clone()),
            _ => None,
        })
        .expect("a datagram")
}

fn datagram(c: &Cluster, kind: Kind, ring: &str) -> Vec<u8> {
    let keys = KeyRing::parse(KEY).unwrap();
    let mut d = wire::decode(&sent_by(c, "alpha", c.now.0 + 1), &keys, "c").unwrap();
    d.kind = kind;
    d.seq += 1000;
    wire::encode(&d, KeyRing::parse(ring).unwrap().signing())
}

// Input: alpha crashes; its heartbeats are replayed to beta afterwards. Output: each replay is
// dropped and counted (logged once), and beta still takes over dead_after after the crash.
#[test]
fn replayed_heartbeats_do_not_keep_a_dead_node_alive() {
    let mut c = Cluster::running(two_node(""), 2000);
    let old = sent_by(&c, "alpha", 2000);
    c.crash("alpha");
    for t in [2100, 2200, 2300, 2400] {
        c.run_until(t);
        c.input(
            "beta",
            Input::Datagram {
                link: "link0".into(),
                bytes: old.clone(),
            },
        );
    }
    c.run_until(3000);
    assert_eq!(c.engines["beta"].drops().get(DecodeError::Replay), 4);
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
    let mut c = Cluster::running(two_node(""), 2000);
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
    let mut flipped = sent_by(&c, "alpha", 2000);
    flipped[20] ^= 1;
    for bytes in [forged, unknown, flipped] {
        c.input(
            "beta",
            Input::Datagram {
                link: "link0".into(),
                bytes,
            },
        );
    }
    c.run_until(3000);
    let drops = c.engines["beta"].drops();
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
    assert!(c.engines["beta"].members().state("alpha").alive());
}

/// The key id a datagram of `node` sent before `before` was signed with (byte 6).
fn signed_with(c: &Cluster, node: &str, before: u64) -> u8 {
    sent_by(c, node, before)[6]
}

// Input: both nodes load a ring with a new key 2 in front of key 1, one after the other, then
// drop key 1, one after the other. Output: each signs with key 2 only once the other accepts
// it, so no datagram is dropped at any step and nothing moves.
#[test]
fn a_key_rotation_in_any_order_drops_nothing() {
    const NEW: &str = "2 a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\n";
    let ring = |text: &str| KeyRing::parse(text).unwrap();
    let mut c = Cluster::running(two_node(""), 3000);
    let holders = c.holders("web");
    c.engines
        .get_mut("alpha")
        .unwrap()
        .set_keys(ring(&format!("{NEW}{KEY}")));
    c.run_until(4000);
    assert_eq!(
        signed_with(&c, "alpha", 4000),
        1,
        "beta does not accept key 2 yet"
    );
    c.engines
        .get_mut("beta")
        .unwrap()
        .set_keys(ring(&format!("{NEW}{KEY}")));
    c.run_until(5000);
    assert_eq!(signed_with(&c, "alpha", 5000), 2);
    assert_eq!(signed_with(&c, "beta", 5000), 2);
    c.engines.get_mut("beta").unwrap().set_keys(ring(NEW));
    c.run_until(6000);
    c.engines.get_mut("alpha").unwrap().set_keys(ring(NEW));
    c.run_until(8000);
    for node in ["alpha", "beta"] {
        let drops = c.engines[node].drops();
        assert_eq!(
            drops,
            &crate::protocol::DropCounts::default(),
            "{node}: {drops:?}"
        );
    }
    assert_eq!(c.holders("web"), holders);
    let late = c.log.iter().any(|r| {
        matches!(&r.action, Action::Log(e) if matches!(e.kind, EventKind::PeerLate | EventKind::PeerDead))
    });
    assert!(!late, "a peer was late or dead during the rotation");
}
