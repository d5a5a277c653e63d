//! Unit tests of the loader: unknown keys, shape errors and positions.

use super::{Severity, parse};

#[test]
fn unknown_keys_are_all_reported_at_their_key_with_a_suggestion() {
    let text = "cluster: web\nnodez: {}\nheartbeat:\n  dead_aftr: 3s\ngroups:\n  g:\n    resources:\n      - unit: a.service\n        afterr: []\n";
    let report = parse(text);
    let unknown: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.message.starts_with("unknown key"))
        .collect();
    assert_eq!(unknown.len(), 3, "{:#?}", report.problems);
    assert_eq!(
        (unknown[0].line, unknown[0].column, unknown[0].path.as_str()),
        (2, 1, "nodez")
    );
    assert_eq!(unknown[0].hint.as_deref(), Some("did you mean `nodes`?"));
    assert_eq!((unknown[1].line, unknown[1].column), (4, 3));
    assert_eq!(
        unknown[1].hint.as_deref(),
        Some("did you mean `dead_after`?")
    );
    assert_eq!(unknown[2].path, "groups.g.resources[0].afterr");
    assert!(report.manifest.is_none());
}

#[test]
fn unknown_key_without_a_near_match_lists_the_allowed_keys() {
    let report = parse("cluster: web\nquorum: { expected_votes: 3 }\n");
    let p = report
        .problems
        .iter()
        .find(|p| p.message == "unknown key `expected_votes`")
        .unwrap();
    assert_eq!(
        p.hint.as_deref(),
        Some("keys allowed here: `two_node`, `wait_for_all`")
    );
}

#[test]
fn shape_errors_keep_their_position() {
    let report = parse("cluster: web\nheartbeat:\n  port: [1]\n");
    let e = &report.problems[0];
    assert_eq!((e.severity, e.line), (Severity::Error, 3), "{e:?}");
    assert!(
        !e.message.contains("line 3"),
        "position is printed once, by us: {e:?}"
    );
}

#[test]
fn syntax_errors_and_duplicates_are_located() {
    let report = parse("cluster: web\ncluster: db\n");
    assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
    assert_eq!(report.problems[0].line, 2);
    let report = parse("cluster: [web\n");
    assert_eq!(report.errors(), 1);
    assert!(parse("").problems[0].message.contains("empty"));
}

#[test]
fn four_kinds_of_problem_in_one_run() {
    let text = "\
cluster: web
nodes:
  alpha: { address: 10.0.0.1 }
  beta: { address: 10.0.0.2 }
heartbeat:
  interval: 1s
  dead_after: 1500ms
  colour: blue
auth: { key_file: /etc/haagent/authkey }
quorum: { two_node: { tie_breaker: ping } }
connectivity: { ping: [10.0.0.254] }
groups:
  web:
    nodes: [alpha, gamma]
    resources:
      - unit: a.service
        after: [b.service]
      - unit: b.service
";
    let report = parse(text);
    let found: Vec<(u32, &str)> = report
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| (p.line, p.message.as_str()))
        .collect();
    let has = |line: u32, needle: &str| found.iter().any(|(l, m)| *l == line && m.contains(needle));
    assert!(has(8, "unknown key `colour`"), "{found:#?}");
    assert!(has(7, "must be more than twice interval"), "{found:#?}");
    assert!(has(14, "unknown node `gamma`"), "{found:#?}");
    assert!(has(17, "forms a cycle"), "{found:#?}");
}

/// A one-node manifest with `extra` under its group `g`.
fn with_group(extra: &str) -> super::Report {
    parse(&format!(
        "cluster: c\nnodes:\n  a: {{ address: 10.0.0.1 }}\nauth: {{ key_file: /k }}\ngroups:\n  g:\n    nodes: [a]\n{extra}    resources: [{{ unit: x.service }}]\n"
    ))
}

// Input: the restart settings absent, set, out of bounds, and `on_failure: move` with a
// count. Output: one restart in ten minutes by default; bounds reported where they are
// written; `move` allows none and warns about the count it ignores.
#[test]
fn restart_in_place_settings_have_defaults_bounds_and_a_move() {
    let g = |r: &super::Report| r.manifest.as_ref().map(|m| m.groups["g"].clone());
    let d = g(&with_group("")).unwrap();
    assert_eq!((d.max_restarts, d.restart_window.as_secs()), (1, 600));
    let s = g(&with_group(
        "    max_restarts: 3\n    restart_window: 30s\n",
    ))
    .unwrap();
    assert_eq!((s.max_restarts, s.restart_window.as_secs()), (3, 30));
    let bad = with_group("    max_restarts: 101\n    restart_window: 2d\n    on_failure: later\n");
    let paths: Vec<&str> = bad.problems.iter().map(|p| p.path.as_str()).collect();
    assert!(paths.contains(&"groups.g.max_restarts"), "{paths:?}");
    assert!(paths.contains(&"groups.g.restart_window"), "{paths:?}");
    assert!(paths.contains(&"groups.g.on_failure"), "{paths:?}");
    assert!(bad.manifest.is_none());
    let mv = with_group("    on_failure: move\n    max_restarts: 2\n");
    assert_eq!(g(&mv).unwrap().max_restarts, 0);
    assert!(
        mv.problems
            .iter()
            .any(|p| p.severity == Severity::Warning && p.path == "groups.g.max_restarts")
    );
}
