//! The flood benchmark (`--flood`): on a fresh two-node bed per run, with alpha holding the
//! VIP, a flooder in the client's namespace sends forged heartbeats at full speed to alpha
//! (haagent: UDP to its heartbeat port; keepalived: VRRP advertisements), from the client's
//! own address or forged as beta's, 100 and 1,400 bytes, while the client asks the VIP every
//! 2 ms. Per run: the rate the flooder reached, for haagent the rate of forged datagrams the
//! holder counted (those the kernel did not drop first: `dropped` in its status, where a
//! filtered source's samples stand for 64 each), the membership and ownership events the two
//! nodes logged during the flood (and a second after), and the client's longest gap. Each
//! system and setting also gets a run without a flood: the client's longest gap on this
//! machine with nothing forged, to read the others against.

use std::net::SocketAddrV4;
use std::time::Duration;

use haagent_testbed::Probe;
use haagent_testbed::cluster::{Cluster, Install};
use haagent_testbed::flood::{Flood, Forged};
use haagent_testbed::probe::Mode;

use super::Timers;
use super::systems::{self, System};

/// The bed's netns prefix and subnet.
const PREFIX: &str = "fl";
const SUBNET: u8 = 93;
/// haagent's default heartbeat port.
const HEARTBEAT_PORT: u16 = 694;

/// The timer settings of the flood runs (interval; warn after two, dead after three).
pub const SETTINGS: [u64; 3] = [100, 300, 500];

/// haagent's journal message ids of peer late, dead, link down, quorum lost, acquire, release.
const UPSETS: [&str; 6] = [
    "5e3b1f0c8a2d4c6e9b7a10f2d4c60102",
    "5e3b1f0c8a2d4c6e9b7a10f2d4c60103",
    "5e3b1f0c8a2d4c6e9b7a10f2d4c60106",
    "5e3b1f0c8a2d4c6e9b7a10f2d4c60108",
    "5e3b1f0c8a2d4c6e9b7a10f2d4c60109",
    "5e3b1f0c8a2d4c6e9b7a10f2d4c6010a",
];

/// One run's figures.
pub struct FloodRow {
    timers: String,
    system: &'static str,
    source: &'static str,
    size: usize,
    rate: f64,
    counted: Option<f64>,
    events: (usize, usize),
    gap: Duration,
    answered: String,
}

/// Membership and ownership events logged so far on `node`, with their time.
fn event_lines(c: &Cluster, system: System, node: &str) -> Result<Vec<String>, String> {
    let script = match system {
        System::Keepalived => format!(
            "journalctl --no-pager -o short-precise -u {} | grep 'Entering' || true",
            system.unit()
        ),
        _ => {
            let ids: Vec<String> = UPSETS.iter().map(|i| format!("MESSAGE_ID={i}")).collect();
            format!(
                "journalctl --no-pager -o short-precise -u haagent.service {} | grep -v '^-- ' || true",
                ids.join(" ")
            )
        }
    };
    Ok(c.sh(node, &script)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect())
}

fn events(c: &Cluster, system: System, node: &str) -> Result<usize, String> {
    event_lines(c, system, node).map(|l| l.len())
}

fn both(c: &Cluster, system: System) -> Result<(usize, usize), String> {
    Ok((events(c, system, "alpha")?, events(c, system, "beta")?))
}

/// Datagrams the holder counted as dropped so far (haagent's status), if it tells.
fn counted(c: &Cluster, system: System) -> Option<u64> {
    if system == System::Keepalived {
        return None;
    }
    let out = c.ctl("alpha", &["status", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let dropped = s.get("dropped")?.as_object()?;
    Some(dropped.values().filter_map(|d| d["total"].as_u64()).sum())
}

/// One flood run (`size` 0: no flood, the baseline).
fn run(
    system: System,
    t: Timers,
    size: usize,
    forged_source: bool,
    secs: u64,
    install: &Install,
) -> Result<FloodRow, String> {
    let c = systems::setup_in(system, t, install, PREFIX, SUBNET)?;
    // The events of joining and the first election are not the flood's.
    std::thread::sleep(Duration::from_secs(2));
    let before = both(&c, system)?;
    let vip = SocketAddrV4::new(systems::vip(&c.bed), systems::PORT);
    let ns = c.bed.client_netns();
    let probe = Probe::start(&ns, vip, Mode::Udp, Duration::from_millis(2))?;
    let source = match forged_source {
        true => c.bed.ip("beta"),
        false => c.bed.client_ip(),
    };
    let target = SocketAddrV4::new(c.bed.ip("alpha"), HEARTBEAT_PORT);
    let kind = match system {
        System::Keepalived => Forged::Vrrp,
        _ => Forged::Haagent,
    };
    let counted_before = counted(&c, system);
    let flood = match size {
        0 => None,
        _ => Some(Flood::of(kind, &ns, target, Some(source), size)?),
    };
    std::thread::sleep(Duration::from_secs(secs));
    let sent = flood.map(Flood::stop).transpose()?.unwrap_or_default();
    let counted_after = counted(&c, system);
    std::thread::sleep(Duration::from_secs(1));
    let seen = probe.stop()?;
    let after = both(&c, system)?;
    // What happened, for the reader of a run with events (haagent's only; keepalived's are many).
    if system != System::Keepalived && after != before {
        for (node, skip) in [("alpha", before.0), ("beta", before.1)] {
            for l in event_lines(&c, system, node)?.iter().skip(skip) {
                eprintln!("   {node}: {l}");
            }
        }
    }
    let counted = counted_before
        .zip(counted_after)
        .map(|(b, a)| a.saturating_sub(b) as f64 / sent.elapsed.as_secs_f64().max(1e-9));
    Ok(FloodRow {
        timers: t.label(),
        system: system.name(),
        source: match (size, forged_source) {
            (0, _) => "no flood",
            (_, true) => "forged as beta",
            (_, false) => "client's own",
        },
        size,
        rate: sent.rate(),
        counted: counted.filter(|_| size > 0),
        events: (
            after.0.saturating_sub(before.0),
            after.1.saturating_sub(before.1),
        ),
        gap: seen.longest_gap,
        answered: format!("{} / {}", seen.answered, seen.sent),
    })
}

/// Every flood run: each setting, system, source and size.
pub fn measure(
    secs: u64,
    only: &str,
    interval: Option<u64>,
    repeat: usize,
    install: &Install,
) -> Result<Vec<FloodRow>, String> {
    let mut rows = Vec::new();
    let settings = SETTINGS
        .iter()
        .filter(|i| interval.is_none_or(|x| x == **i));
    for &interval in settings {
        let t = Timers {
            interval_ms: interval,
            warn_ms: 2 * interval,
            dead_ms: 3 * interval,
        };
        for system in [System::HaagentUnit, System::Keepalived] {
            if !system.name().contains(only) {
                continue;
            }
            let runs = [
                (0, false),
                (100, false),
                (1400, false),
                (100, true),
                (1400, true),
            ];
            for (size, forged) in runs.iter().flat_map(|r| std::iter::repeat_n(*r, repeat)) {
                eprintln!(
                    "== flood: {} with timers {}, {size} bytes, forged source: {forged}",
                    system.name(),
                    t.label()
                );
                let r = run(system, t, size, forged, secs, install)?;
                eprintln!("   {}", line(&r));
                rows.push(r);
            }
        }
    }
    Ok(rows)
}

fn line(r: &FloodRow) -> String {
    let counted = r.counted.map_or("-".into(), |c| format!("{c:.0}"));
    format!(
        "| {} | {} | {} | {} | {:.0} | {counted} | {} / {} | {} | {} |",
        r.timers,
        r.system,
        r.source,
        r.size,
        r.rate,
        r.events.0,
        r.events.1,
        r.gap.as_millis(),
        r.answered
    )
}

/// The table of every run.
pub fn table(rows: &[FloodRow], secs: u64) -> String {
    let mut out = format!(
        "\n| timers (interval / dead) | system | flood source | bytes | forged datagrams/s sent | counted by the holder /s | events during {secs} s (alpha / beta) | client's longest gap, ms | client answered |\n|---|---|---|---|---|---|---|---|---|\n"
    );
    for r in rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}
