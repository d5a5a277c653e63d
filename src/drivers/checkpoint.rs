//! The agent's checkpoint: what it runs, with the boot-clock time, rewritten with every
//! heartbeat it sends into its runtime directory (`/run/haagent`, kept across restarts of the
//! agent, gone at reboot). A restarted agent reads it to tell a quick restart (adopt what it
//! left running) from a long absence (stop it: peers may run it now), and whether it was in
//! maintenance (one line `!` and an intent in JSON each, which no group name can start with, so
//! a previous release reads them as groups it does not know). Writing happens off the
//! loop, latest value only: a slow disk delays the checkpoint, never the loop.

use std::fs;
use std::path::Path;
#[cfg(test)]
use std::time::Duration;

use super::clock;
use super::files::LatestFile;
use crate::engine::Previous;
use crate::engine::runs::Runs;
use crate::protocol::wire::Intent;

const FILE: &str = "checkpoint";
const PEERS: &str = "peers.json";
/// The most either file is read of: what this agent writes stays far below (256 groups, 32
/// peers of 8 runs); a longer file is not its own and is ignored.
const CAP: u64 = 256 << 10;

/// Reads at most [`CAP`] bytes of `path`; a longer file is an error.
fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    fs::File::open(path)?
        .take(CAP + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > CAP {
        return Err(std::io::Error::other(format!("longer than {CAP} bytes")));
    }
    Ok(bytes)
}

/// Writes checkpoints in the background.
pub struct Checkpoints {
    file: LatestFile,
}

impl Checkpoints {
    /// Starts the writer for `dir`. Must run inside a tokio runtime.
    pub fn start(dir: &Path) -> Checkpoints {
        Checkpoints {
            file: LatestFile::start(dir.join(FILE), "checkpoint"),
        }
    }

    /// Records that this run now holds `holding`, its quorum standing `stands_ms` more, with
    /// the maintenance intents it knows.
    pub fn save(&self, holding: Vec<String>, stands_ms: Option<u64>, maintenance: &[Intent]) {
        let at = clock::boottime().as_millis();
        let mut body = text(at, &holding, stands_ms);
        for i in maintenance {
            if let Ok(json) = serde_json::to_string(i) {
                body.push('!');
                body.push_str(&json);
                body.push('\n');
            }
        }
        self.file.save(body.into_bytes());
    }
}

/// The first line: the boot-clock time and, if bounded, how long quorum stood then.
fn text(at: u128, holding: &[String], stands_ms: Option<u64>) -> String {
    let mut text = match stands_ms {
        Some(s) => format!("{at} {s}\n"),
        None => format!("{at}\n"),
    };
    for g in holding {
        text.push_str(g);
        text.push('\n');
    }
    text
}

/// Writes what this node knows of its peers' runs, in the state directory.
pub struct PeerRuns {
    file: LatestFile,
}

impl PeerRuns {
    /// Starts the writer for `state_dir`. Must run inside a tokio runtime.
    pub fn start(state_dir: &Path) -> PeerRuns {
        PeerRuns {
            file: LatestFile::start(state_dir.join(PEERS), "peers"),
        }
    }

    /// Saves `runs`.
    pub fn save(&self, runs: &[(String, Runs)]) {
        if let Ok(json) = serde_json::to_vec(runs) {
            self.file.save(json);
        }
    }
}

/// What an earlier run saved of its peers' runs in `state_dir`; nothing when there is no such
/// file, or it cannot be read (said in the journal: recordings of peers are then taken for what
/// a restarted node would take them for, until each peer's run shows it is live).
pub fn peer_runs(state_dir: &Path) -> Vec<(String, Runs)> {
    let path = state_dir.join(PEERS);
    let unreadable = |e: &dyn std::fmt::Display| {
        tracing::warn!(file = %path.display(), error = %e, "what was saved of the peers' runs is unreadable: ignored");
        Vec::new()
    };
    match read_capped(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| unreadable(&e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => unreadable(&e),
    }
}

/// The earlier run's checkpoint in `dir`, if there is a readable one.
pub fn read(dir: &Path) -> Option<Previous> {
    let text = String::from_utf8(read_capped(&dir.join(FILE)).ok()?).ok()?;
    let mut lines = text.lines();
    let mut first = lines.next()?.split_whitespace();
    let at: u128 = first.next()?.parse().ok()?;
    let stands_ms = match first.next() {
        Some(s) => Some(s.parse().ok()?),
        None => None,
    };
    let now = clock::boottime().as_millis();
    let (mut holding, mut maintenance) = (Vec::new(), Vec::new());
    for l in lines.filter(|l| !l.is_empty()) {
        match l.strip_prefix('!') {
            // An intent that does not parse is dropped: peers gossip the current ones.
            Some(json) => maintenance.extend(serde_json::from_str::<Intent>(json).ok()),
            None => holding.push(l.to_owned()),
        }
    }
    Some(Previous {
        ago_ms: u64::try_from(now.checked_sub(at)?).unwrap_or(u64::MAX),
        holding,
        stands_ms,
        maintenance,
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
        let mut body = text(
            clock::boottime().as_millis(),
            &["web".into(), "db".into()],
            Some(400),
        );
        body.push_str("!{\"stamp\":{\"clock\":3,\"origin\":\"a\"},\"what\":{\"maintenance\":{\"group\":null,\"on\":true}}}\n!garbage\n");
        super::super::files::replace(&dir.join(FILE), body.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let p = read(&dir).unwrap();
        assert_eq!(p.holding, ["web", "db"]);
        assert_eq!(p.stands_ms, Some(400));
        assert_eq!(
            p.maintenance.len(),
            1,
            "the intent read back, the garbage dropped"
        );
        assert!((20..5000).contains(&p.ago_ms), "{}", p.ago_ms);
        fs::write(dir.join(FILE), "garbage").unwrap();
        assert_eq!(read(&dir), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    // Input: a peers file of valid JSON but longer than any this agent writes. Output: it is
    // ignored, not read whole (the engine would have kept all of it).
    #[test]
    fn an_overlong_peers_file_is_ignored() {
        let dir = std::env::temp_dir().join(format!("haagent-peers-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let runs = Runs {
            current: Some((7, 9)),
            retired: (0..100).collect(),
            proven: false,
        };
        let short = vec![("b".to_owned(), runs.clone())];
        fs::write(dir.join(PEERS), serde_json::to_vec(&short).unwrap()).unwrap();
        assert_eq!(peer_runs(&dir), short);
        let long: Vec<(String, Runs)> =
            (0..1000).map(|i| (format!("n{i}"), runs.clone())).collect();
        fs::write(dir.join(PEERS), serde_json::to_vec(&long).unwrap()).unwrap();
        assert!(fs::metadata(dir.join(PEERS)).unwrap().len() > CAP);
        assert_eq!(peer_runs(&dir), []);
        fs::remove_dir_all(&dir).unwrap();
    }
}
