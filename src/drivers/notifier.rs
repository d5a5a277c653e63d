//! Notifications through a systemd template unit (`notify: { unit: NAME@.service }`): for each
//! acquire, release, resource failure, dead peer and quorum change, one instance of the
//! template is started, named `EVENT/GROUP/NODE/REASON` systemd-escaped, so `%I` in the unit
//! gives that text back. The systemd way of keepalived's `notify_master` scripts: the agent
//! runs no shell, and the unit's own sandbox, user and timeouts apply.
//!
//! The loop only queues: a bounded channel to a task that calls StartUnit, with a few jobs in
//! flight at once; an exiting agent gives the task a moment to send what is queued. A full queue drops the notification, counted and logged (at the 1st, 2nd,
//! 4th, 8th... drop, so a flood of events cannot flood the journal too).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

use super::systemd::Systemd;
use super::unit_escape::escape_within;
use crate::engine::{Event, EventKind};
use crate::manifest::model::NotifyUnit;

/// Notifications waiting for the task; more are dropped.
pub const QUEUE: usize = 64;
/// Notification units being started at once.
const IN_FLIGHT: usize = 8;
/// How long the task waits for one unit's start job before it stops waiting (the unit runs on).
const JOB_WAIT: Duration = Duration::from_secs(60);
/// systemd's limit on a unit name's length.
const UNIT_NAME_MAX: usize = 255;

/// The events that start a notification unit.
pub fn notified(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Acquire
            | EventKind::Release
            | EventKind::Released
            | EventKind::ResourceFailed
            | EventKind::PeerDead
            | EventKind::QuorumGained
            | EventKind::QuorumLost
    )
}

/// The unit started for `e`: the template's instance `EVENT/GROUP/NODE/REASON`, escaped, an
/// absent group or node left empty, the reason cut to keep the name within systemd's limit.
pub fn unit_for(template: &NotifyUnit, e: &Event) -> String {
    let kind = crate::drivers::logging::kind_name(e.kind);
    let head = format!(
        "{kind}/{}/{}/",
        e.group.as_deref().unwrap_or(""),
        e.node.as_deref().unwrap_or("")
    );
    let fixed = template.instance("").len();
    let room = UNIT_NAME_MAX.saturating_sub(fixed);
    let head = escape_within(&head, room);
    let reason = escape_within(&e.reason, room.saturating_sub(head.len()));
    template.instance(&format!("{head}{reason}"))
}

/// Counts, for status and metrics.
#[derive(Debug, Default)]
pub struct Counts {
    /// Units whose start job finished `done`.
    pub started: AtomicU64,
    /// Units whose start failed (the job's result or the call's error).
    pub failed: AtomicU64,
    /// Notifications dropped because the queue was full.
    pub dropped: AtomicU64,
}

struct Job {
    unit: String,
    mode: String,
}

/// The loop's end of the notification queue.
pub struct Notifier {
    tx: mpsc::Sender<Job>,
    /// Shared with the task.
    pub counts: Arc<Counts>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Notifier {
    /// Starts the task; it uses `systemd` or, when the agent has no connection, its own,
    /// made when the first notification comes.
    pub fn spawn(systemd: Option<Systemd>) -> Notifier {
        let (tx, rx) = mpsc::channel(QUEUE);
        let counts = Arc::new(Counts::default());
        let task = tokio::spawn(work(rx, systemd, counts.clone()));
        Notifier {
            tx,
            counts,
            task: Some(task),
        }
    }

    /// Closes the queue and gives the task up to `within` to hand what is queued to systemd
    /// (not to wait for the units): the release notifications of a stopping agent go out.
    pub async fn close(&mut self, within: Duration) {
        // The task ends once every sender is gone: swap ours for one of a closed channel.
        drop(std::mem::replace(&mut self.tx, mpsc::channel(1).0));
        if let Some(task) = self.task.take()
            && tokio::time::timeout(within, task).await.is_err()
        {
            tracing::warn!("notifications still queued at exit are dropped");
        }
    }

    /// Queues the notification of `e` if `template` is set and `e` is notified; never waits.
    pub fn event(&self, template: Option<&NotifyUnit>, e: &Event) {
        let Some(t) = template.filter(|_| notified(e.kind)) else {
            return;
        };
        let job = Job {
            unit: unit_for(t, e),
            mode: t.mode.clone(),
        };
        if let Err(mpsc::error::TrySendError::Full(job)) = self.tx.try_send(job) {
            let n = self
                .counts
                .dropped
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1);
            if n.is_power_of_two() {
                tracing::warn!(unit = %job.unit, dropped = n, queue = QUEUE, "notification dropped: the queue is full");
            }
        }
    }
}

/// Sends each notification's StartUnit in turn (a queued job runs even if the agent exits
/// next), then waits for its result apart, [`IN_FLIGHT`] at most; ends when the queue closes.
async fn work(mut rx: mpsc::Receiver<Job>, mut systemd: Option<Systemd>, counts: Arc<Counts>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(job) = rx.recv().await {
        let s = match &systemd {
            Some(s) => s.clone(),
            None => match Systemd::connect().await {
                Ok(s) => systemd.insert(s).clone(),
                Err(e) => {
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(unit = %job.unit, error = %e, "notification not sent: cannot reach systemd");
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let result = match s.queue_start(&job.unit, &job.mode).await {
            Ok(result) => result,
            Err(e) => {
                counts.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(unit = %job.unit, error = %e, "notification unit not started");
                continue;
            }
        };
        let counts = counts.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(JOB_WAIT, result).await {
                Ok(Ok(())) => {
                    counts.started.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(unit = %job.unit, "notification unit ran");
                }
                Ok(Err(e)) => {
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(unit = %job.unit, error = %e, "notification unit failed");
                }
                Err(_) => {
                    tracing::info!(unit = %job.unit, "notification unit still starting after 60 s; no longer waited for")
                }
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::unit_escape::unescape;

    fn event(kind: EventKind, group: Option<&str>, reason: &str) -> Event {
        Event {
            kind,
            node: Some("alpha".into()),
            group: group.map(str::to_owned),
            reason: reason.into(),
        }
    }

    fn template() -> NotifyUnit {
        NotifyUnit {
            template: "hn@.service".into(),
            mode: "fail".into(),
        }
    }

    #[test]
    fn instance_carries_event_group_node_and_reason() {
        let e = event(EventKind::Acquire, Some("web"), "peer beta dead");
        let unit = unit_for(&template(), &e);
        assert_eq!(unit, "hn@acquire-web-alpha-peer\\x20beta\\x20dead.service");
        let inst = unit
            .strip_prefix("hn@")
            .and_then(|u| u.strip_suffix(".service"));
        assert_eq!(
            unescape(inst.unwrap()).as_deref(),
            Some("acquire/web/alpha/peer beta dead")
        );
        let q = unit_for(&template(), &event(EventKind::QuorumLost, None, "x"));
        assert_eq!(q, "hn@quorum_lost--alpha-x.service");
    }

    #[test]
    fn long_reasons_are_cut_to_systemds_limit() {
        let e = event(
            EventKind::ResourceFailed,
            Some("web"),
            &"échec ".repeat(100),
        );
        let unit = unit_for(&template(), &e);
        assert!(unit.len() <= UNIT_NAME_MAX, "{}", unit.len());
        assert!(unit.ends_with(".service") && unit.starts_with("hn@resource_failed-web-alpha-"));
        let inst = &unit["hn@".len()..unit.len() - ".service".len()];
        assert!(
            unescape(inst)
                .unwrap()
                .starts_with("resource_failed/web/alpha/échec")
        );
    }

    #[test]
    fn only_the_documented_events_notify() {
        assert!(notified(EventKind::Acquire) && notified(EventKind::QuorumGained));
        assert!(!notified(EventKind::PeerLate) && !notified(EventKind::Running));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_drops_and_counts_without_waiting() {
        let (tx, _rx) = mpsc::channel(QUEUE);
        let n = Notifier {
            tx,
            counts: Arc::default(),
            task: None,
        };
        let e = event(EventKind::Acquire, Some("web"), "r");
        for _ in 0..QUEUE + 5 {
            n.event(Some(&template()), &e);
        }
        n.event(None, &e);
        n.event(Some(&template()), &event(EventKind::PeerLate, None, "r"));
        assert_eq!(n.counts.dropped.load(Ordering::Relaxed), 5);
    }
}
