//! Drop accounting for the heartbeat links: every datagram a link drops is counted by reason
//! and source address, with a bounded number of sources (a flood from spoofed addresses cannot
//! grow it), and summed up in the journal at most once per [`SUMMARY_EVERY`] while drops
//! continue: how many, why, from where. The first drop after a quiet minute is said at once.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How often, at most, the journal gets a summary.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);
/// Sources reported per reason; the rest are summed under `other`.
pub const SHOWN_SOURCES: usize = 16;
/// Sources tracked per reason: beyond this, the smallest count moves to `other`, so a source
/// that starts late but sends much still surfaces.
const TRACKED_SOURCES: usize = 64;

/// A datagram from an address the link does not accept (the kernel filter samples them).
pub const WRONG_SOURCE: &str = "wrong_source";

/// Drops of one reason as the status reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// How many.
    pub total: u64,
    /// From where: the biggest sources by address, the rest as `other`.
    #[serde(default)]
    pub from: BTreeMap<String, u64>,
}

/// The counts of one reason.
#[derive(Clone, Debug, Default)]
struct Tally {
    total: u64,
    from: BTreeMap<IpAddr, u64>,
    other: u64,
}

impl Tally {
    fn add(&mut self, src: IpAddr, n: u64) {
        self.total = self.total.saturating_add(n);
        if let Some(c) = self.from.get_mut(&src) {
            *c = c.saturating_add(n);
            return;
        }
        if self.from.len() >= TRACKED_SOURCES
            && let Some((&least, &c)) = self.from.iter().min_by_key(|(_, c)| **c)
        {
            self.from.remove(&least);
            self.other = self.other.saturating_add(c);
        }
        self.from.insert(src, n);
    }

    /// The `SHOWN_SOURCES` biggest sources, the rest summed as `other`.
    fn report(&self) -> Dropped {
        let mut by_count: Vec<(&IpAddr, &u64)> = self.from.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut from: BTreeMap<String, u64> = by_count
            .iter()
            .take(SHOWN_SOURCES)
            .map(|(a, c)| (a.to_string(), **c))
            .collect();
        let rest = by_count
            .iter()
            .skip(SHOWN_SOURCES)
            .fold(self.other, |s, (_, c)| s.saturating_add(**c));
        if rest > 0 {
            from.insert("other".into(), rest);
        }
        Dropped {
            total: self.total,
            from,
        }
    }
}

/// Every drop since start, and those since the last summary.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    since_start: BTreeMap<&'static str, Tally>,
    window: BTreeMap<&'static str, Tally>,
    last_summary: Option<Instant>,
}

impl Ledger {
    /// Counts `n` datagrams from `src` dropped for `reason`.
    pub fn count(&mut self, reason: &'static str, src: IpAddr, n: u64) {
        self.since_start.entry(reason).or_default().add(src, n);
        self.window.entry(reason).or_default().add(src, n);
    }

    /// Every reason's drops since start.
    pub fn report(&self) -> BTreeMap<String, Dropped> {
        self.since_start
            .iter()
            .map(|(r, t)| ((*r).to_owned(), t.report()))
            .collect()
    }

    /// The summary to log now, if there were drops since the last one and it was at least
    /// [`SUMMARY_EVERY`] ago (or there was none yet); starts a new window when it returns one.
    pub fn summary_due(&mut self, now: Instant) -> Option<String> {
        if self.window.is_empty() {
            return None;
        }
        let due = self
            .last_summary
            .is_none_or(|t| now.saturating_duration_since(t) >= SUMMARY_EVERY);
        if !due {
            return None;
        }
        let parts: Vec<String> = std::mem::take(&mut self.window)
            .iter()
            .map(|(reason, t)| {
                let r = t.report();
                let from: Vec<String> = r.from.iter().map(|(a, n)| format!("{a}: {n}")).collect();
                format!("{reason}: {} (from {})", r.total, from.join(", "))
            })
            .collect();
        let since = match self.last_summary {
            Some(t) => format!(
                "in the last {} s",
                now.saturating_duration_since(t).as_secs()
            ),
            None => "since start".to_owned(),
        };
        self.last_summary = Some(now);
        Some(format!("{since}: {}", parts.join("; ")))
    }
}

#[cfg(test)]
#[path = "drops_tests.rs"]
mod tests;
