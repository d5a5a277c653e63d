//! Byte-vector, round-trip, rejection and robustness tests of the datagram codec.

use super::*;

const HEX_A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const HEX_B: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

fn ring(text: &str) -> KeyRing {
    KeyRing::parse(text).unwrap()
}

fn keys() -> KeyRing {
    ring(&format!("7 {HEX_A}\n9 {HEX_B}\n"))
}

fn minimal() -> Datagram {
    Datagram {
        kind: Kind::Heartbeat,
        cluster: "web".into(),
        sender: "alpha".into(),
        generation: 3,
        seq: 42,
        connectivity: 1,
        standby: false,
        quorate: true,
        seen: vec![("beta".into(), 9)],
        groups: vec![("web".into(), GroupState::Running)],
        intents: vec![],
        keys: vec![7],
    }
}

fn full() -> Datagram {
    Datagram {
        kind: Kind::Leaving,
        standby: true,
        groups: vec![
            ("db".into(), GroupState::Starting),
            ("web".into(), GroupState::Stopping),
            ("x".into(), GroupState::Failed),
        ],
        intents: vec![
            Intent {
                stamp: Stamp {
                    clock: 207,
                    origin: "beta".into(),
                },
                what: IntentKind::Move {
                    group: "web".into(),
                    to: Some("beta".into()),
                },
            },
            Intent {
                stamp: Stamp {
                    clock: 208,
                    origin: "beta".into(),
                },
                what: IntentKind::Move {
                    group: "db".into(),
                    to: None,
                },
            },
            Intent {
                stamp: Stamp {
                    clock: 101,
                    origin: "alpha".into(),
                },
                what: IntentKind::Standby {
                    node: "gamma".into(),
                    on: true,
                },
            },
        ],
        keys: vec![7, 3, 255],
        ..minimal()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn encodes_to_the_documented_bytes() {
    let bytes = encode(&minimal(), keys().signing());
    let body = "48414147 02 01 07 00 03776562 05616c706861 0000000000000003 000000000000002a 0001 02 01 0462657461 0000000000000009 01 03776562 02 00 01 07";
    let body = body.replace(' ', "");
    assert_eq!(hex(&bytes[..bytes.len() - MAC_LEN]), body);
    // HMAC-SHA256 of the body with key 7's secret, computed independently with Python's
    // `hmac.new(bytes(range(32)), body, hashlib.sha256)`.
    assert_eq!(
        hex(&bytes[bytes.len() - MAC_LEN..]),
        "9a7cddacd5c69c1482e11514c996594f87443885f0800331242506612bfe4a4a"
    );
}

#[test]
fn round_trips_every_field() {
    for d in [minimal(), full()] {
        let bytes = encode(&d, keys().signing());
        assert_eq!(decode(&bytes, &keys(), "web"), Ok(d));
    }
}

#[test]
fn every_key_of_the_ring_is_accepted_and_others_are_not() {
    let d = minimal();
    let ring2 = keys();
    let second = &ring2.keys()[1];
    assert_eq!(decode(&encode(&d, second), &keys(), "web"), Ok(d.clone()));
    let other = ring(&format!("8 {HEX_A}\n"));
    assert_eq!(
        decode(&encode(&d, other.signing()), &keys(), "web"),
        Err(DecodeError::UnknownKey)
    );
    let same_id_other_secret = ring(&format!("7 {HEX_B}\n"));
    assert_eq!(
        decode(&encode(&d, same_id_other_secret.signing()), &keys(), "web"),
        Err(DecodeError::BadMac)
    );
}

#[test]
fn rejects_each_kind_of_bad_input() {
    let good = encode(&minimal(), keys().signing());
    let check = |bytes: &[u8], want: DecodeError| {
        assert_eq!(decode(bytes, &keys(), "web"), Err(want), "{}", hex(bytes))
    };
    check(&good[..20], DecodeError::Truncated);
    check(&[], DecodeError::Truncated);
    check(&vec![0u8; MAX_LEN + 1], DecodeError::Oversized);
    let mut b = good.clone();
    b[0] = b'X';
    check(&b, DecodeError::BadMagic);
    let mut b = good.clone();
    b[4] = VERSION + 1;
    check(&b, DecodeError::Version);
    for i in [5, 9, 20, good.len() - 40, good.len() - 1] {
        let mut b = good.clone();
        b[i] ^= 0x40;
        check(&b, DecodeError::BadMac);
    }
    assert_eq!(decode(&good, &keys(), "db"), Err(DecodeError::WrongCluster));
}

#[test]
fn authenticated_garbage_is_malformed_not_a_panic() {
    let key = keys();
    let sign = |body: &[u8]| seal(body.to_vec(), key.signing());
    let good = encode(&minimal(), key.signing());
    let body = &good[..good.len() - MAC_LEN];
    let mut trailing = body.to_vec();
    trailing.push(0);
    assert_eq!(
        decode(&sign(&trailing), &key, "web"),
        Err(DecodeError::Malformed)
    );
    let mut kind = body.to_vec();
    kind[5] = 9;
    assert_eq!(
        decode(&sign(&kind), &key, "web"),
        Err(DecodeError::Malformed)
    );
    assert_eq!(
        decode(&sign(&body[..body.len() - 3]), &key, "web"),
        Err(DecodeError::Truncated)
    );
}

/// xorshift64*: a tiny deterministic generator, so every run tries the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn never_panics_on_mutated_or_random_authenticated_input() {
    let key = keys();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let seeds = [
        encode(&minimal(), key.signing()),
        encode(&full(), key.signing()),
    ];
    for i in 0..20_000 {
        let mut body = seeds[i % 2][..seeds[i % 2].len() - MAC_LEN].to_vec();
        match rng.next() % 4 {
            0 => {
                let at = 8 + (rng.next() as usize) % (body.len() - 8);
                body[at] = rng.next() as u8;
            }
            1 => body.truncate(8 + (rng.next() as usize) % (body.len() - 8)),
            2 => body.extend((0..rng.next() % 64).map(|_| rng.next() as u8)),
            _ => {
                body.truncate(8);
                body.extend((0..rng.next() % 300).map(|_| rng.next() as u8));
            }
        }
        // Sign the mutation so the parser, not the MAC check, meets it.
        let _ = decode(&seal(body, key.signing()), &key, "web");
    }
}

#[test]
fn long_fields_are_cut_to_fit() {
    let mut d = minimal();
    d.seen = (0..300).map(|i| (format!("{i:-<60}"), i)).collect();
    let bytes = encode(&d, keys().signing());
    assert!(bytes.len() <= MAX_LEN);
    let back = decode(&bytes, &keys(), "web").unwrap();
    assert!(back.seen.len() < 300 && back.seen[..] == d.seen[..back.seen.len()]);
    let mut d = minimal();
    d.sender = "é".repeat(200);
    let back = decode(&encode(&d, keys().signing()), &keys(), "web").unwrap();
    assert_eq!(back.sender.len(), 254, "cut on a character boundary");
}
