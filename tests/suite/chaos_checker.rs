//! The campaign's checker on recorded timelines (no hosts needed): what counts as
//! double-active time, the documented race after a thaw, false failovers, gaps by fault,
//! availability and convergence; the kernel's address table as the checker reads it; and the
//! seeded generator the nemesis draws from.

use std::net::Ipv4Addr;

use haagent_testbed::chaos::faults::{Fault, Kind};
use haagent_testbed::chaos::rng::Rng;
use haagent_testbed::chaos::setup::Timers;
use haagent_testbed::chaos::verdict::judge;
use haagent_testbed::chaos::watch::{HostSeen, Timeline, local_addrs};

fn host(unit: bool, vips: u8, frozen: bool) -> HostSeen {
    HostSeen {
        up: true,
        frozen,
        vips,
        unit,
    }
}

fn fault(kind: Kind, host: usize, start_ms: u64, end_ms: u64) -> Fault {
    Fault {
        kind,
        host,
        other: None,
        param: 0,
        lasts_ms: end_ms - start_ms,
        start_ms,
        end_ms: Some(end_ms),
        pid: None,
    }
}

/// Answers every 5 ms from `from` to `to` for both groups, by host 0.
fn answers(spans: &[(u64, u64)]) -> Vec<Vec<(u64, u8)>> {
    let times: Vec<(u64, u8)> = spans
        .iter()
        .flat_map(|&(a, b)| (a..b).step_by(5).map(|t| (t, 0)))
        .collect();
    vec![times.clone(), times]
}

#[test]
fn two_copies_count_unless_frozen_or_just_thawed() {
    let idle = host(false, 0, false);
    let t = Timeline {
        states: vec![
            (0, vec![host(true, 3, false), idle]),
            // A frozen copy cannot act: not double-active, but its VIP is still there.
            (1000, vec![host(true, 3, true), host(true, 3, false)]),
            // Thawed at 2000: its copy running on for 300 ms is the documented race.
            (2000, vec![host(true, 0, false), host(true, 3, false)]),
            (2300, vec![idle, host(true, 3, false)]),
            // Later, two copies with no thaw: a violation.
            (5000, vec![host(true, 0, false), host(true, 3, false)]),
            (5040, vec![idle, host(true, 3, false)]),
        ],
        answers: answers(&[(0, 10_000)]),
        end_ms: 10_000,
        ..Timeline::default()
    };
    let faults = [fault(Kind::Freeze, 0, 1000, 2000)];
    let v = judge(&t, &faults, 2000, Timers::QUICK);
    assert_eq!(v.pause_race_ms, 300);
    assert_eq!(v.double_active_ms, 40);
    assert_eq!(v.vip_duplicate_ms, 2 * 1000);
    assert_eq!(v.vip_duplicate_by_group["web"], 1000);
    let d: Vec<_> = v
        .violations
        .iter()
        .filter(|x| x.what == "double-active")
        .collect();
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].from_ms, d[0].to_ms), (5000, 5040));
    assert_eq!(
        d[0].history.len(),
        1,
        "the freeze healed 3 s before is in its history"
    );
    assert_eq!(v.moves, 2, "web and edge moved from h1 to h2");
    assert_eq!(v.false_failovers, 0, "both moved during the freeze");
}

#[test]
fn a_move_long_after_every_heal_is_false_and_gaps_go_to_their_fault() {
    let t = Timeline {
        states: vec![
            (0, vec![host(true, 3, false), host(false, 0, false)]),
            (20_000, vec![host(false, 0, false), host(true, 3, false)]),
        ],
        // Silent 1000-1400 during a port cut, 20,000-20,200 with nothing going on.
        answers: answers(&[(0, 1000), (1400, 20_000), (20_200, 30_000)]),
        end_ms: 30_000,
        ..Timeline::default()
    };
    let faults = [fault(Kind::PortCut, 0, 900, 3000)];
    let v = judge(&t, &faults, 3000, Timers::QUICK);
    assert_eq!((v.moves, v.false_failovers), (2, 2));
    assert_eq!(v.gaps_ms["port-cut"].count, 2);
    assert!(v.gaps_ms["port-cut"].max >= 400);
    assert_eq!(v.gaps_ms["none"].count, 2);
    // 405 and 205 ms without an answer, less 10 ms of slack each: 590 ms in 30 s.
    assert_eq!(v.availability["web"], 98.033);
    assert_eq!(
        v.converge_ms,
        Some(17_200),
        "the last gap after the heal ends at 20,200"
    );
}

#[test]
fn local_addresses_are_read_from_a_fib_trie() {
    let trie = "Local:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.98.1.1\n        /32 host LOCAL\n     |-- 10.98.1.50\n        /32 host LOCAL\n     |-- 10.98.1.255\n        /32 link BROADCAST\n";
    let got = local_addrs(trie);
    assert_eq!(
        got,
        [Ipv4Addr::new(10, 98, 1, 1), Ipv4Addr::new(10, 98, 1, 50)]
    );
}

#[test]
fn a_seed_names_one_sequence_and_ranges_hold() {
    let (mut a, mut b, mut c) = (Rng::new(7), Rng::new(7), Rng::new(8));
    let xs: Vec<u64> = (0..50).map(|_| a.range(3, 9)).collect();
    let ys: Vec<u64> = (0..50).map(|_| b.range(3, 9)).collect();
    let zs: Vec<u64> = (0..50).map(|_| c.range(3, 9)).collect();
    assert_eq!(xs, ys);
    assert_ne!(xs, zs);
    assert!(xs.iter().all(|x| (3..=9).contains(x)));
    assert!((3..=9).all(|v| xs.contains(&v)), "{xs:?}");
}

#[test]
fn the_changed_manifest_gives_the_edge_group_failback_and_nothing_else() {
    let m =
        "groups:\n  web:\n    failback: false\n  edge:\n    failback: false\n    resources: []\n";
    let changed = haagent_testbed::chaos::global::changed(m);
    assert_eq!(
        changed,
        "groups:\n  web:\n    failback: false\n  edge:\n    failback: true\n    resources: []\n"
    );
}

#[test]
fn a_gap_goes_to_the_fault_begun_just_after_the_last_answer() {
    let t = Timeline {
        states: vec![(0, vec![host(true, 3, false), host(false, 0, false)])],
        // The last answer before the silence comes at 4995; the freeze is recorded at 4998.
        answers: answers(&[(0, 5000), (6000, 10_000)]),
        end_ms: 10_000,
        ..Timeline::default()
    };
    let faults = [
        fault(Kind::KeyRotation, 1, 1000, 4000),
        fault(Kind::Freeze, 0, 4998, 5900),
    ];
    let v = judge(&t, &faults, 5900, Timers::QUICK);
    assert_eq!(v.gaps_ms["freeze"].count, 2, "{:?}", v.gaps_ms);
    assert!(!v.gaps_ms.contains_key("key-rotation"));
}

// The campaign's `--default-timers` copy of the manifest's defaults (the test bed does not
// depend on the agent's crate) matches what validation fills in for a manifest without timers.
#[test]
fn the_default_timers_of_the_campaign_are_the_manifests() {
    let text = "cluster: c\nnodes:\n  a: { address: 10.0.0.1 }\n  b: { address: 10.0.0.2 }\n  c: { address: 10.0.0.3 }\nauth: { key_file: /k }\ngroups: {}\n";
    let r = haagent::manifest::parse(text);
    let m = r.manifest.unwrap_or_else(|| panic!("{:?}", r.problems));
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    let h = &m.heartbeat;
    let t = Timers::DEFAULT;
    assert_eq!(
        (
            ms(h.interval),
            ms(h.warn_after),
            ms(h.dead_after),
            ms(h.initial_dead)
        ),
        (t.interval, t.warn, t.dead, t.initial)
    );
}
