//! Prometheus metrics (`metrics: { listen: ADDRESS:PORT }`): what the agent counts beyond the
//! engine's view ([`Tracker`]: acquisitions, releases, failures and how long each acquisition
//! took to run, per group; the loop's latency), the picture a scrape is rendered from
//! ([`Scrape`], built on the loop from the same status `haagentctl status` shows), and the
//! server ([`http`]), which renders off the loop.

pub mod http;
mod out;
mod render;
mod series;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub use render::render;

use super::status::Status;
use crate::engine::{Event, EventKind};

/// Upper bounds (s) of an acquisition's buckets: from the acquire decision to running.
pub const ACQUIRE_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0];
/// Upper bounds (s) of the loop's wake-ups.
pub const LOOP_BUCKETS: [f64; 9] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// A cumulative histogram with fixed buckets (`le` bounds in seconds, +Inf implied).
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations at or below each bound (not cumulative here; summed when rendered).
    counts: Vec<u64>,
    /// Observations above the last bound.
    over: u64,
    sum: f64,
}

impl Histogram {
    /// An empty histogram over `bounds`, ascending.
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            over: 0,
            sum: 0.0,
        }
    }

    /// Notes one observation.
    pub fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        self.sum += s;
        match self.bounds.iter().position(|b| s <= *b) {
            Some(i) => self.counts[i] = self.counts[i].saturating_add(1),
            None => self.over = self.over.saturating_add(1),
        }
    }

    /// `(le, cumulative count)` for each bound, then `+Inf`; the sum.
    pub fn cumulative(&self) -> (Vec<(String, u64)>, f64) {
        let mut total = 0u64;
        let mut out: Vec<(String, u64)> = self
            .bounds
            .iter()
            .zip(&self.counts)
            .map(|(b, c)| {
                total = total.saturating_add(*c);
                (format!("{b}"), total)
            })
            .collect();
        out.push(("+Inf".into(), total.saturating_add(self.over)));
        (out, self.sum)
    }
}

/// One group's counts here.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupCounts {
    /// Times this node decided to acquire it.
    pub acquisitions: u64,
    /// Times this node released it (a release is logged when it begins and when it is done;
    /// counted once).
    pub releases: u64,
    /// Resource failures here.
    pub failures: u64,
    /// From each acquire to its group running here.
    pub acquire_seconds: Histogram,
    /// From the decision to release to every resource stopped.
    pub release_seconds: Histogram,
    /// The acquire under way, since when.
    acquiring: Option<Instant>,
    /// The release under way, since when.
    releasing: Option<Instant>,
}

impl Default for GroupCounts {
    fn default() -> GroupCounts {
        GroupCounts {
            acquisitions: 0,
            releases: 0,
            failures: 0,
            acquire_seconds: Histogram::new(&ACQUIRE_BUCKETS),
            release_seconds: Histogram::new(&ACQUIRE_BUCKETS),
            acquiring: None,
            releasing: None,
        }
    }
}

/// What the agent counts for metrics, fed from the engine's events and the loop's wake-ups.
#[derive(Clone, Debug)]
pub struct Tracker {
    /// Per group (groups of the manifest only: bounded by its limits).
    pub groups: BTreeMap<String, GroupCounts>,
    /// How long each wake-up held the loop.
    pub loop_held: Histogram,
}

impl Default for Tracker {
    fn default() -> Tracker {
        Tracker {
            groups: BTreeMap::new(),
            loop_held: Histogram::new(&LOOP_BUCKETS),
        }
    }
}

impl Tracker {
    /// Notes an event of the engine's at `now`. Group events are this node's own.
    pub fn event(&mut self, e: &Event, now: Instant) {
        let Some(g) = &e.group else { return };
        if !matches!(
            e.kind,
            EventKind::Acquire
                | EventKind::Running
                | EventKind::Release
                | EventKind::Released
                | EventKind::ResourceFailed
        ) {
            return;
        }
        let c = self.groups.entry(g.clone()).or_default();
        match e.kind {
            EventKind::Acquire => {
                c.acquisitions = c.acquisitions.saturating_add(1);
                c.acquiring = Some(now);
                c.releasing = None;
            }
            EventKind::Running => {
                if let Some(t) = c.acquiring.take() {
                    c.acquire_seconds.observe(now.saturating_duration_since(t));
                }
            }
            // A release is logged when decided (it counts) and `released` once every resource
            // is stopped (it ends the duration).
            EventKind::Release => {
                c.releases = c.releases.saturating_add(1);
                c.releasing = Some(now);
                c.acquiring = None;
            }
            EventKind::Released => {
                if let Some(t) = c.releasing.take() {
                    c.release_seconds.observe(now.saturating_duration_since(t));
                }
            }
            _ => c.failures = c.failures.saturating_add(1),
        }
    }

    /// Forgets groups the manifest no longer has (after a reload).
    pub fn retain(&mut self, groups: &BTreeMap<String, crate::manifest::model::Group>) {
        self.groups.retain(|g, _| groups.contains_key(g));
    }
}

/// The last reload, for metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reloads {
    /// Accepted reloads since start.
    pub ok: u64,
    /// Refused reloads since start.
    pub refused: u64,
    /// When the last one was asked for (seconds since the Unix epoch), and whether accepted.
    pub last: Option<(f64, bool)>,
}

impl Reloads {
    /// Notes a reload's result.
    pub fn note(&mut self, ok: bool, at: std::time::SystemTime) {
        let n = if ok { &mut self.ok } else { &mut self.refused };
        *n = n.saturating_add(1);
        let secs = at
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.last = Some((secs, ok));
    }
}

/// Everything one scrape shows, taken on the loop and rendered off it.
#[derive(Clone, Debug)]
pub struct Scrape {
    /// The status `haagentctl status` shows.
    pub status: Status,
    /// Counts kept for metrics.
    pub tracker: Tracker,
    /// Notification units started, failed, dropped.
    pub notifications: [u64; 3],
    /// Reloads.
    pub reloads: Reloads,
    /// The digest of the manifest in force (the one heartbeats carry).
    pub digest: u64,
}

#[cfg(test)]
mod tests;
