//! Job results on their way to the calls that queued the jobs: a result may come before its
//! waiter (the job ended before the call returned its path), so recent ones are kept, bounded.

use std::collections::{HashMap, VecDeque};

use tokio::sync::oneshot;
use zbus::OwnedObjectPath;

/// How many results of jobs nobody waits for yet are kept: a job may end before the call
/// that queued it returns its path. Far more than the jobs one call's round trip can see end.
pub(super) const RECENT_RESULTS: usize = 1024;

/// Job results on their way to the calls that queued the jobs.
#[derive(Default)]
pub(super) struct Results {
    waiting: HashMap<OwnedObjectPath, oneshot::Sender<String>>,
    /// Results that came before their waiter, oldest first.
    recent: VecDeque<(OwnedObjectPath, String)>,
}

impl Results {
    /// Hands a job's result to its waiter, or keeps it for one to come.
    pub(super) fn arrived(&mut self, job: OwnedObjectPath, result: String) {
        if let Some(tx) = self.waiting.remove(&job) {
            let _ = tx.send(result);
            return;
        }
        if self.recent.len() == RECENT_RESULTS {
            self.recent.pop_front();
        }
        self.recent.push_back((job, result));
    }

    /// The result of `job` if it came already, else a receiver for it.
    pub(super) fn wait(
        &mut self,
        job: OwnedObjectPath,
    ) -> Result<String, oneshot::Receiver<String>> {
        if let Some(i) = self.recent.iter().position(|(j, _)| *j == job) {
            return Ok(self.recent.remove(i).map(|(_, r)| r).unwrap_or_default());
        }
        let (tx, rx) = oneshot::channel();
        self.waiting.insert(job, tx);
        Err(rx)
    }
}

#[cfg(test)]
mod results_tests {
    use super::*;

    fn job(n: u32) -> OwnedObjectPath {
        OwnedObjectPath::try_from(format!("/org/freedesktop/systemd1/job/{n}")).unwrap()
    }

    #[test]
    fn a_result_reaches_its_waiter_whether_it_comes_before_or_after() {
        let mut r = Results::default();
        r.arrived(job(1), "done".into());
        assert_eq!(r.wait(job(1)).ok().as_deref(), Some("done"));
        let mut rx = r.wait(job(2)).unwrap_err();
        r.arrived(job(3), "failed".into());
        assert!(
            rx.try_recv().is_err(),
            "another job's result is not this one's"
        );
        r.arrived(job(2), "timeout".into());
        assert_eq!(rx.try_recv().ok().as_deref(), Some("timeout"));
        assert!(r.waiting.is_empty());
    }

    #[test]
    fn results_nobody_waits_for_are_bounded() {
        let mut r = Results::default();
        for n in 0..(RECENT_RESULTS as u32 + 10) {
            r.arrived(job(n), "done".into());
        }
        assert_eq!(r.recent.len(), RECENT_RESULTS);
        assert!(r.wait(job(0)).is_err(), "the oldest were let go");
    }
}
