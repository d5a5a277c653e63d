//! Invariants and measurements of a simulation run, and their summary over many seeds.
//!
//! - Safety, at every step: no stateful group may be active (anything started and not yet
//!   stopped) on two nodes at once. Groups allowed to run twice report how long they did.
//! - Liveness: after every fault heals, each group is fully up on exactly one node within the
//!   bound `max(initial_dead, dead_after) + 2 x interval + resource and fence time`.
//! - Stability: after that, nothing changes owner while nothing fails.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use super::faults::Fault;
use crate::engine::{Event, Time};
use crate::manifest::Manifest;

/// A broken invariant, with what is needed to replay it.
#[derive(Clone, Debug, Serialize)]
pub struct Violation {
    /// The seed that reproduces it.
    pub seed: u64,
    /// Which invariant.
    pub invariant: String,
    /// The fault schedule and the last events before the violation.
    pub trace: String,
}

/// The outcome of one seed.
#[derive(Clone, Debug, Default)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// The first broken invariant, if any.
    pub violation: Option<Violation>,
    /// Per group: each stretch of time with no node running it (ms).
    pub gaps: BTreeMap<String, Vec<u64>>,
    /// Per group: the stretches that began with the crash of the node running it (ms).
    pub crash_gaps: BTreeMap<String, Vec<u64>>,
    /// Per group: time it was active on more than one node (ms).
    pub overlap_ms: BTreeMap<String, u64>,
    /// Agents killed while the rest of the cluster was healthy and settled.
    pub clean_kills: usize,
    /// Groups that went without an owner after one of those, before anything else happened.
    pub kill_gaps: usize,
    /// How many faults of each kind hit.
    pub faults: BTreeMap<&'static str, usize>,
}

/// A line of a violation's trace.
enum Line {
    Event(Time, String, Event),
    Fault(Fault),
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Line::Event(at, node, e) => {
                write!(f, "t={} {node} {:?}", at.0, e.kind)?;
                if let Some(g) = &e.group {
                    write!(f, " {g}")?;
                }
                write!(f, ": {}", e.reason)
            }
            Line::Fault(fault) => write!(f, "fault {fault}"),
        }
    }
}

/// Records a run as it happens.
pub(super) struct Tracker {
    pub schedule: Vec<Fault>,
    pub settled_at: Time,
    pub stable_from: Time,
    pub violation: Option<(String, Time)>,
    stateful: BTreeMap<String, bool>,
    /// The last events and faults, written out only for a violation's trace.
    log: VecDeque<Line>,
    gap_start: BTreeMap<String, (Time, bool)>,
    crash_at: BTreeMap<String, Time>,
    overlap_since: BTreeMap<String, Time>,
    /// Until when a gap opening is one of a clean kill.
    kill_until: Option<Time>,
    result: RunResult,
}

impl Tracker {
    pub fn new(m: &Manifest) -> Tracker {
        Tracker {
            schedule: Vec::new(),
            settled_at: Time(0),
            stable_from: Time(u64::MAX),
            violation: None,
            stateful: m
                .groups
                .iter()
                .map(|(n, g)| (n.clone(), g.stateful))
                .collect(),
            log: VecDeque::new(),
            gap_start: BTreeMap::new(),
            crash_at: BTreeMap::new(),
            overlap_since: BTreeMap::new(),
            kill_until: None,
            result: RunResult::default(),
        }
    }

    fn note(&mut self, line: Line) {
        if self.log.len() == 60 {
            self.log.pop_front();
        }
        self.log.push_back(line);
    }

    pub(super) fn violate(&mut self, now: Time, what: String) {
        if self.violation.is_none() {
            self.violation = Some((what, now));
        }
    }

    pub fn log(&mut self, now: Time, node: &str, e: Event) {
        self.note(Line::Event(now, node.to_owned(), e));
    }

    /// A fault hit. `crashed_owner_of`: the groups fully up on a node that lost power while the
    /// rest of the cluster was healthy and settled: the gap each opens measures failover alone.
    pub fn fault(&mut self, now: Time, f: &Fault, crashed_owner_of: &[String]) {
        self.note(Line::Fault(f.clone()));
        if f.kind.name() != "internal" {
            *self.result.faults.entry(f.kind.name()).or_default() += 1;
        }
        // Another fault: what follows is no longer the doing of one kill.
        self.kill_until = None;
        for g in crashed_owner_of {
            self.crash_at.insert(g.clone(), now);
        }
    }

    /// An agent was killed while the rest of the cluster was healthy: a gap opening before
    /// `until` (its restart, grace and resource time), with no other fault, is its doing.
    pub fn clean_kill(&mut self, until: Time) {
        self.result.clean_kills += 1;
        self.kill_until = Some(until);
    }

    /// Something changed in the world: a gap open now is no longer one of a single crash.
    pub fn disturb(&mut self) {
        for (_, after_crash) in self.gap_start.values_mut() {
            *after_crash = false;
        }
    }

    pub fn ownership_event(&mut self, now: Time) {
        if now > self.stable_from {
            self.violate(
                now,
                "ownership changed while nothing failed (flapping)".into(),
            );
        }
    }

    /// Called after every event with who runs (fully) and who has anything of each group.
    pub fn observe(
        &mut self,
        now: Time,
        m: &Manifest,
        owners: &BTreeMap<String, Vec<String>>,
        actives: &BTreeMap<String, Vec<String>>,
    ) {
        for (g, nodes) in actives {
            let stateful = self.stateful.get(g).copied().unwrap_or(true);
            if nodes.len() > 1 && stateful {
                self.violate(
                    now,
                    format!("stateful group {g} active on {nodes:?} at once"),
                );
            }
            match (nodes.len() > 1, self.overlap_since.get(g).copied()) {
                (true, None) => {
                    self.overlap_since.insert(g.clone(), now);
                }
                (false, Some(since)) => {
                    self.overlap_since.remove(g);
                    *self.result.overlap_ms.entry(g.clone()).or_default() += now.0 - since.0;
                }
                _ => {}
            }
        }
        if now < self.settled_at {
            return;
        }
        for g in m.groups.keys() {
            let held = owners.get(g).is_some_and(|o| !o.is_empty());
            match (held, self.gap_start.get(g).copied()) {
                (false, None) => {
                    if self.kill_until.is_some_and(|t| now <= t) {
                        self.result.kill_gaps += 1;
                    }
                    let after_crash = self.crash_at.get(g) == Some(&now);
                    self.gap_start.insert(g.clone(), (now, after_crash));
                }
                (true, Some((start, after_crash))) => {
                    self.gap_start.remove(g);
                    let ms = now.0 - start.0;
                    self.result.gaps.entry(g.clone()).or_default().push(ms);
                    if after_crash {
                        self.result
                            .crash_gaps
                            .entry(g.clone())
                            .or_default()
                            .push(ms);
                    }
                }
                _ => {}
            }
        }
    }

    /// The liveness check after every fault healed.
    pub fn check_converged(&mut self, now: Time, owners: &BTreeMap<String, Vec<String>>) {
        for (g, nodes) in owners {
            if nodes.len() != 1 {
                self.violate(now, format!("group {g} runs on {nodes:?} after the faults healed, not on exactly one node"));
            }
        }
    }

    pub fn finish(&mut self, seed: u64, _now: Time) -> RunResult {
        let mut result = std::mem::take(&mut self.result);
        result.seed = seed;
        if let Some((invariant, at)) = self.violation.take() {
            let faults: Vec<String> = self.schedule.iter().map(ToString::to_string).collect();
            let trace = format!(
                "seed {seed}; violated at t={}ms\nfault schedule:\n  {}\nlast events:\n  {}",
                at.0,
                faults.join("\n  "),
                self.log
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n  ")
            );
            result.violation = Some(Violation {
                seed,
                invariant,
                trace,
            });
        }
        result
    }
}

/// Failover figures of one group over many runs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GroupStats {
    /// Time with no node running the group after a fault: p50, p99, max (ms).
    pub failover_ms: Percentiles,
    /// The same, only for stretches that began with the crash of the node running it.
    pub crash_failover_ms: Percentiles,
    /// Total time the group was active on two nodes at once (ms); nonzero only for groups
    /// allowed to run twice.
    pub overlap_ms: u64,
}

/// p50 / p99 / max.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Maximum.
    pub max: u64,
    /// Number of samples.
    pub samples: usize,
}

impl Percentiles {
    fn of(mut v: Vec<u64>) -> Percentiles {
        if v.is_empty() {
            return Percentiles::default();
        }
        v.sort_unstable();
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Percentiles {
            p50: at(0.5),
            p99: at(0.99),
            max: *v.last().unwrap_or(&0),
            samples: v.len(),
        }
    }
}

/// Many runs together.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Runs.
    pub schedules: usize,
    /// Every violation found.
    pub violations: Vec<Violation>,
    /// Per group figures.
    pub groups: BTreeMap<String, GroupStats>,
    /// How many faults of each kind hit, over all runs: the kinds that ran.
    pub faults: BTreeMap<&'static str, usize>,
}

impl Summary {
    /// Combines run results.
    pub fn of(results: Vec<RunResult>) -> Summary {
        let mut gaps: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut crash: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut overlap: BTreeMap<String, u64> = BTreeMap::new();
        let mut s = Summary {
            schedules: results.len(),
            ..Summary::default()
        };
        for r in results {
            for (k, n) in &r.faults {
                *s.faults.entry(k).or_default() += n;
            }
            for (g, v) in r.gaps {
                gaps.entry(g).or_default().extend(v);
            }
            for (g, v) in r.crash_gaps {
                crash.entry(g).or_default().extend(v);
            }
            for (g, ms) in r.overlap_ms {
                *overlap.entry(g).or_default() += ms;
            }
            s.violations.extend(r.violation);
        }
        let names: std::collections::BTreeSet<String> = gaps
            .keys()
            .chain(crash.keys())
            .chain(overlap.keys())
            .cloned()
            .collect();
        for g in names {
            let stats = GroupStats {
                failover_ms: Percentiles::of(gaps.remove(&g).unwrap_or_default()),
                crash_failover_ms: Percentiles::of(crash.remove(&g).unwrap_or_default()),
                overlap_ms: overlap.get(&g).copied().unwrap_or(0),
            };
            s.groups.insert(g, stats);
        }
        s
    }
}
