//! Hostile datagrams on a real network: a forged "alpha is leaving" (signed with a key the
//! cluster does not have, or with a wrong secret under the right key id) and a replay of a
//! genuinely signed datagram from an earlier generation of alpha. None may move the group; each
//! kind is dropped and logged.

use std::time::Duration;

use haagent::auth::{Key, KeyRing};
use haagent::protocol::wire::{self, Datagram, Kind};

use super::*;

fn leaving_from_alpha(generation: u64) -> Datagram {
    Datagram {
        connectivity: 1,
        ..Datagram::bare(Kind::Leaving, "e2e", "alpha", generation, 1)
    }
}

/// Sends `bytes` to `to`:694 from the client's namespace.
fn send_from_client(c: &Cluster, to: Ipv4Addr, bytes: &[u8]) {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let script = format!(
        "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(bytes.fromhex('{hex}'), ('{to}', 694))"
    );
    let out = c.bed.client(&["python3", "-c", &script]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn forged_and_replayed_datagrams_change_nothing_and_are_dropped() {
    let spec = Spec::two("e2d", 50);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let real = KeyRing::parse(&std::fs::read_to_string(c.bed.state_dir().join("authkey")).unwrap())
        .unwrap();
    let real = real.signing();
    let beta = c.bed.ip("beta");
    let unknown_id = Key::new(real.id.wrapping_add(1).max(1), vec![7; 32]);
    let wrong_secret = Key::new(real.id, vec![9; 32]);
    let fresh = u64::MAX / 2; // newer than any real generation: only the MAC can stop it
    send_from_client(
        &c,
        beta,
        &wire::encode(&leaving_from_alpha(fresh), &unknown_id, 3).unwrap()[0],
    );
    send_from_client(
        &c,
        beta,
        &wire::encode(&leaving_from_alpha(fresh), &wrong_secret, 3).unwrap()[0],
    );
    send_from_client(
        &c,
        beta,
        &wire::encode(&leaving_from_alpha(1), real, 3).unwrap()[0],
    );
    let seen = never_twice(&c, Duration::from_secs(3));
    assert_eq!(seen, ["alpha"], "{}", journals(&c));
    let log = c.journal("beta");
    for why in ["unknown key id", "bad MAC", "replayed datagram"] {
        assert!(
            log.contains(why),
            "beta should log a drop for `{why}`:\n{log}"
        );
    }
    assert!(!log.contains("announced it is leaving"), "{log}");
}
