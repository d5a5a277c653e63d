//! The flight recorder: every engine input of this node with its time and the actions the
//! engine returned, in `$STATE_DIRECTORY/recorder/`, for `haagentctl replay` (the format is
//! `sim::replay::format`). It stays off the loop's path: [`Recorder::record`] clones the
//! input and actions into a bounded queue and returns; a thread serialises, writes, rotates
//! ([`files`]) and syncs once a second. When the queue is full or the disk fails, inputs are
//! dropped and counted, never waited for: the recording marks the gap and the loss is logged
//! at most once a minute.

mod files;

use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime};

use crate::engine::{Action, Input, Time};
use crate::manifest::Manifest;
use crate::sim::replay::format::Start;
use files::Files;

/// How much is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Files kept at most, the run's first included (at least 2).
    pub files: u32,
    /// Size at which a file is full and the next one starts.
    pub file_bytes: u64,
}

impl Limits {
    /// 16 MiB: 4 files of 4 MiB.
    pub const DEFAULT: Limits = Limits {
        files: 4,
        file_bytes: 4 << 20,
    };
}

/// Inputs waiting for the writer, at most (about 2 MiB of typical inputs).
pub const QUEUE: usize = 1024;

/// How often the writer syncs what it wrote.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// How often a loss is logged, at most.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// One input on its way to the writer.
pub(crate) struct Item {
    n: u64,
    t: Time,
    input: Input,
    actions: Vec<Action>,
}

/// Counts losses and says when to log them: at the first, then at most once a minute.
#[derive(Default)]
struct Throttle {
    logged_at: Option<Instant>,
    unlogged: u64,
}

impl Throttle {
    /// Counts one loss; the losses to log now, if it is time.
    fn lost(&mut self) -> Option<u64> {
        self.unlogged += 1;
        if self.logged_at.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            return None;
        }
        self.logged_at = Some(Instant::now());
        Some(std::mem::take(&mut self.unlogged))
    }
}

/// The loop's end of the recorder.
pub struct Recorder {
    tx: Option<SyncSender<Item>>,
    /// The number of the next input.
    next: u64,
    throttle: Throttle,
    /// Says when the writer has finished.
    done: Option<Receiver<()>>,
}

impl Recorder {
    /// Records the run of the engine started as `Engine::new(now, node, manifest, key_ids,
    /// generation)` into `state_dir/recorder`. If that cannot be, says why and records nothing:
    /// the agent runs on.
    pub fn spawn(
        state_dir: &Path,
        now: Time,
        node: &str,
        manifest: &Manifest,
        key_ids: &[u8],
        generation: u64,
    ) -> Recorder {
        let dir = state_dir.join("recorder");
        let started = Start::new(now, node, manifest.clone(), key_ids.to_vec(), generation)
            .map_err(std::io::Error::other)
            .and_then(|start| Files::new(&dir, start, Limits::DEFAULT))
            .and_then(|files| Recorder::with_writer(files, QUEUE));
        started.unwrap_or_else(|e| {
            tracing::warn!(dir = %dir.display(), error = %e, "flight recorder off: this node's decisions are not recorded");
            Recorder::off()
        })
    }

    /// A recorder that records nothing.
    pub fn off() -> Recorder {
        Recorder::new(None, None)
    }

    fn new(tx: Option<SyncSender<Item>>, done: Option<Receiver<()>>) -> Recorder {
        Recorder {
            tx,
            next: 0,
            throttle: Throttle::default(),
            done,
        }
    }

    fn with_writer(files: Files, capacity: usize) -> std::io::Result<Recorder> {
        let (tx, rx) = mpsc::sync_channel(capacity);
        let (done_tx, done) = mpsc::channel();
        std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || {
                write_all(&rx, files);
                let _ = done_tx.send(());
            })?;
        Ok(Recorder::new(Some(tx), Some(done)))
    }

    /// Records that the engine handled `input` at `t` and returned `actions`. Never waits.
    pub fn record(&mut self, t: Time, input: Input, actions: &[Action]) {
        let n = self.next;
        self.next += 1;
        let Some(tx) = &self.tx else {
            return;
        };
        let item = Item {
            n,
            t,
            input,
            actions: actions.to_vec(),
        };
        match tx.try_send(item) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                if let Some(lost) = self.throttle.lost() {
                    tracing::warn!(
                        lost,
                        "flight recorder behind: inputs not recorded (the recording marks the gap)"
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::warn!(
                    "flight recorder stopped: this node's decisions are no longer recorded"
                );
                self.tx = None;
            }
        }
    }
}

impl Drop for Recorder {
    /// Lets the writer write what is queued, for a bounded time (the agent is exiting).
    fn drop(&mut self) {
        self.tx = None;
        if let Some(done) = self.done.take() {
            let _ = done.recv_timeout(Duration::from_secs(2));
        }
    }
}

/// The writer thread: writes every item it gets, syncs once a second, until the loop's end
/// is dropped.
fn write_all(rx: &Receiver<Item>, mut files: Files) {
    let mut throttle = Throttle::default();
    let mut synced = Instant::now();
    loop {
        match rx.recv_timeout(SYNC_EVERY) {
            Ok(item) => {
                if let Err(e) = files.write(&item, wall_ms())
                    && let Some(lost) = throttle.lost()
                {
                    tracing::warn!(lost, error = %e, "flight recorder cannot write: inputs not recorded (the recording marks the gap)");
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if synced.elapsed() >= SYNC_EVERY {
            synced = Instant::now();
            let _ = files.sync();
        }
    }
    let _ = files.sync();
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
