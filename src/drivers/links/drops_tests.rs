//! Drop accounting: counts by reason and source, the bound on sources, the summary's rhythm.

use std::net::Ipv4Addr;

use super::*;

fn ip(last: u8) -> IpAddr {
    Ipv4Addr::new(10, 98, 90, last).into()
}

fn ip16(n: u16) -> IpAddr {
    Ipv4Addr::from(0x0a00_0000u32 + u32::from(n)).into()
}

#[test]
fn drops_are_counted_by_reason_and_source() {
    let mut l = Ledger::default();
    l.count("bad_mac", ip(100), 3);
    l.count("bad_mac", ip(101), 1);
    l.count(WRONG_SOURCE, ip(100), 64);
    let r = l.report();
    assert_eq!(r["bad_mac"].total, 4);
    assert_eq!(r["bad_mac"].from["10.98.90.100"], 3);
    assert_eq!(r["bad_mac"].from["10.98.90.101"], 1);
    assert_eq!(r[WRONG_SOURCE].total, 64);
    assert!(!r.contains_key("replay"));
}

#[test]
fn sources_are_bounded_and_the_biggest_are_shown() {
    let mut l = Ledger::default();
    // A spoofed flood from 10,000 addresses, one datagram each, and one heavy source.
    for n in 0..10_000u16 {
        l.count("bad_mac", ip16(n), 1);
    }
    l.count("bad_mac", ip(7), 5_000);
    let r = &l.report()["bad_mac"];
    assert_eq!(r.total, 15_000);
    assert!(r.from.len() <= SHOWN_SOURCES + 1, "{}", r.from.len());
    assert_eq!(r.from["10.98.90.7"], 5_000, "the heavy source surfaces");
    assert_eq!(
        r.from.values().sum::<u64>(),
        15_000,
        "nothing lost: the rest is other"
    );
    assert!(r.from["other"] >= 9_000);
    let tracked = l.since_start["bad_mac"].from.len();
    assert!(tracked <= TRACKED_SOURCES, "{tracked}");
}

#[test]
fn a_summary_at_most_once_a_minute_while_drops_continue() {
    let mut l = Ledger::default();
    let t0 = Instant::now();
    assert_eq!(l.summary_due(t0), None, "nothing dropped, nothing said");
    l.count("bad_mac", ip(100), 10);
    let first = l.summary_due(t0).expect("the first drop is said at once");
    assert!(first.contains("bad_mac: 10"), "{first}");
    assert!(first.contains("10.98.90.100: 10"), "{first}");

    // Drops go on: nothing more until a minute has passed, then one line for all of them.
    for s in 1..60 {
        l.count("bad_mac", ip(100), 1000);
        l.count(WRONG_SOURCE, ip(200), 64);
        assert_eq!(l.summary_due(t0 + Duration::from_secs(s)), None, "at {s} s");
    }
    let next = l.summary_due(t0 + SUMMARY_EVERY).expect("a minute later");
    assert!(next.contains("bad_mac: 59000"), "{next}");
    assert!(
        next.contains("wrong_source: 3776 (from 10.98.90.200: 3776)"),
        "{next}"
    );
    assert!(next.starts_with("in the last 60 s"), "{next}");

    // Drops stop: silence.
    assert_eq!(l.summary_due(t0 + SUMMARY_EVERY * 5), None);
    assert_eq!(
        l.report()["bad_mac"].total,
        59_010,
        "totals since start remain"
    );
}
