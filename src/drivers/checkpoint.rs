//! The agent's checkpoint: what it runs, with the boot-clock time, rewritten with every
//! heartbeat it sends into its runtime directory (`/run/haagent`, kept across restarts of the
//! agent, gone at reboot). A restarted agent reads it to tell a quick restart (adopt what it
//! left running) from a long absence (stop it: peers may run it now). Writing happens off the
//! loop, latest value only: a slow disk delays the checkpoint, never the loop.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;

use super::clock;
use crate::engine::Previous;

const FILE: &str = "checkpoint";

/// Writes checkpoints in the background.
pub struct Checkpoints {
    latest: watch::Sender<Option<Vec<String>>>,
}

impl Checkpoints {
    /// Starts the writer for `dir`. Must run inside a tokio runtime.
    pub fn start(dir: PathBuf) -> Checkpoints {
        let (latest, mut rx) = watch::channel(None::<Vec<String>>);
        tokio::spawn(async move {
            let mut failed = false;
            while rx.changed().await.is_ok() {
                let Some(holding) = rx.borrow_and_update().clone() else {
                    continue;
                };
                let dir = dir.clone();
                let at = clock::boottime();
                let written = tokio::task::spawn_blocking(move || write(&dir, at, &holding)).await;
                match written {
                    Ok(Err(e)) if !failed => {
                        tracing::warn!(error = %e, "cannot write the checkpoint: a restarted agent will stop what it finds instead of adopting it");
                        failed = true;
                    }
                    Ok(Ok(())) => failed = false,
                    _ => {}
                }
            }
        });
        Checkpoints { latest }
    }

    /// Records that this run now holds `holding`.
    pub fn save(&self, holding: Vec<String>) {
        let _ = self.latest.send_replace(Some(holding));
    }
}

fn write(dir: &Path, at: Duration, holding: &[String]) -> io::Result<()> {
    let mut text = format!("{}\n", at.as_millis());
    for g in holding {
        text.push_str(g);
        text.push('\n');
    }
    let tmp = dir.join(format!("{FILE}.tmp"));
    fs::write(&tmp, text)?;
    fs::rename(&tmp, dir.join(FILE))
}

/// The earlier run's checkpoint in `dir`, if there is a readable one.
pub fn read(dir: &Path) -> Option<Previous> {
    let text = fs::read_to_string(dir.join(FILE)).ok()?;
    let mut lines = text.lines();
    let at: u128 = lines.next()?.trim().parse().ok()?;
    let now = clock::boottime().as_millis();
    Some(Previous {
        ago_ms: u64::try_from(now.checked_sub(at)?).unwrap_or(u64::MAX),
        holding: lines.filter(|l| !l.is_empty()).map(str::to_owned).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back_with_its_age() {
        let dir = std::env::temp_dir().join(format!("haagent-cp-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        assert_eq!(read(&dir), None);
        write(&dir, clock::boottime(), &["web".into(), "db".into()]).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let p = read(&dir).unwrap();
        assert_eq!(p.holding, ["web", "db"]);
        assert!((20..5000).contains(&p.ago_ms), "{}", p.ago_ms);
        fs::write(dir.join(FILE), "garbage").unwrap();
        assert_eq!(read(&dir), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
