//! Small files the agent rewrites often (its checkpoint, what it knows of its peers' runs):
//! written whole, through a temporary file renamed over the old one, by a task of their own that
//! takes the latest value only. A slow or failing disk delays them, never the loop; a failure is
//! logged once until writing works again.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use tokio::sync::watch;

/// A file written in the background, latest value only.
pub struct LatestFile {
    latest: watch::Sender<Option<Vec<u8>>>,
}

impl LatestFile {
    /// Starts the writer of `path` (`what` names it in the journal). Must run inside a tokio
    /// runtime.
    pub fn start(path: PathBuf, what: &'static str) -> LatestFile {
        let (latest, mut rx) = watch::channel(None::<Vec<u8>>);
        tokio::spawn(async move {
            let mut failed = false;
            while rx.changed().await.is_ok() {
                let Some(bytes) = rx.borrow_and_update().clone() else {
                    continue;
                };
                let path = path.clone();
                let written = tokio::task::spawn_blocking(move || replace(&path, &bytes)).await;
                match written {
                    Ok(Err(e)) if !failed => {
                        tracing::warn!(file = what, error = %e, "cannot write a state file");
                        failed = true;
                    }
                    Ok(Ok(())) => failed = false,
                    _ => {}
                }
            }
        });
        LatestFile { latest }
    }

    /// Writes `bytes` as the file's new content, soon.
    pub fn save(&self, bytes: Vec<u8>) {
        let _ = self.latest.send_replace(Some(bytes));
    }
}

/// Replaces `path`'s content with `bytes` at once (a reader sees the old or the new file).
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}
