//! The checker's verdict, from the recorded timeline and the nemesis's history alone: time a
//! stateful group ran on two hosts, time a VIP was on two hosts, availability as the client
//! saw it, its gaps by the fault in progress, moves no fault explains, and the time to
//! converge after the last heal.

use std::collections::BTreeMap;

use super::faults::{Fault, Kind};
use super::setup::Timers;
use super::watch::{HostSeen, Timeline};

/// A client silence longer than this is a gap.
pub const GAP_MS: u64 = 50;

/// A time during which an invariant did not hold, with the faults around it.
#[derive(Clone, Debug)]
pub struct Violation {
    /// `double-active`, `false-failover` or `no-convergence`.
    pub what: &'static str,
    /// From, ms since the start.
    pub from_ms: u64,
    /// To.
    pub to_ms: u64,
    /// In words: hosts involved.
    pub detail: String,
    /// The faults begun up to 10 s before it and not healed 10 s before it.
    pub history: Vec<Fault>,
}

/// Percentiles of a list of gaps.
#[derive(Clone, Debug, Default)]
pub struct Spread {
    /// How many.
    pub count: usize,
    /// Median, 99th percentile and maximum, in ms.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Maximum.
    pub max: u64,
}

/// What the checker found.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    /// A stateful group's unit had processes on two running, unfrozen hosts (ms).
    pub double_active_ms: u64,
    /// Double-active time in the documented race after a thaw: a host thawed less than a dead
    /// window before still ran its copy (README, "The paused machine's race").
    pub pause_race_ms: u64,
    /// A VIP was a local address of two running hosts (frozen ones included: their kernel
    /// still answers ARP), summed over VIPs (ms).
    pub vip_duplicate_ms: u64,
    /// The same per group: a VIP-only group keeps its VIP on quorum loss by default, so a
    /// node cut off holds it while the others start it too.
    pub vip_duplicate_by_group: BTreeMap<&'static str, u64>,
    /// Per group, percent of the time the client had an answer.
    pub availability: BTreeMap<&'static str, f64>,
    /// Client gaps per fault kind in progress (or `none`).
    pub gaps_ms: BTreeMap<&'static str, Spread>,
    /// Moves of a group's VIP to another host.
    pub moves: usize,
    /// Moves with no fault in progress or healed within [`Timers::settle`].
    pub false_failovers: usize,
    /// From the last heal until every group ran once and answered; `None` if never.
    pub converge_ms: Option<u64>,
    /// Every violation.
    pub violations: Vec<Violation>,
}

/// The state intervals `(from, to, states)` of a timeline.
pub fn intervals(t: &Timeline) -> Vec<(u64, u64, &[HostSeen])> {
    let s = &t.states;
    (0..s.len())
        .map(|i| {
            let to = s.get(i + 1).map_or(t.end_ms, |n| n.0);
            (s[i].0, to, s[i].1.as_slice())
        })
        .collect()
}

/// Judges a campaign.
pub fn judge(t: &Timeline, faults: &[Fault], last_heal_ms: u64, timers: Timers) -> Verdict {
    let mut v = Verdict::default();
    let groups = super::setup::GROUPS;
    let mut last_holder: Vec<Option<usize>> = vec![None; groups.len()];
    for (from, to, hosts) in intervals(t) {
        let len = to - from;
        let running: Vec<usize> = (0..hosts.len())
            .filter(|&i| hosts[i].up && hosts[i].unit && !hosts[i].frozen)
            .collect();
        if running.len() > 1 {
            let racing = running
                .iter()
                .any(|&i| thawed_within(faults, i, from, timers));
            if racing {
                v.pause_race_ms += len;
            } else {
                v.double_active_ms += len;
                note(
                    &mut v,
                    "double-active",
                    from,
                    to,
                    format!("web.service on {}", names(&running)),
                    faults,
                );
            }
        }
        for (g, group) in groups.iter().enumerate() {
            let holders: Vec<usize> = (0..hosts.len())
                .filter(|&i| hosts[i].up && hosts[i].vips & (1 << g) != 0)
                .collect();
            if holders.len() > 1 {
                v.vip_duplicate_ms += len;
                *v.vip_duplicate_by_group.entry(group).or_default() += len;
            }
            if let [h] = holders[..] {
                if last_holder[g].is_some_and(|l| l != h) {
                    v.moves += 1;
                    if explaining(faults, from, timers).is_none() {
                        v.false_failovers += 1;
                        let d = format!(
                            "{group} moved from h{} to h{}",
                            last_holder[g].unwrap_or(0) + 1,
                            h + 1
                        );
                        note(&mut v, "false-failover", from, from, d, faults);
                    }
                }
                last_holder[g] = Some(h);
            }
        }
    }
    availability_and_gaps(&mut v, t, faults, timers);
    converge(&mut v, t, last_heal_ms, faults);
    v
}

/// Appends a violation, or extends the previous one of the same kind when contiguous.
fn note(v: &mut Verdict, what: &'static str, from: u64, to: u64, detail: String, faults: &[Fault]) {
    if let Some(last) = v.violations.last_mut()
        && last.what == what
        && last.to_ms == from
        && what == "double-active"
    {
        last.to_ms = to;
        return;
    }
    let history = faults
        .iter()
        .filter(|f| f.start_ms <= to + 10_000 && f.end_ms.is_none_or(|e| e + 10_000 >= from))
        .cloned()
        .collect();
    v.violations.push(Violation {
        what,
        from_ms: from,
        to_ms: to,
        detail,
        history,
    });
}

fn names(hosts: &[usize]) -> String {
    hosts
        .iter()
        .map(|i| format!("h{}", i + 1))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Whether host `i` was thawed less than a dead window before `at`.
fn thawed_within(faults: &[Fault], i: usize, at: u64, timers: Timers) -> bool {
    faults.iter().any(|f| {
        f.kind == Kind::Freeze
            && f.host == i
            && f.end_ms
                .is_some_and(|e| e <= at + 10 && at < e + timers.dead)
    })
}

/// The fault that explains something at `at`: the latest begun before it that is in progress
/// or healed within [`Timers::settle`].
fn explaining(faults: &[Fault], at: u64, timers: Timers) -> Option<&Fault> {
    let settle = timers.settle();
    faults
        .iter()
        .filter(|f| f.start_ms <= at && f.end_ms.is_none_or(|e| e + settle >= at))
        .max_by_key(|f| f.start_ms)
}

fn availability_and_gaps(v: &mut Verdict, t: &Timeline, faults: &[Fault], timers: Timers) {
    let mut gaps: BTreeMap<&'static str, Vec<u64>> = BTreeMap::new();
    for (g, group) in super::setup::GROUPS.iter().enumerate() {
        let answers = t.answers.get(g).map(Vec::as_slice).unwrap_or_default();
        let mut times: Vec<u64> = answers.iter().map(|a| a.0).collect();
        times.push(t.end_ms);
        let (mut silent, mut prev) = (0u64, 0u64);
        for &at in &times {
            let gap = at.saturating_sub(prev);
            // Two probe periods of slack: an answer is due every 5 ms.
            silent += gap.saturating_sub(10);
            if gap > GAP_MS {
                // The silence starts after the last answer, and the fault that caused it may have
                // been recorded a few ms later (the last answer was already on its way): a fault
                // begun before the silence became a gap explains it.
                let kind =
                    explaining(faults, prev + GAP_MS, timers).map_or("none", |f| f.kind.name());
                gaps.entry(kind).or_default().push(gap);
            }
            prev = at;
        }
        let pct = 100.0 * (1.0 - silent as f64 / t.end_ms.max(1) as f64);
        v.availability
            .insert(group, (pct * 1000.0).round() / 1000.0);
    }
    for (kind, mut list) in gaps {
        list.sort_unstable();
        let at = |q: f64| list[((list.len() - 1) as f64 * q).round() as usize];
        v.gaps_ms.insert(
            kind,
            Spread {
                count: list.len(),
                p50: at(0.5),
                p99: at(0.99),
                max: at(1.0),
            },
        );
    }
}

/// Converged: the web unit and VIP on one host together, the edge VIP on one host, and every
/// VIP answering with no gap.
fn converge(v: &mut Verdict, t: &Timeline, last_heal: u64, faults: &[Fault]) {
    let mut bad_until = last_heal;
    let mut settled_at_end = true;
    for (_, to, hosts) in intervals(t) {
        let holders = |bit: Option<u8>| -> Vec<usize> {
            (0..hosts.len())
                .filter(|&i| hosts[i].up && bit.map_or(hosts[i].unit, |b| hosts[i].vips & b != 0))
                .collect()
        };
        let (unit, web, edge) = (holders(None), holders(Some(1)), holders(Some(2)));
        let good = unit.len() == 1 && unit == web && edge.len() == 1;
        if !good && to > last_heal {
            bad_until = bad_until.max(to);
            settled_at_end &= to < t.end_ms;
        }
    }
    for answers in &t.answers {
        let mut prev = last_heal;
        for &(at, _) in answers.iter().filter(|a| a.0 >= last_heal) {
            if at - prev > GAP_MS {
                bad_until = bad_until.max(at);
            }
            prev = at;
        }
        settled_at_end &= t.end_ms - prev <= GAP_MS;
    }
    v.converge_ms = settled_at_end.then(|| bad_until - last_heal);
    if !settled_at_end {
        note(
            v,
            "no-convergence",
            last_heal,
            t.end_ms,
            "groups did not settle after the last heal".into(),
            faults,
        );
    }
}
