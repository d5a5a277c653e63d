//! Unit tests of `on_stray`: its defaults follow the group's kind, a wrong word is located with
//! a suggestion, and a stateful group told only to warn is warned about.

use super::tests::{BASE, assert_error};
use crate::manifest::model::OnStray;
use crate::manifest::{Severity, parse};

const GROUP: &str = "    nodes: [alpha, beta]\n";

fn with(extra: &str) -> String {
    BASE.replace(GROUP, &format!("{GROUP}{extra}"))
}

#[test]
fn a_stateful_group_stops_strays_and_others_warn_by_default() {
    let m = parse(BASE).manifest.unwrap();
    assert_eq!(m.groups["web"].on_stray, OnStray::Stop);
    let vip_only = BASE.replace("      - unit: nginx.service\n", "");
    let m = parse(&vip_only).manifest.unwrap();
    assert_eq!(m.groups["web"].on_stray, OnStray::Warn);
    let twice = with("    stateful: false\n    on_quorum_loss: keep\n");
    let m = parse(&twice).manifest.unwrap();
    assert_eq!(m.groups["web"].on_stray, OnStray::Warn);
    let told = with("    stateful: false\n    on_stray: stop\n");
    assert_eq!(
        parse(&told).manifest.unwrap().groups["web"].on_stray,
        OnStray::Stop
    );
}

#[test]
fn a_wrong_word_is_an_error_with_a_suggestion() {
    assert_error(
        GROUP,
        &format!("{GROUP}    on_stray: stpo\n"),
        "did you mean `stop`?",
    );
    assert_error(
        GROUP,
        &format!("{GROUP}    on_stray: kill\n"),
        "is not one of",
    );
}

#[test]
fn a_stateful_group_that_only_warns_is_valid_and_warned_about() {
    let r = parse(&with("    on_stray: warn\n"));
    let m = r.manifest.expect("valid");
    assert_eq!(m.groups["web"].on_stray, OnStray::Warn);
    let warned: Vec<_> = r
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Warning && p.path == "groups.web.on_stray")
        .collect();
    assert_eq!(warned.len(), 1, "{:#?}", r.problems);
    assert!(warned[0].message.contains("runs beside the holder's copy"));
}
