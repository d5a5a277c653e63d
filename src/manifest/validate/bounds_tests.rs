//! Unit tests of the duration bounds: every duration field refuses what would overflow, spin
//! or make no sense, and decimals are read exactly.

use std::time::Duration;

use super::tests::{BASE, assert_error, errors_with};
use crate::manifest::parse;

#[test]
fn every_duration_field_has_bounds_and_never_overflows() {
    let vip = "        interface: eth0\n";
    // (where to insert, the YAML that sets the field, the field's key)
    let fields = [
        (
            "cluster: web\n",
            "cluster: web\nheartbeat: { interval: X }\n",
            "interval",
        ),
        (
            "cluster: web\n",
            "cluster: web\nheartbeat: { warn_after: X }\n",
            "warn_after",
        ),
        (
            "cluster: web\n",
            "cluster: web\nheartbeat: { dead_after: X }\n",
            "dead_after",
        ),
        (
            "cluster: web\n",
            "cluster: web\nheartbeat: { initial_dead: X }\n",
            "initial_dead",
        ),
        (
            "ping: [10.0.0.254] }",
            "ping: [10.0.0.254], interval: X }",
            "interval",
        ),
        (
            "ping: [10.0.0.254] }",
            "ping: [10.0.0.254], timeout: X }",
            "timeout",
        ),
        (
            vip,
            "        interface: eth0\n        announce: { interval: X }\n",
            "interval",
        ),
        (
            vip,
            "        interface: eth0\n        announce: { refresh: X }\n",
            "refresh",
        ),
    ];
    for (from, to, key) in fields {
        for (value, needle) in [
            ("18446744073709551615s", "is too large"),
            ("99999999999999999999999h", "is too large"),
            ("5124095576030431h", "is too large"),
            ("0ms", "minimum"),
            ("2h", "maximum"),
        ] {
            let errors = errors_with(from, &to.replace('X', value));
            assert!(
                errors.iter().any(|e| e.contains(needle)),
                "{key}: {value}: {errors:#?}"
            );
        }
    }
}

#[test]
fn zero_intervals_that_would_spin_are_refused_with_the_bounds() {
    assert_eq!(
        errors_with(
            "ping: [10.0.0.254] }",
            "ping: [10.0.0.254], interval: 0ms }"
        ),
        [
            "interval 0ms is below the 100ms minimum | use `100ms` to `1m`: zero would ping without pause; a minute is as slow as a check can usefully be"
        ]
    );
    assert_eq!(
        errors_with(
            "        interface: eth0\n",
            "        interface: eth0\n        announce: { refresh: 0ms }\n"
        ),
        [
            "refresh 0ms is below the 1s minimum | use `1s` to `1h`: zero would announce without pause; use `off` rather than hours"
        ]
    );
    assert_error(
        "cluster: web\n",
        "cluster: web\nheartbeat: { dead_after: 1h, initial_dead: 2h }\n",
        "dead_after 1h is above the 10m maximum",
    );
}

#[test]
fn decimal_durations_are_read_exactly() {
    let text = BASE.replace(
        "cluster: web\n",
        "cluster: web\nheartbeat: { interval: 0.5s, dead_after: 2.5s }\n",
    );
    let m = parse(&text).manifest.expect("valid");
    assert_eq!(m.heartbeat.interval, Duration::from_millis(500));
    assert_eq!(m.heartbeat.dead_after, Duration::from_millis(2500));
    assert_eq!(
        errors_with(
            "cluster: web\n",
            "cluster: web\nheartbeat: { interval: 1.0005s }\n"
        ),
        [
            "`1.0005s` is not a whole number of milliseconds | durations are counted in whole milliseconds: write e.g. `1500ms` or `1.5s`"
        ]
    );
}
