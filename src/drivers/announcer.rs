//! Announcement bursts, off the loop and paced: a thread of its own sends every burst's
//! rounds through one kept-open socket ([`announce::Sockets`]), at most [`PER_MS`] rounds a
//! millisecond, the first round of every burst before any later one, so a thousand VIPs are
//! all announced within about ten milliseconds and the first without waiting for the rest.
//! The loop only queues a request ([`Announcer::start`], [`Announcer::cancel`]) and returns.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crate::drivers::announce::{self, Port};
use crate::manifest::model::Vip;

/// Rounds sent per millisecond at most (a round is two ARP frames or one NA): a thousand
/// VIPs' first round in 10 ms, without a storm of broadcasts beyond what a switch and the
/// clients' neighbour tables take in stride.
pub const PER_MS: usize = 100;

/// A burst is known by its interface and address.
type Key = (String, IpAddr);

/// One burst under way.
#[derive(Clone, Debug)]
struct Burst {
    group: String,
    vip: Vip,
    /// Rounds sent so far.
    sent: u32,
    /// When the next round is due.
    due: Instant,
    /// The first error met, logged when the burst ends.
    error: Option<String>,
}

/// Every burst under way and when each next round is due: pure, so the pacing is tested
/// without sockets or sleeps.
#[derive(Default)]
pub struct Schedule {
    bursts: BTreeMap<Key, Burst>,
}

impl Schedule {
    /// Starts (or restarts) the burst for `vip` at `now`.
    pub fn start(&mut self, now: Instant, group: String, vip: Vip) {
        let key = (vip.interface.clone(), vip.address);
        let burst = Burst {
            group,
            vip,
            sent: 0,
            due: now,
            error: None,
        };
        self.bursts.insert(key, burst);
    }

    /// Ends the burst for `vip`, if one is under way.
    pub fn cancel(&mut self, vip: &Vip) {
        self.bursts.remove(&(vip.interface.clone(), vip.address));
    }

    /// When the next round is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.bursts.values().map(|b| b.due).min()
    }

    /// Bursts under way.
    pub fn len(&self) -> usize {
        self.bursts.len()
    }

    /// Whether no burst is under way.
    pub fn is_empty(&self) -> bool {
        self.bursts.is_empty()
    }

    /// Up to `budget` rounds due at `now`, first rounds before later ones, earliest due first;
    /// each is counted as sent and its next round scheduled (or its burst ended).
    pub fn take(&mut self, now: Instant, budget: usize) -> Vec<(String, Vip)> {
        let mut due: Vec<(u32, Instant, Key)> = self
            .bursts
            .iter()
            .filter(|(_, b)| b.due <= now)
            .map(|(k, b)| (b.sent, b.due, k.clone()))
            .collect();
        due.sort_unstable();
        due.truncate(budget);
        let mut out = Vec::with_capacity(due.len());
        for (_, _, key) in due {
            let Some(b) = self.bursts.get_mut(&key) else {
                continue;
            };
            out.push((b.group.clone(), b.vip.clone()));
            b.sent = b.sent.saturating_add(1);
            b.due = now.checked_add(b.vip.announce.interval).unwrap_or(now);
        }
        out
    }

    /// Notes a round's failure; the first one of a burst is kept.
    pub fn failed(&mut self, vip: &Vip, error: String) {
        if let Some(b) = self.bursts.get_mut(&(vip.interface.clone(), vip.address)) {
            b.error.get_or_insert(error);
        }
    }

    /// Removes the bursts that sent all their rounds; returns those that met an error.
    pub fn finish(&mut self) -> Vec<(String, Vip, String)> {
        let mut failed = Vec::new();
        self.bursts.retain(|_, b| {
            let done = b.sent >= b.vip.announce.count.max(1);
            if let (true, Some(e)) = (done, &b.error) {
                failed.push((b.group.clone(), b.vip.clone(), e.clone()));
            }
            !done
        });
        failed
    }
}

enum Request {
    Start(String, Vip),
    Cancel(Vip),
}

/// The loop's end of the announcer thread.
#[derive(Clone)]
pub struct Announcer {
    tx: Sender<Request>,
}

impl Announcer {
    /// Opens the socket and starts the thread.
    pub fn spawn() -> std::io::Result<Announcer> {
        let sockets = announce::Sockets::open()?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("announce".into())
            .spawn(move || run(&sockets, &rx))?;
        Ok(Announcer { tx })
    }

    /// Starts a burst for `vip` of `group` (replacing one under way for the same address).
    pub fn start(&self, group: &str, vip: Vip) {
        let _ = self.tx.send(Request::Start(group.to_owned(), vip));
    }

    /// Ends the burst under way for `vip`: a released address must not be announced again.
    pub fn cancel(&self, vip: Vip) {
        let _ = self.tx.send(Request::Cancel(vip));
    }
}

fn take_request(s: &mut Schedule, r: Request) {
    match r {
        Request::Start(group, vip) => s.start(Instant::now(), group, vip),
        Request::Cancel(vip) => s.cancel(&vip),
    }
}

/// The thread: waits for requests or the next due round, sends what is due a millisecond's
/// budget at a time, until the loop's end is dropped.
fn run(sockets: &announce::Sockets, rx: &Receiver<Request>) {
    let mut s = Schedule::default();
    loop {
        let wait = s
            .next_due()
            .map(|d| d.saturating_duration_since(Instant::now()));
        let got = match wait {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(w) => rx.recv_timeout(w),
        };
        match got {
            Ok(r) => take_request(&mut s, r),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        while let Ok(r) = rx.try_recv() {
            take_request(&mut s, r);
        }
        let slice = Instant::now();
        let round = s.take(slice, PER_MS);
        let full = round.len() >= PER_MS;
        send(sockets, &mut s, round);
        for (group, vip, error) in s.finish() {
            tracing::warn!(group, vip = %vip.address, error, "announcement failed");
        }
        if full {
            // The budget is spent: the rest waits for the next millisecond.
            let rest = Duration::from_millis(1).saturating_sub(slice.elapsed());
            std::thread::sleep(rest);
        }
    }
}

fn send(sockets: &announce::Sockets, s: &mut Schedule, round: Vec<(String, Vip)>) {
    // One sysfs read per interface and slice, not per address.
    let mut ports: BTreeMap<String, Result<Port, String>> = BTreeMap::new();
    for (_, vip) in round {
        let port = ports
            .entry(vip.interface.clone())
            .or_insert_with(|| Port::of(&vip.interface).map_err(|e| e.to_string()))
            .clone();
        let sent = port.and_then(|p| sockets.announce(vip.address, p).map_err(|e| e.to_string()));
        if let Err(e) = sent {
            s.failed(&vip, e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::model::Announce;

    fn vip(last: u8, count: u32) -> Vip {
        Vip {
            address: IpAddr::from([10, 0, 0, last]),
            prefix: 24,
            interface: "eth0".into(),
            label: None,
            announce: Announce {
                count,
                interval: Duration::from_millis(200),
                refresh: None,
            },
            track_interface: false,
        }
    }

    #[test]
    fn first_rounds_go_before_repeats_within_the_budget() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        s.start(t0, "g".into(), vip(1, 3));
        let first = s.take(t0, 10);
        assert_eq!(first.len(), 1);
        // 150 new bursts while the first one's second round is due.
        let t1 = t0 + Duration::from_millis(200);
        for i in 2..152 {
            s.start(t1, "g".into(), vip(i, 3));
        }
        let slice = s.take(t1, PER_MS);
        assert_eq!(slice.len(), PER_MS, "no more than the budget");
        assert!(
            slice.iter().all(|(_, v)| v.address != vip(1, 3).address),
            "a repeat waited for the first rounds"
        );
        let next = s.take(t1, PER_MS);
        assert_eq!(next.len(), 51, "50 first rounds left, then the repeat");
        assert_eq!(next.last().map(|(_, v)| v.address), Some(vip(1, 3).address));
        assert!(s.take(t1, PER_MS).is_empty(), "nothing more is due yet");
    }

    #[test]
    fn a_burst_ends_after_its_rounds_and_a_cancel_ends_it_at_once() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        s.start(t0, "g".into(), vip(1, 2));
        s.start(t0, "g".into(), vip(2, 5));
        assert_eq!(s.take(t0, 10).len(), 2);
        assert_eq!(s.next_due(), Some(t0 + Duration::from_millis(200)));
        s.failed(&vip(1, 2), "down".into());
        let t1 = t0 + Duration::from_millis(200);
        assert_eq!(s.take(t1, 10).len(), 2);
        let failed = s.finish();
        assert_eq!(
            failed.len(),
            1,
            "the two-round burst is over, with its error"
        );
        assert_eq!(failed[0].2, "down");
        assert_eq!(s.len(), 1);
        s.cancel(&vip(2, 5));
        assert!(s.is_empty());
        assert_eq!(s.next_due(), None);
    }
}
