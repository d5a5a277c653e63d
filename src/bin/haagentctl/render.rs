//! `haagentctl status` as text: who runs what, since when and why; each resource's state here;
//! operator moves and failure marks with their expiry; why each node may or may not run each
//! group; who is seen, on which links and how lately; quorum; what a failover would cost.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use haagent::control::status::{GroupStatus, Status, rfc3339};
use haagent::protocol::wire::VERSION;

fn ms(v: u64) -> String {
    if v >= 10_000 {
        format!("{} s", v / 1000)
    } else if v >= 1000 {
        format!("{:.1} s", v as f64 / 1000.0)
    } else {
        format!("{v} ms")
    }
}

/// A stray copy seen on a node, in one line.
fn stray(st: &haagent::engine::strays::StraySeen) -> String {
    use haagent::engine::strays::StrayAction;
    let done = match st.action {
        StrayAction::Stopping => "stopping it",
        StrayAction::Stopped => "stopped",
        StrayAction::LeftRunning => "left running (on_stray: warn)",
        StrayAction::StopFailed => "STOP FAILED: the group may run twice",
    };
    let holder = match &st.holder {
        Some(h) => format!("{h} held the group"),
        None => "no node held the group".into(),
    };
    let origin = st
        .origin
        .as_deref()
        .unwrap_or("no trigger named by systemd");
    format!(
        "stray {} of {} {} ago: {done}; {holder}; {origin}",
        st.resource,
        st.group,
        ms(st.ago_ms)
    )
}

/// While this node sends in an older format than it speaks (a live peer accepts nothing
/// newer: a rolling upgrade under way), a line that says so.
fn rolling(s: &Status) -> Option<String> {
    let older: Vec<&str> = s
        .nodes
        .iter()
        .filter(|(_, n)| n.formats.last().is_some_and(|v| *v < VERSION))
        .map(|(name, _)| name.as_str())
        .collect();
    (s.format != 0 && s.format < VERSION).then(|| {
        format!(
            "ROLLING UPGRADE: heartbeats in format {} until every node speaks format {VERSION} (older: {})",
            s.format,
            if older.is_empty() { "none heard".into() } else { older.join(", ") }
        )
    })
}

/// The status as text, `now` being the wall clock (failure marks expire at `now` + their time).
pub fn status(s: &Status, now: SystemTime) -> String {
    let mut out = String::new();
    let quorum = if s.quorate { "quorate" } else { "NO QUORUM" };
    let _ = writeln!(
        out,
        "cluster {}, as seen from {}: {quorum}",
        s.cluster, s.node
    );
    if s.maintenance {
        let _ = writeln!(
            out,
            "MAINTENANCE: nothing is started, stopped or moved until `haagentctl maintenance off`"
        );
    }
    if let Some(line) = rolling(s) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "\nnodes");
    for (name, n) in &s.nodes {
        let heard = match n.last_heard_ms {
            Some(v) => format!("heard {} ago", ms(v)),
            None if *name == s.node => "this node".into(),
            None => "never heard".into(),
        };
        let links: Vec<String> = n
            .links
            .iter()
            .map(|l| format!("{} {}", l.name, if l.up { "up" } else { "DOWN" }))
            .collect();
        let mut notes = vec![heard];
        if !links.is_empty() {
            notes.push(links.join(", "));
        }
        notes.push(format!("ping {}", n.connectivity));
        if n.standby {
            notes.push("standby".into());
        }
        if n.witness {
            notes.push("witness".into());
        }
        if n.manifest_differs {
            notes.push(match n.differing_groups.is_empty() {
                true => "MANIFEST DIFFERS".into(),
                false => format!(
                    "MANIFEST DIFFERS (defines otherwise: {})",
                    n.differing_groups.join(", ")
                ),
            });
        }
        if let Some(&newest) = n.formats.last()
            && newest < VERSION
        {
            notes.push(format!("OLDER RELEASE (formats up to {newest})"));
        }
        let _ = writeln!(out, "  {name:<12} {:<8} {}", n.state, notes.join("; "));
        for st in &n.strays {
            let _ = writeln!(out, "  {:<12} {}", "", stray(st));
        }
    }
    if s.nodes.values().any(|n| n.manifest_differs) {
        let _ = writeln!(
            out,
            "  (to see what differs: copy that node's manifest here and run `haagentctl validate --against FILE`)"
        );
    }
    let _ = writeln!(out, "\ngroups");
    for (name, g) in &s.groups {
        let place = match &g.owner {
            Some(o) => format!("{} on {o}", g.state),
            None => g.state.clone(),
        };
        let _ = writeln!(out, "  {name:<12} {place} since {}", g.since);
        let _ = writeln!(out, "  {:<12} why: {}", "", g.reason);
        if g.maintenance {
            let _ = writeln!(
                out,
                "  {:<12} in maintenance: left as it is (`haagentctl maintenance off{}` ends it)",
                "",
                if s.maintenance {
                    String::new()
                } else {
                    format!(" {name}")
                }
            );
        }
        if !g.resources.is_empty() {
            let here: Vec<String> = g
                .resources
                .iter()
                .map(|(r, st)| format!("{r} {st}"))
                .collect();
            let _ = writeln!(out, "  {:<12} resources here: {}", "", here.join(", "));
        }
        for c in &g.checks {
            let _ = writeln!(out, "  {:<12} {}", "", check_line(c));
        }
        if g.state == "blocked" {
            let on = g.owner.as_deref().unwrap_or("?");
            let _ = writeln!(
                out,
                "  {:<12} FAILED (blocked): a stop failed on {on}; no node starts it until it is stopped there (retried), {on} is fenced, or, checked by hand, `haagentctl unblock {name} {on}`",
                ""
            );
        }
        if let Some(to) = &g.moved_to {
            let _ = writeln!(
                out,
                "  {:<12} moved to {to} by an operator, until `haagentctl clear {name}`",
                ""
            );
        }
        if let Some(left) = g.failed_here_for_ms {
            let until = now.checked_add(Duration::from_millis(left)).unwrap_or(now);
            let _ = writeln!(
                out,
                "  {:<12} failed here: not eligible here for {} (until {}), or until `haagentctl clear {name}`",
                "",
                ms(left),
                rfc3339(until)
            );
        }
        let _ = writeln!(out, "  {:<12} {}", "", eligibility(g));
        for (node, why) in &g.ineligible {
            let _ = writeln!(out, "  {:<12} {node} may not run it: {why}", "");
        }
        if let Some(next) = &g.next {
            let _ = writeln!(out, "  {:<12} a failover without --to goes to {next}", "");
        }
        let _ = writeln!(
            out,
            "  {:<12} failover budget: {} (dead_after + interval + measured starts)",
            "",
            ms(g.failover_budget_ms)
        );
    }
    if !s.dropped.is_empty() {
        let drops: Vec<String> = s
            .dropped
            .iter()
            .map(|(k, v)| {
                let from: Vec<String> = v.from.iter().map(|(a, n)| format!("{a} {n}")).collect();
                match from.is_empty() {
                    true => format!("{k}: {}", v.total),
                    false => format!("{k}: {} (from {})", v.total, from.join(", ")),
                }
            })
            .collect();
        let _ = writeln!(out, "\ndropped datagrams: {}", drops.join(", "));
    }
    let l = &s.loop_latency;
    if l.warn_over_ms > 0 {
        let _ = writeln!(
            out,
            "\nloop held at most {} ms (last minute: {} ms; logged above {} ms)",
            l.worst_ms, l.last_minute_worst_ms, l.warn_over_ms
        );
    }
    out
}

/// The nodes of a group that may run it now, in preference order.
fn eligibility(g: &GroupStatus) -> String {
    let may: Vec<&str> = g
        .preference
        .iter()
        .filter(|n| !g.ineligible.contains_key(*n))
        .map(String::as_str)
        .collect();
    match may.is_empty() {
        true => "eligible: no node".into(),
        false => format!("eligible, in preference order: {}", may.join(", ")),
    }
}

/// One health check: what it runs, its verdict, the runs in a row and the last error.
fn check_line(c: &haagent::engine::snapshot::CheckSnapshot) -> String {
    let mut line = format!("check of {} ({}): {}", c.resource, c.probe, c.state);
    match c.last_ok {
        Some(ok) => line.push_str(&format!(
            ", {} {} run(s) in a row",
            c.consecutive,
            if ok { "passed" } else { "failed" }
        )),
        None if c.running => line.push_str(", no run yet"),
        None => {}
    }
    if let (Some(false), Some(e)) = (c.last_ok, &c.last_error) {
        line.push_str(&format!("; last error: {e}"));
    }
    if !c.running {
        line.push_str(" (not running here: checks run where the group runs)");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use haagent::control::status::NodeStatus;

    fn sample() -> Status {
        let mut s = Status {
            node: "alpha".into(),
            cluster: "c".into(),
            quorate: true,
            ..Default::default()
        };
        for n in ["alpha", "beta", "gamma"] {
            let state = if n == "gamma" { "dead" } else { "up" };
            s.nodes.insert(
                n.into(),
                NodeStatus {
                    state: state.into(),
                    ..Default::default()
                },
            );
        }
        let g = GroupStatus {
            owner: Some("beta".into()),
            state: "running".into(),
            since: "2026-12-03T04:00:00Z".into(),
            reason: "running on beta: the first eligible node in its preference".into(),
            preference: vec!["alpha".into(), "beta".into(), "gamma".into()],
            ineligible: [
                ("alpha".to_string(), "failed here 10 s ago".to_string()),
                ("gamma".to_string(), "dead".to_string()),
            ]
            .into(),
            moved_to: Some("beta".into()),
            failed_here_for_ms: Some(20_000),
            resources: vec![
                ("10.0.0.10".into(), "down".into()),
                ("web.service".into(), "down".into()),
            ],
            failover_budget_ms: 1800,
            checks: vec![haagent::engine::snapshot::CheckSnapshot {
                resource: "web.service".into(),
                probe: "http http://127.0.0.1/ (expects 200)".into(),
                state: "failing".into(),
                running: false,
                consecutive: 3,
                last_ok: Some(false),
                last_error: Some("connect to 127.0.0.1:80: Connection refused".into()),
            }],
            ..Default::default()
        };
        s.groups.insert("web".into(), g);
        s
    }

    #[test]
    fn shows_resources_moves_failure_expiry_and_eligibility() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_270_400);
        let text = status(&sample(), now);
        for want in [
            "resources here: 10.0.0.10 down, web.service down",
            "moved to beta by an operator, until `haagentctl clear web`",
            "failed here: not eligible here for 20 s (until 2026-12-03T04:00:20Z), or until `haagentctl clear web`",
            "eligible, in preference order: beta",
            "alpha may not run it: failed here 10 s ago",
            "gamma may not run it: dead",
            "failover budget: 1.8 s",
            "check of web.service (http http://127.0.0.1/ (expects 200)): failing, 3 failed run(s) in a row; last error: connect to 127.0.0.1:80: Connection refused (not running here",
        ] {
            assert!(text.contains(want), "no {want:?} in\n{text}");
        }
    }

    #[test]
    fn no_eligible_node_is_said_so() {
        let mut s = sample();
        let g = s.groups.get_mut("web").unwrap();
        g.ineligible.insert("beta".into(), "in standby".into());
        g.failed_here_for_ms = None;
        let text = status_text(&s);
        assert!(text.contains("eligible: no node"), "{text}");
        assert!(!text.contains("failed here:"), "{text}");
    }

    // Input: alpha sends in format 2 because beta speaks format 2 only; then every node
    // speaks format 4 and alpha sends in it. Output: a rolling-upgrade line naming beta and
    // beta marked as older; nothing of it once all are upgraded.
    #[test]
    fn a_rolling_upgrade_under_way_is_said_with_the_older_nodes() {
        let mut s = sample();
        s.format = 2;
        for (n, f) in [
            ("alpha", vec![2, 3, 4]),
            ("beta", vec![2]),
            ("gamma", vec![]),
        ] {
            s.nodes.get_mut(n).unwrap().formats = f;
        }
        let text = status_text(&s);
        assert!(
            text.contains(
                "ROLLING UPGRADE: heartbeats in format 2 until every node speaks format 4 (older: beta)"
            ),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.contains("beta") && l.contains("OLDER RELEASE (formats up to 2)")),
            "{text}"
        );
        assert_eq!(text.matches("OLDER RELEASE").count(), 1, "{text}");
        s.format = 4;
        s.nodes.get_mut("beta").unwrap().formats = vec![2, 3, 4];
        let text = status_text(&s);
        assert!(
            !text.contains("ROLLING") && !text.contains("OLDER"),
            "{text}"
        );
    }

    fn status_text(s: &Status) -> String {
        status(s, SystemTime::UNIX_EPOCH)
    }
}
