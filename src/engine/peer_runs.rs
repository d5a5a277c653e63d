//! What this node keeps of its peers' runs across its own restarts: saved with the checkpoint
//! of peers and restored at start (`runs.rs` says which run of a peer counts).

use super::membership::Membership;
use super::runs::{RETIRED, Runs};

impl Membership {
    /// The runs of every peer, to save.
    pub fn runs(&self) -> Vec<(String, Runs)> {
        self.peers()
            .iter()
            .map(|(n, p)| (n.clone(), p.runs.clone()))
            .collect()
    }

    /// Restores what an earlier run of this node saved of its peers' runs.
    pub fn restore(&mut self, saved: &[(String, Runs)]) {
        for (name, runs) in saved {
            if let Some(p) = self.peer_mut(name) {
                // The file may say more than this run would keep (edited, or corrupt): the
                // newest runs are kept, as `take` keeps them.
                let from = runs.retired.len().saturating_sub(RETIRED);
                p.runs = Runs {
                    current: runs.current,
                    retired: runs.retired[from..].to_vec(),
                    proven: false,
                };
            }
        }
    }

    /// Whether `name`'s followed run has shown it is live now.
    pub fn proven(&self, name: &str) -> bool {
        self.peers().get(name).is_some_and(|p| p.runs.proven)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Found by the fuzz target `engine`: a saved file listing more runs than are kept made the
    // peer's memory of runs as long as the file.
    #[test]
    fn a_restore_keeps_at_most_the_newest_retired_runs() {
        let mut m = Membership::new(crate::engine::Time(0), ["b".to_owned()]);
        let saved = Runs {
            current: Some((30, 1)),
            retired: (1..=20).collect(),
            proven: true,
        };
        m.restore(&[("b".into(), saved)]);
        let runs = &m.peers()["b"].runs;
        assert_eq!(runs.retired, (13..=20).collect::<Vec<u64>>());
        assert_eq!(runs.current, Some((30, 1)));
        assert!(!runs.proven);
    }
}
