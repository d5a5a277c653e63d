//! The engine's clock: `CLOCK_BOOTTIME`, which goes on while the machine is suspended or its
//! processes frozen (`CLOCK_MONOTONIC`, tokio's clock, stops during a suspend), so an agent
//! that was paused sees, at its first input afterwards, how long it was gone.
#![allow(unsafe_code)]

use std::time::Duration;

/// Time since boot, suspends included.
pub fn boottime() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_BOOTTIME exists on every Linux since
    // 2.6.39, and on failure `ts` stays zeroed (time would stand still, never go back).
    unsafe {
        libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts);
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn boottime_goes_forward() {
        let a = super::boottime();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = super::boottime();
        assert!(b >= a + std::time::Duration::from_millis(5), "{a:?} {b:?}");
    }
}
