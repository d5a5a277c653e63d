//! Byte-vector, round-trip, rejection and robustness tests of the datagram codec.

use super::*;
use crate::auth::Key;

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
        digest: 0,
        versions: 1 << 2,
        keys: vec![7],
        group_digests: vec![],
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

fn names() -> Names {
    let nodes = ["alpha", "beta", "gamma"].map(String::from);
    let groups = ["web", "db", "x"].map(String::from);
    Names::new(&nodes, &groups)
}

/// Encodes in format `v` as one page.
fn one(d: &Datagram, key: &Key, v: u8) -> Vec<u8> {
    let mut pages = encode(d, key, v).unwrap();
    assert_eq!(pages.len(), 1);
    pages.pop().unwrap()
}

fn dec(bytes: &[u8], keys: &KeyRing, cluster: &str) -> Result<Datagram, DecodeError> {
    decode(bytes, keys, cluster, &names()).map(|p| p.datagram)
}

fn encode1(d: &Datagram, key: &Key) -> Vec<u8> {
    one(d, key, 3)
}

#[test]
fn encodes_format_2_to_the_documented_bytes() {
    let bytes = one(&minimal(), keys().signing(), 2);
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

// Input: the datagram above from a node that accepts formats 2 to 4, in format 2; then
// 0.1.0's bytes (byte 7 zero). Output: byte 7 says 0x1c and decodes back to formats 2 to 4;
// 0.1.0's zero decodes as format 2 only.
#[test]
fn format_2_says_which_formats_the_sender_accepts_and_0_1_0_says_none() {
    let mut d = minimal();
    d.versions = SPOKEN;
    let bytes = one(&d, keys().signing(), 2);
    let body = "48414147 02 01 07 1c 03776562 05616c706861 0000000000000003 000000000000002a 0001 02 01 0462657461 0000000000000009 01 03776562 02 00 01 07";
    assert_eq!(hex(&bytes[..bytes.len() - MAC_LEN]), body.replace(' ', ""));
    // As above, with Python's `hmac`.
    assert_eq!(
        hex(&bytes[bytes.len() - MAC_LEN..]),
        "8ce9327a6fda6085e6d4fee2633f928fa64cf10a632755768cc50e434ee2e170"
    );
    assert_eq!(dec(&bytes, &keys(), "web").unwrap().versions, SPOKEN);
    let old = one(&minimal(), keys().signing(), 2);
    assert_eq!(old[7], 0);
    assert_eq!(dec(&old, &keys(), "web").unwrap().versions, 1 << 2);
}

#[test]
fn encodes_format_3_to_the_documented_bytes() {
    let mut d = minimal();
    d.digest = 0x0102_0304_0506_0708;
    // As the previous release says it: formats 2 and 3.
    d.versions = 1 << 2 | 1 << 3;
    let bytes = one(&d, keys().signing(), 3);
    // beta = fnv1a32 0xaf81e4c7, web = 0x0fd9bc91 (see `names::hash`).
    let body = "48414147 03 01 07 02 00 01 03776562 05616c706861 0000000000000003 000000000000002a 0001 0102030405060708 0c 01 af81e4c7 0000000000000009 01 07 0001 0fd9bc91 02 00";
    let body = body.replace(' ', "");
    assert_eq!(hex(&bytes[..bytes.len() - MAC_LEN]), body);
    // HMAC-SHA256 of the body with key 7's secret, computed independently with Python's
    // `hmac.new(bytes(range(32)), body, hashlib.sha256)`.
    assert_eq!(hex(&bytes[bytes.len() - MAC_LEN..]), V3_MAC);
}

const V3_MAC: &str = "f91894a65f6909c47a7800b3b4b37d0bb738516c15559bd100bf3706ef32ac3c";

#[test]
fn round_trips_every_field_in_both_formats() {
    for d in [minimal(), full()] {
        let bytes = one(&d, keys().signing(), 2);
        assert_eq!(dec(&bytes, &keys(), "web"), Ok(d.clone()));
        let mut d3 = d.clone();
        d3.versions = SPOKEN;
        d3.digest = 77;
        let bytes = one(&d3, keys().signing(), 3);
        assert_eq!(dec(&bytes, &keys(), "web"), Ok(d3));
    }
}

#[test]
fn format_2_says_stopping_for_blocked_and_cannot_say_too_much() {
    let mut d = minimal();
    d.groups = vec![("web".into(), GroupState::Blocked)];
    let back = dec(&one(&d, keys().signing(), 2), &keys(), "web").unwrap();
    assert_eq!(back.groups, [("web".into(), GroupState::Stopping)]);
    d.seen = (0..300).map(|i| (format!("n{i}"), i)).collect();
    assert_eq!(
        encode(&d, keys().signing(), 2),
        Err(EncodeError::TooMany("peers"))
    );
    d.seen = (0..40).map(|i| (format!("{i:-<60}"), i)).collect();
    assert_eq!(encode(&d, keys().signing(), 2), Err(EncodeError::TooBig));
}

/// A datagram at every limit: 32 nodes, 256 groups of 63-byte names (all running on the
/// sender), 64 intents.
fn at_the_limits() -> (Datagram, Names) {
    let nodes: Vec<String> = (0..32).map(|i| format!("{i:n>63}")).collect();
    let groups: Vec<String> = (0..256).map(|i| format!("{i:g>63}")).collect();
    let mut d = minimal();
    d.sender = nodes[0].clone();
    d.versions = SPOKEN;
    d.seen = nodes[1..].iter().map(|n| (n.clone(), u64::MAX)).collect();
    d.groups = groups
        .iter()
        .map(|g| (g.clone(), GroupState::Running))
        .collect();
    d.intents = (0..64u64)
        .map(|i| Intent {
            stamp: Stamp {
                clock: i,
                origin: nodes[(i % 32) as usize].clone(),
            },
            what: IntentKind::Move {
                group: groups[i as usize].clone(),
                to: Some(nodes[((i + 1) % 32) as usize].clone()),
            },
        })
        .collect();
    d.keys = (1..=255).collect();
    (d, Names::new(&nodes, &groups))
}

#[test]
fn a_datagram_at_every_limit_takes_a_few_pages_and_comes_back_whole() {
    let (d, names) = at_the_limits();
    let pages = encode(&d, keys().signing(), 3).unwrap();
    assert!((2..=4).contains(&pages.len()), "{} pages", pages.len());
    assert!(pages.iter().all(|p| p.len() <= MAX_LEN));
    // In any order, with a page repeated: whole once every page is in.
    let mut a = pages::Assembler::default();
    let mut order: Vec<usize> = (0..pages.len()).rev().collect();
    order.insert(1, order[0]);
    let mut whole = None;
    for (n, i) in order.iter().enumerate() {
        let page = decode(&pages[*i], &keys(), "web", &names).unwrap();
        let got = a.push(page);
        if n + 1 < order.len() {
            assert_eq!(got, None, "whole after {} pages of {}", n + 1, order.len());
        } else {
            whole = got;
        }
    }
    assert_eq!(whole, Some(d));
}

#[test]
fn a_newer_datagram_drops_the_pages_of_an_older_one() {
    let (d, names) = at_the_limits();
    let old = encode(&d, keys().signing(), 3).unwrap();
    let mut newer = d.clone();
    newer.seq += 1;
    let new = encode(&newer, keys().signing(), 3).unwrap();
    let mut a = pages::Assembler::default();
    let page = |b: &[u8]| decode(b, &keys(), "web", &names).unwrap();
    assert_eq!(a.push(page(&old[0])), None);
    assert_eq!(a.push(page(&new[0])), None);
    for p in &old[1..] {
        assert_eq!(a.push(page(p)), None, "the older datagram is dropped");
    }
    let mut got = None;
    for p in &new[1..] {
        got = a.push(page(p));
    }
    assert_eq!(got, Some(newer));
}

#[test]
fn names_no_manifest_has_read_as_unknown() {
    let mut d = minimal();
    d.versions = SPOKEN;
    d.groups = vec![("added-elsewhere".into(), GroupState::Running)];
    let back = dec(&one(&d, keys().signing(), 3), &keys(), "web").unwrap();
    assert_eq!(
        back.groups[0].0,
        names::unknown(names::hash("added-elsewhere"))
    );
}

#[test]
fn every_key_of_the_ring_is_accepted_and_others_are_not() {
    let d = minimal();
    let ring2 = keys();
    let second = &ring2.keys()[1];
    assert_eq!(
        dec(&encode1(&d, second), &keys(), "web").map(|x| x.seq),
        Ok(d.seq)
    );
    let other = ring(&format!("8 {HEX_A}\n"));
    assert_eq!(
        dec(&encode1(&d, other.signing()), &keys(), "web"),
        Err(DecodeError::UnknownKey)
    );
    let same_id_other_secret = ring(&format!("7 {HEX_B}\n"));
    assert_eq!(
        dec(&encode1(&d, same_id_other_secret.signing()), &keys(), "web"),
        Err(DecodeError::BadMac)
    );
}

#[test]
fn rejects_each_kind_of_bad_input() {
    let good = encode1(&minimal(), keys().signing());
    let check = |bytes: &[u8], want: DecodeError| {
        assert_eq!(dec(bytes, &keys(), "web"), Err(want), "{}", hex(bytes))
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
    assert_eq!(dec(&good, &keys(), "db"), Err(DecodeError::WrongCluster));
}

#[test]
fn authenticated_garbage_is_malformed_not_a_panic() {
    let key = keys();
    let sign = |body: &[u8]| seal(body.to_vec(), key.signing());
    let good = encode1(&minimal(), key.signing());
    let body = &good[..good.len() - MAC_LEN];
    let mut trailing = body.to_vec();
    trailing.push(0);
    assert_eq!(
        dec(&sign(&trailing), &key, "web"),
        Err(DecodeError::Malformed)
    );
    let mut kind = body.to_vec();
    kind[5] = 9;
    assert_eq!(dec(&sign(&kind), &key, "web"), Err(DecodeError::Malformed));
    assert_eq!(
        dec(&sign(&body[..body.len() - 3]), &key, "web"),
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
        one(&minimal(), key.signing(), 2),
        one(&full(), key.signing(), 2),
        one(&minimal(), key.signing(), 3),
        one(&full(), key.signing(), 3),
    ];
    for i in 0..20_000 {
        let seed = &seeds[i % seeds.len()];
        let mut body = seed[..seed.len() - MAC_LEN].to_vec();
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
        let _ = dec(&seal(body, key.signing()), &key, "web");
    }
}

#[test]
fn names_too_long_for_the_format_are_an_error_not_a_cut() {
    let mut d = minimal();
    d.sender = "é".repeat(200);
    for v in [2, 3] {
        assert!(matches!(
            encode(&d, keys().signing(), v),
            Err(EncodeError::TooLong(_))
        ));
    }
}

// Input: a datagram with a maintenance intent (cluster-wide and per group) and group digests.
// Output: format 4 carries both back; formats 3 and 2 refuse to encode them rather than drop
// them silently, and a format 3 page with a kind 4 intent is malformed (as the previous
// release's decoder finds it).
#[test]
fn format_4_carries_maintenance_and_group_digests_and_older_formats_refuse_them() {
    let mut d = minimal();
    d.versions = SPOKEN;
    d.intents = vec![
        Intent {
            stamp: Stamp {
                clock: 5,
                origin: "beta".into(),
            },
            what: IntentKind::Maintenance {
                group: None,
                on: true,
            },
        },
        Intent {
            stamp: Stamp {
                clock: 6,
                origin: "alpha".into(),
            },
            what: IntentKind::Maintenance {
                group: Some("web".into()),
                on: false,
            },
        },
    ];
    d.group_digests = vec![("web".into(), 0xdead_beef)];
    let bytes = one(&d, keys().signing(), 4);
    assert_eq!(bytes[4], 4);
    assert_eq!(dec(&bytes, &keys(), "web"), Ok(d.clone()));
    assert_eq!(
        encode(&d, keys().signing(), 3),
        Err(EncodeError::Version(3))
    );
    assert_eq!(
        encode(&d, keys().signing(), 2),
        Err(EncodeError::Version(2))
    );
    let mut only_digests = minimal();
    only_digests.group_digests = vec![("web".into(), 1)];
    assert_eq!(
        encode(&only_digests, keys().signing(), 3),
        Err(EncodeError::Version(3))
    );
    // The same body relabelled format 3 and signed again: the kind 4 intent is unknown there.
    let mut body = bytes[..bytes.len() - MAC_LEN].to_vec();
    body[4] = 3;
    let relabelled = seal(body, keys().signing());
    assert_eq!(
        dec(&relabelled, &keys(), "web"),
        Err(DecodeError::Malformed)
    );
}

// Input: a datagram at every limit with 256 group digests. Output: at most 16 pages, each
// within MAX_LEN, and the whole comes back.
#[test]
fn group_digests_at_the_limits_fit_in_a_few_more_pages() {
    let (mut d, names) = at_the_limits();
    d.group_digests = d.groups.iter().map(|(g, _)| (g.clone(), 7)).collect();
    let pages = encode(&d, keys().signing(), 4).unwrap();
    assert!((3..=6).contains(&pages.len()), "{} pages", pages.len());
    assert!(pages.iter().all(|p| p.len() <= MAX_LEN));
    let mut a = pages::Assembler::default();
    let mut whole = None;
    for p in &pages {
        whole = a.push(decode(p, &keys(), "web", &names).unwrap());
    }
    assert_eq!(whole, Some(d));
}
