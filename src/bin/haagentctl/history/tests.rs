//! History from journal lines: parsing, pairing, durations and the table.

use super::*;

fn line(at_us: u64, event: &str, group: &str, node: &str, reason: &str) -> String {
    serde_json::json!({
        "__REALTIME_TIMESTAMP": at_us.to_string(),
        "HAAGENT_EVENT": event,
        "GROUP": group,
        "NODE": node,
        "REASON": reason,
        "MESSAGE": format!("{group}: {event}: {reason}"),
    })
    .to_string()
}

/// 2026-12-03T04:00:00Z in µs.
const T0: u64 = 1_796_270_400_000_000;

#[test]
fn parses_the_agents_entries_only() {
    let e = parse(&line(T0, "acquire", "web", "alpha", "first")).unwrap();
    assert_eq!(
        (e.at_us, e.event.as_str(), e.group.as_str()),
        (T0, "acquire", "web")
    );
    assert_eq!(
        parse(r#"{"__REALTIME_TIMESTAMP":"1","MESSAGE":"other"}"#),
        None
    );
    assert_eq!(parse("-- No entries --"), None);
    assert_eq!(
        parse(r#"{"__REALTIME_TIMESTAMP":"x","HAAGENT_EVENT":"acquire"}"#),
        None
    );
    // A field journald stored as bytes (not UTF-8) comes as an array: left empty.
    let e = parse(r#"{"__REALTIME_TIMESTAMP":"5","HAAGENT_EVENT":"running","REASON":[255]}"#);
    assert_eq!(e.unwrap().reason, "");
}

#[test]
fn pairs_durations_per_group_and_node() {
    let ms = |n: u64| T0 + n * 1000;
    let entries: Vec<Entry> = [
        line(ms(0), "acquire", "web", "alpha", "first in preference"),
        line(ms(49), "running", "web", "alpha", "all resources are up"),
        line(ms(5_000), "acquire", "db", "alpha", "first"),
        line(
            ms(65_049),
            "release",
            "web",
            "alpha",
            "moved to beta by an operator",
        ),
        line(
            ms(65_079),
            "released",
            "web",
            "alpha",
            "all resources are stopped",
        ),
        line(
            ms(70_000),
            "resource_failed",
            "db",
            "alpha",
            "db.service failed",
        ),
    ]
    .iter()
    .filter_map(|l| parse(l))
    .collect();
    let r = rows(&entries);
    let got: Vec<(&str, &str, &str)> = r
        .iter()
        .map(|r| (r.group.as_str(), r.event.as_str(), r.duration.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("web", "acquire", ""),
            ("web", "running", "took 49 ms"),
            ("db", "acquire", ""),
            ("web", "release", "held 1 min 5 s"),
            ("web", "released", "took 30 ms"),
            ("db", "resource_failed", ""),
        ]
    );
    assert_eq!(r[1].duration_ms, Some(49));
    assert_eq!(r[0].time, "2026-12-03T04:00:00.000Z");
    assert_eq!(r[1].time, "2026-12-03T04:00:00.049Z");
    let table = table(&r);
    assert!(table.starts_with("TIME "), "{table}");
    assert!(
        table
            .lines()
            .nth(2)
            .unwrap()
            .contains("running          took 49 ms"),
        "{table}"
    );
}

#[test]
fn a_window_that_starts_mid_way_has_no_invented_durations() {
    let entries: Vec<Entry> = [
        line(T0, "running", "web", "beta", "all resources are up"),
        line(
            T0 + 2_000_000,
            "release",
            "web",
            "beta",
            "peer alpha returned",
        ),
    ]
    .iter()
    .filter_map(|l| parse(l))
    .collect();
    let r = rows(&entries);
    assert_eq!(r[0].duration, "");
    assert_eq!(r[1].duration, "held 2.0 s");
}

#[test]
fn durations_read_as_people_say_them() {
    assert_eq!(human(0), "0 ms");
    assert_eq!(human(999), "999 ms");
    assert_eq!(human(1500), "1.5 s");
    assert_eq!(human(200_000), "3 min 20 s");
    assert_eq!(human(7_500_000), "2 h 5 min");
}

#[test]
fn journalctl_is_asked_for_the_agents_events() {
    let a = journalctl_args(Some("web"), Some("-1h"), 50);
    for want in [
        "-o",
        "json",
        "_SYSTEMD_UNIT=haagent.service",
        "--lines=50",
        "--since=-1h",
        "HAAGENT_EVENT=acquire",
        "HAAGENT_EVENT=resource_failed",
        "GROUP=web",
    ] {
        assert!(a.iter().any(|x| x == want), "{want} not in {a:?}");
    }
    assert!(
        !journalctl_args(None, None, 1)
            .iter()
            .any(|x| x.starts_with("GROUP=") || x.starts_with("--since"))
    );
    assert!(parse_since("2026-12-03 04:00:00").is_ok());
    assert!(parse_since("").is_err());
    assert!(parse_since("a\nb").is_err());
    assert!(parse_since(&"x".repeat(65)).is_err());
}

#[test]
fn an_older_journal_ends_a_release_with_a_second_release() {
    let entries: Vec<Entry> = [
        line(
            T0,
            "release",
            "web",
            "alpha",
            "moved to beta by an operator",
        ),
        line(
            T0 + 30_000,
            "release",
            "web",
            "alpha",
            "all resources are stopped",
        ),
    ]
    .iter()
    .filter_map(|l| parse(l))
    .collect();
    let r = rows(&entries);
    assert_eq!(
        (r[1].event.as_str(), r[1].duration.as_str()),
        ("released", "took 30 ms")
    );
}
