//! The timeline picture, hand-written SVG: per host a band of the faults it suffered and a
//! band of what it held (web above, edge below; grey while down, hatched while frozen), then
//! the client's gaps per group and the checker's double-active time, on one time axis.

use std::fmt::Write;

use super::Outcome;
use super::faults::{ALL, Kind};
use super::verdict::{GAP_MS, intervals};

const LEFT: f64 = 70.0;
const WIDTH: f64 = 1200.0;
const ROW: f64 = 16.0;

fn colour(k: Kind) -> &'static str {
    match k {
        Kind::PowerCut => "#222222",
        Kind::CleanStop => "#777777",
        Kind::PortCut => "#d62728",
        Kind::SilentCut => "#ff7f0e",
        Kind::OneWay => "#e377c2",
        Kind::Loss => "#bcbd22",
        Kind::Freeze => "#17becf",
        Kind::SigStop => "#9467bd",
        Kind::SigKill => "#8c564b",
        Kind::UnitCrash => "#7f0000",
        Kind::StuckStop => "#ff9896",
        Kind::Move => "#1f77b4",
        Kind::Standby => "#aec7e8",
        Kind::KeyRotation => "#ffbb78",
        Kind::Reload => "#98df8a",
    }
}

const WEB: &str = "#3366cc";
const EDGE: &str = "#2ca02c";

/// The picture of a campaign.
pub fn render(o: &Outcome) -> String {
    let t = &o.timeline;
    let end = t.end_ms.max(1) as f64;
    let plot = WIDTH - LEFT - 10.0;
    let x = |ms: u64| LEFT + plot * ms as f64 / end;
    let hosts = o.options.hosts;
    let height = 40.0 + hosts as f64 * 2.5 * ROW + 3.0 * 1.5 * ROW + 60.0 + ROW;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n<defs><pattern id=\"fz\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\"><path d=\"M0,4 L4,0\" stroke=\"#17becf\"/></pattern></defs>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let v = &o.verdict;
    let _ = writeln!(
        s,
        "<text x=\"{LEFT}\" y=\"14\">seed {}, {} hosts, {} s, {} faults: double-active {} ms, availability web {} %, edge {} %, false failovers {}</text>",
        o.options.seed,
        hosts,
        o.options.duration.as_secs(),
        o.history.faults.len(),
        v.double_active_ms,
        v.availability.get("web").copied().unwrap_or(0.0),
        v.availability.get("edge").copied().unwrap_or(0.0),
        v.false_failovers
    );
    let rect = |s: &mut String, a: u64, b: u64, y: f64, h: f64, fill: &str, title: &str| {
        let w = (x(b) - x(a)).max(0.8);
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{fill}\"><title>{title}</title></rect>",
            x(a)
        );
    };
    for i in 0..hosts {
        let y = 30.0 + i as f64 * 2.5 * ROW;
        let _ = writeln!(
            s,
            "<text x=\"4\" y=\"{:.1}\">h{} faults</text>",
            y + 11.0,
            i + 1
        );
        let _ = writeln!(
            s,
            "<text x=\"4\" y=\"{:.1}\">h{} holds</text>",
            y + ROW + 11.0,
            i + 1
        );
        for f in o.history.faults.iter().filter(|f| f.host == i) {
            let title = super::report::fault_line(f);
            rect(
                &mut s,
                f.start_ms,
                f.end_ms.unwrap_or(t.end_ms),
                y,
                ROW - 2.0,
                colour(f.kind),
                &title,
            );
        }
        let y = y + ROW;
        for (a, b, seen) in intervals(t) {
            let h = seen[i];
            if !h.up {
                rect(&mut s, a, b, y, ROW - 2.0, "#cccccc", "down");
                continue;
            }
            if h.unit || h.vips & 1 != 0 {
                let what = if h.unit { "web unit" } else { "web VIP only" };
                rect(&mut s, a, b, y, (ROW - 2.0) / 2.0, WEB, what);
            }
            if h.vips & 2 != 0 {
                rect(
                    &mut s,
                    a,
                    b,
                    y + (ROW - 2.0) / 2.0,
                    (ROW - 2.0) / 2.0,
                    EDGE,
                    "edge VIP",
                );
            }
            if h.frozen {
                rect(&mut s, a, b, y, ROW - 2.0, "url(#fz)", "frozen");
            }
        }
    }
    let base = 30.0 + hosts as f64 * 2.5 * ROW;
    for (g, group) in super::setup::GROUPS.iter().enumerate() {
        let y = base + g as f64 * 1.5 * ROW;
        let _ = writeln!(s, "<text x=\"4\" y=\"{:.1}\">{group} gaps</text>", y + 11.0);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#dddddd\"/>",
            y + 7.0,
            LEFT + plot,
            y + 7.0
        );
        let mut prev = 0u64;
        let answers = t.answers.get(g).map(Vec::as_slice).unwrap_or_default();
        for at in answers.iter().map(|a| a.0).chain([t.end_ms]) {
            if at - prev > GAP_MS {
                rect(
                    &mut s,
                    prev,
                    at,
                    y,
                    ROW - 2.0,
                    "#d62728",
                    &format!("no answer for {} ms", at - prev),
                );
            }
            prev = at;
        }
    }
    // The checker's verdict on the same axis: web running on two hosts, a violation.
    let y = base + 3.0 * ROW;
    let _ = writeln!(s, "<text x=\"4\" y=\"{:.1}\">two webs</text>", y + 11.0);
    for x2 in o
        .verdict
        .violations
        .iter()
        .filter(|x| x.what == "double-active")
    {
        rect(
            &mut s,
            x2.from_ms,
            x2.to_ms,
            y,
            ROW - 2.0,
            "#7f0000",
            &x2.detail,
        );
    }
    axis(&mut s, y + 1.5 * ROW, t.end_ms, &x);
    legend(&mut s, y + 1.5 * ROW + 30.0);
    s.push_str("</svg>\n");
    s
}

fn axis(s: &mut String, y: f64, end_ms: u64, x: &dyn Fn(u64) -> f64) {
    let step = [5_000u64, 10_000, 30_000, 60_000, 120_000, 300_000]
        .into_iter()
        .find(|st| end_ms / st <= 12)
        .unwrap_or(600_000);
    let mut at = 0;
    while at <= end_ms {
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#999999\"/><text x=\"{0:.1}\" y=\"{3:.1}\" text-anchor=\"middle\">{4} s</text>",
            x(at),
            y - 4.0,
            y + 2.0,
            y + 14.0,
            at / 1000
        );
        at += step;
    }
}

fn legend(s: &mut String, mut y: f64) {
    let mut lx = LEFT;
    let items = ALL.iter().map(|k| (colour(*k), k.name())).chain([
        (WEB, "holds web"),
        (EDGE, "holds edge"),
        ("#cccccc", "down"),
        ("#d62728", "client gap"),
    ]);
    for (fill, name) in items {
        let width = 20.0 + name.len() as f64 * 6.6;
        if lx + width > WIDTH {
            (lx, y) = (LEFT, y + ROW);
        }
        let _ = writeln!(
            s,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{fill}\"/><text x=\"{:.1}\" y=\"{:.1}\">{name}</text>",
            y - 9.0,
            lx + 13.0,
            y
        );
        lx += width;
    }
}
