//! A campaign's report: one JSON object (`--json`) and the lines printed at the end, each
//! violation with the seed and the faults around it.

use std::fmt::Write;

use super::Outcome;
use super::faults::{ALL, Fault, node};
use super::setup::GROUPS;

/// Whole milliseconds as seconds with three decimals.
fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// A fault in words: `12.345-15.000 s loss on h2 (35)`.
pub fn fault_line(f: &Fault) -> String {
    let end = f.end_ms.map_or("...".into(), secs);
    let other = f
        .other
        .map(|o| format!(" / {}", node(o)))
        .unwrap_or_default();
    let param = match f.kind {
        super::faults::Kind::Loss => format!(" {}%", f.param),
        super::faults::Kind::Move => format!(" {}", super::setup::GROUPS[f.param as usize % 2]),
        _ => String::new(),
    };
    format!(
        "{}-{end} s {} on {}{other}{param}",
        secs(f.start_ms),
        f.kind.name(),
        node(f.host)
    )
}

fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The JSON object.
pub fn json(o: &Outcome) -> String {
    let v = &o.verdict;
    let mut j = String::from("{\n");
    let opt = &o.options;
    let _ = writeln!(
        j,
        "  \"seed\": {},\n  \"hosts\": {},\n  \"seconds\": {},",
        opt.seed,
        opt.hosts,
        opt.duration.as_secs()
    );
    let _ = writeln!(
        j,
        "  \"stress\": {},\n  \"unsafe\": {},",
        opt.stress, opt.unsafe_mode
    );
    let _ = writeln!(j, "  \"faults\": {},", o.history.faults.len());
    let by_kind: Vec<String> = ALL
        .iter()
        .map(|k| (k, o.history.faults.iter().filter(|f| f.kind == *k).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{}: {n}", string(k.name())))
        .collect();
    let _ = writeln!(j, "  \"faults_by_kind\": {{{}}},", by_kind.join(", "));
    let _ = writeln!(j, "  \"double_active_ms\": {},", v.double_active_ms);
    let _ = writeln!(j, "  \"pause_race_ms\": {},", v.pause_race_ms);
    let _ = writeln!(j, "  \"vip_duplicate_ms\": {},", v.vip_duplicate_ms);
    let dup: Vec<String> = GROUPS
        .iter()
        .map(|g| {
            format!(
                "{}: {}",
                string(g),
                v.vip_duplicate_by_group.get(g).unwrap_or(&0)
            )
        })
        .collect();
    let _ = writeln!(
        j,
        "  \"vip_duplicate_ms_by_group\": {{{}}},",
        dup.join(", ")
    );
    let avail: Vec<String> = v
        .availability
        .iter()
        .map(|(g, p)| format!("{}: {p}", string(g)))
        .collect();
    let _ = writeln!(j, "  \"availability\": {{{}}},", avail.join(", "));
    let gaps: Vec<String> = v
        .gaps_ms
        .iter()
        .map(|(k, s)| {
            format!(
                "{}: {{\"count\": {}, \"p50\": {}, \"p99\": {}, \"max\": {}}}",
                string(k),
                s.count,
                s.p50,
                s.p99,
                s.max
            )
        })
        .collect();
    let _ = writeln!(j, "  \"gaps_ms\": {{{}}},", gaps.join(", "));
    let _ = writeln!(
        j,
        "  \"moves\": {},\n  \"false_failovers\": {},",
        v.moves, v.false_failovers
    );
    let conv = v.converge_ms.map_or("null".into(), |c| c.to_string());
    let _ = writeln!(j, "  \"converge_ms\": {conv},");
    let t = &o.timeline;
    let _ = writeln!(
        j,
        "  \"checker\": {{\"samples\": {}, \"max_sample_gap_ms\": {}, \"probes\": {:?}}},",
        t.samples, t.max_sample_gap_ms, t.asked
    );
    let errors: Vec<String> = o
        .history
        .errors
        .iter()
        .map(|(at, e)| string(&format!("{} s: {e}", secs(*at))))
        .collect();
    let _ = writeln!(j, "  \"nemesis_errors\": [{}],", errors.join(", "));
    let all: Vec<String> = o
        .history
        .faults
        .iter()
        .map(|f| string(&fault_line(f)))
        .collect();
    let _ = writeln!(j, "  \"history\": [{}],", all.join(", "));
    let violations: Vec<String> = v
        .violations
        .iter()
        .map(|x| {
            let h: Vec<String> = x.history.iter().map(|f| string(&fault_line(f))).collect();
            format!(
                "    {{\"what\": {}, \"from_ms\": {}, \"to_ms\": {}, \"detail\": {}, \"seed\": {}, \"history\": [{}]}}",
                string(x.what), x.from_ms, x.to_ms, string(&x.detail), opt.seed, h.join(", ")
            )
        })
        .collect();
    let _ = writeln!(
        j,
        "  \"violations\": [\n{}\n  ]\n}}",
        violations.join(",\n")
    );
    j
}

/// The summary printed at the end of a run.
pub fn text(o: &Outcome) -> String {
    let v = &o.verdict;
    let mut s = String::new();
    let opt = &o.options;
    let _ = writeln!(
        s,
        "seed {}, {} hosts, {} s{}{}: {} faults",
        opt.seed,
        opt.hosts,
        opt.duration.as_secs(),
        if opt.stress { ", stress" } else { "" },
        if opt.unsafe_mode {
            ", UNSAFE manifest"
        } else {
            ""
        },
        o.history.faults.len()
    );
    let _ = writeln!(
        s,
        "double-active {} ms (pause race {} ms), VIP on two hosts {} ms",
        v.double_active_ms, v.pause_race_ms, v.vip_duplicate_ms
    );
    for (g, p) in &v.availability {
        let _ = writeln!(s, "availability {g}: {p} %");
    }
    for (k, g) in &v.gaps_ms {
        let _ = writeln!(
            s,
            "gaps during {k}: {} (p50 {} ms, p99 {} ms, max {} ms)",
            g.count, g.p50, g.p99, g.max
        );
    }
    let conv = v.converge_ms.map_or("never".into(), |c| format!("{c} ms"));
    let _ = writeln!(
        s,
        "moves {}, false failovers {}, converged {conv} after the last heal",
        v.moves, v.false_failovers
    );
    let _ = writeln!(
        s,
        "checker: {} host samples (longest gap {} ms)",
        o.timeline.samples, o.timeline.max_sample_gap_ms
    );
    for x in &v.violations {
        let _ = writeln!(
            s,
            "VIOLATION {} {}-{} s: {} (replay: --seed {})",
            x.what,
            secs(x.from_ms),
            secs(x.to_ms),
            x.detail,
            opt.seed
        );
        for f in &x.history {
            let _ = writeln!(s, "    {}", fault_line(f));
        }
    }
    if !o.leftovers.is_empty() {
        let _ = writeln!(s, "left behind by the bed: {:?}", o.leftovers);
    }
    s
}
