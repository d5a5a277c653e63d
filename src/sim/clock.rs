//! A node's own monotonic clock in the simulator: it may run fast or slow (the `clock` fault,
//! up to 1,000 ppm), so each engine sees its own time, never the world's. Engines compare
//! only their own times, and nothing of one node's clock crosses the wire.

use crate::engine::Time;

/// Local time = `local` + (world time - `at`) x (1 + `ppm` / 10^6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    at: u64,
    local: u64,
    ppm: i64,
}

const MILLION: i128 = 1_000_000;

impl Clock {
    /// The node's time at world time `now`.
    pub fn local(&self, now: Time) -> Time {
        let d = i128::from(now.0.saturating_sub(self.at));
        let t = i128::from(self.local) + d + d * i128::from(self.ppm) / MILLION;
        Time(u64::try_from(t.max(0)).unwrap_or(u64::MAX))
    }

    /// The world time at which the node's clock shows `t` (at once if it shows it already).
    pub fn world(&self, t: Time) -> Time {
        let Some(ahead) = t.0.checked_sub(self.local) else {
            return Time(self.at);
        };
        // Rounded up: the node's deadline has come when it wakes.
        let rate = MILLION + i128::from(self.ppm);
        let d = (i128::from(ahead) * MILLION + rate - 1) / rate;
        Time(self.at.saturating_add(u64::try_from(d).unwrap_or(u64::MAX)))
    }

    /// The same clock, running at `ppm` from world time `now` on.
    pub fn rebased(self, now: Time, ppm: i64) -> Clock {
        Clock {
            at: now.0,
            local: self.local(now).0,
            ppm: ppm.clamp(-1000, 1000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drifting_clock_maps_back_to_the_world_without_waking_early() {
        let c = Clock::default().rebased(Time(1000), 1000);
        assert_eq!(c.local(Time(1000)), Time(1000));
        assert_eq!(c.local(Time(11_000)), Time(11_010), "1,000 ppm fast");
        for t in [1000, 1001, 5003, 11_010, 99_999] {
            let w = c.world(Time(t));
            assert!(
                c.local(w) >= Time(t),
                "{t}: woken at {w:?}, shows {:?}",
                c.local(w)
            );
            assert!(c.local(Time(w.0 - 1)) < Time(t) || w.0 == 1000);
        }
        let slow = c.rebased(Time(11_000), -1000);
        assert_eq!(slow.local(Time(21_000)), Time(21_000), "back by 10 ms");
        assert!(slow.local(slow.world(Time(30_000))) >= Time(30_000));
        assert_eq!(Clock::default().world(Time(5)), Time(5));
    }
}
