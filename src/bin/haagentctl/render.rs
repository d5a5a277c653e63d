//! `haagentctl status` as text: who runs what, since when and why; who is seen, on which links
//! and how lately; quorum; what a failover would cost.

use std::fmt::Write as _;

use haagent::control::status::Status;

fn ms(v: u64) -> String {
    if v >= 10_000 {
        format!("{} s", v / 1000)
    } else if v >= 1000 {
        format!("{:.1} s", v as f64 / 1000.0)
    } else {
        format!("{v} ms")
    }
}

/// The status as text.
pub fn status(s: &Status) -> String {
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
        let _ = writeln!(out, "  {name:<12} {:<8} {}", n.state, notes.join("; "));
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
        if g.resources.iter().any(|(_, state)| state != "down") {
            let here: Vec<String> = g
                .resources
                .iter()
                .map(|(r, st)| format!("{r} {st}"))
                .collect();
            let _ = writeln!(out, "  {:<12} here: {}", "", here.join(", "));
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
            let _ = writeln!(
                out,
                "  {:<12} failed here: not eligible here for {}",
                "",
                ms(left)
            );
        }
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
