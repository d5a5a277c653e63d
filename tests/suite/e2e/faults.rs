//! Hostile datagrams on a real network: a forged "alpha is leaving" (signed with a key the
//! cluster does not have, or with a wrong secret under the right key id) and a replay of a
//! genuinely signed datagram from an earlier generation of alpha. None may move the group; each
//! kind is dropped and logged. They are sent from the client with alpha's address forged as
//! their source.

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

/// Sends `bytes` to `to`:694 from the client's namespace, with alpha's address forged as the
/// source: the links' kernel filter lets only the manifest's addresses through, so a forgery
/// that is to reach the MAC check must claim to come from a node.
fn send_from_client(c: &Cluster, to: Ipv4Addr, bytes: &[u8]) {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let from = c.bed.ip("alpha");
    let script = format!(
        "import socket, struct\n\
         p = bytes.fromhex('{hex}')\n\
         src, dst = socket.inet_aton('{from}'), socket.inet_aton('{to}')\n\
         ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 28 + len(p), 0, 0, 64, 17, 0, src, dst)\n\
         udp = struct.pack('!HHHH', 694, 694, 8 + len(p), 0)\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)\n\
         s.sendto(ip + udp + p, ('{to}', 0))\n"
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
    // The forgeries are counted by reason and source in status (the journal sums drops at
    // most once a minute); the replay passes the MAC and is the engine's to drop and log.
    let out = c.ctl("beta", &["status", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let alpha = c.bed.ip("alpha").to_string();
    for why in ["unknown_key", "bad_mac"] {
        let n = s["dropped"][why]["from"][&alpha].as_u64().unwrap_or(0);
        assert_eq!(n, 1, "beta should count one `{why}` drop from alpha: {s}");
    }
    let log = c.journal("beta");
    assert!(log.contains("heartbeat datagrams dropped"), "{log}");
    assert!(
        log.contains("replayed datagram"),
        "beta should log the replay:\n{log}"
    );
    assert!(!log.contains("announced it is leaving"), "{log}");
}
