//! How long the loop was held: for each wake-up, the time from when it was due (a timer's
//! deadline, or the moment the loop woke for a message) to the end of the work it caused.
//! Kept as the worst since start and the worst of the last minute (six ten-second buckets),
//! for `haagentctl status`; a wake-up held longer than a quarter of the watchdog bound is
//! logged, at most once every ten seconds, with the count of those not logged.

use std::time::Duration;

use crate::control::status::LoopLatency;

/// How long each bucket of the last minute spans, in ms.
const BUCKET_MS: u64 = 10_000;
/// Buckets in a minute.
const BUCKETS: usize = 6;
/// The least time between two warnings, in ms.
const WARN_EVERY_MS: u64 = 10_000;

/// A warning to log: how long this wake-up was held, and how many more were held too long
/// since the last warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// This wake-up, in ms.
    pub held_ms: u64,
    /// Wake-ups held too long and not logged since the last warning.
    pub unlogged: u64,
}

/// The record. Times are the agent's clock in ms (the boot clock since start).
#[derive(Clone, Debug)]
pub struct Latency {
    warn_over: Duration,
    worst: Duration,
    /// (bucket number, worst in it).
    buckets: [(u64, Duration); BUCKETS],
    warned_at: Option<u64>,
    unlogged: u64,
}

impl Latency {
    /// A record warning above a quarter of `watchdog`.
    pub fn new(watchdog: Duration) -> Latency {
        Latency {
            warn_over: watchdog / 4,
            worst: Duration::ZERO,
            buckets: [(0, Duration::ZERO); BUCKETS],
            warned_at: None,
            unlogged: 0,
        }
    }

    /// Warns above a quarter of `watchdog` from now on (a reload changed the timers).
    pub fn set_bound(&mut self, watchdog: Duration) {
        self.warn_over = watchdog / 4;
    }

    /// Notes a wake-up at `now_ms` held for `held`; a warning when it is time for one.
    pub fn note(&mut self, now_ms: u64, held: Duration) -> Option<Warning> {
        self.worst = self.worst.max(held);
        let n = now_ms / BUCKET_MS;
        let slot = &mut self.buckets[(n % BUCKETS as u64) as usize];
        if slot.0 != n {
            *slot = (n, Duration::ZERO);
        }
        slot.1 = slot.1.max(held);
        if held <= self.warn_over {
            return None;
        }
        self.unlogged = self.unlogged.saturating_add(1);
        let quiet = self
            .warned_at
            .is_some_and(|at| now_ms.saturating_sub(at) < WARN_EVERY_MS);
        if quiet {
            return None;
        }
        self.warned_at = Some(now_ms);
        let unlogged = std::mem::take(&mut self.unlogged).saturating_sub(1);
        Some(Warning {
            held_ms: ms(held),
            unlogged,
        })
    }

    /// The figures at `now_ms`.
    pub fn report(&self, now_ms: u64) -> LoopLatency {
        let n = now_ms / BUCKET_MS;
        // The current bucket and the five before it: between 50 and 60 s.
        let recent = self
            .buckets
            .iter()
            .filter(|(b, _)| n.saturating_sub(*b) < BUCKETS as u64 && *b <= n)
            .map(|(_, d)| *d)
            .max()
            .unwrap_or_default();
        LoopLatency {
            worst_ms: ms(self.worst),
            last_minute_worst_ms: ms(recent),
            warn_over_ms: ms(self.warn_over),
        }
    }
}

/// Whole milliseconds, rounded up: a wake-up held 0.2 ms reads 1, never 0.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_micros().div_ceil(1000)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn worst_ever_and_of_the_last_minute() {
        let mut l = Latency::new(100 * MS);
        assert_eq!(l.note(1_000, 7 * MS), None);
        l.note(5_000, Duration::from_micros(200));
        let r = l.report(5_000);
        assert_eq!(
            (r.worst_ms, r.last_minute_worst_ms, r.warn_over_ms),
            (7, 7, 25)
        );
        // Seventy seconds on, the 7 ms has left the minute but not the record.
        l.note(75_000, 3 * MS);
        let r = l.report(75_000);
        assert_eq!((r.worst_ms, r.last_minute_worst_ms), (7, 3));
        assert_eq!(l.report(200_000).last_minute_worst_ms, 0);
        assert_eq!(ms(Duration::from_micros(1)), 1);
    }

    #[test]
    fn warnings_above_a_quarter_of_the_bound_at_most_every_ten_seconds() {
        let mut l = Latency::new(100 * MS);
        assert_eq!(l.note(0, 25 * MS), None, "a quarter itself is fine");
        let w = l.note(10, 30 * MS).expect("the first is logged");
        assert_eq!((w.held_ms, w.unlogged), (30, 0));
        assert_eq!(l.note(20, 40 * MS), None);
        assert_eq!(l.note(9_000, 50 * MS), None);
        let w = l.note(10_010, 60 * MS).expect("ten seconds later");
        assert_eq!((w.held_ms, w.unlogged), (60, 2));
    }
}
