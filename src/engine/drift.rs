//! Drift: manifests that differ between nodes (Heartbeat's `haresources` "MUST BE IDENTICAL";
//! Pacemaker replicates its CIB instead). Every datagram carries the digest of its sender's
//! manifest; while a live peer's differs, datagrams (format 4) also carry a digest of each
//! group's definition, so each node knows which groups differ on which peer. The journal
//! names a peer when its manifest starts or stops differing, status shows it, and a group is
//! not moved onto a node whose definition of it differs from this node's (`election.rs`): a
//! half-rolled-out change does not hop between definitions.
//!
//! A digest of 0 (format 2, the previous release's, says none) is not judged: such a peer is
//! unknown, not different, so a cluster in the middle of a rolling upgrade names nobody. A
//! peer that sends no group digests (format 3) is named when its manifest digest differs but
//! is judged on no group: the digest is taken over the validated model, which another release
//! may shape differently from the same YAML.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, Engine, EventKind};
use crate::manifest::Manifest;
use crate::manifest::model::Group;

/// A group's definition's digest: the first four bytes of the SHA-256 of its JSON form.
pub fn group_digest(g: &Group) -> u32 {
    use sha2::Digest as _;
    let json = serde_json::to_vec(g).unwrap_or_default();
    let sum = sha2::Sha256::digest(&json);
    u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]])
}

/// Every group's digest.
pub fn group_digests(m: &Manifest) -> BTreeMap<String, u32> {
    m.groups
        .iter()
        .map(|(n, g)| (n.clone(), group_digest(g)))
        .collect()
}

impl Engine {
    /// Whether `peer`'s manifest differs from this node's, by its last datagram (a digest of 0
    /// says nothing: not different).
    pub fn manifest_differs(&self, peer: &str) -> bool {
        self.digest_of(peer)
            .is_some_and(|d| d != 0 && d != self.digest)
    }

    /// The manifest digest of `peer`'s last datagram, if heard.
    fn digest_of(&self, peer: &str) -> Option<u64> {
        let p = self.members.peers().get(peer)?;
        p.view.as_ref().map(|v| v.digest)
    }

    /// The groups `peer` defines otherwise than this node (none judged while it sends no
    /// group digests); a group it lacks counts as different.
    pub fn differing_groups(&self, peer: &str) -> BTreeSet<String> {
        let Some(v) = self.members.peers().get(peer).and_then(|p| p.view.as_ref()) else {
            return BTreeSet::new();
        };
        if !self.manifest_differs(peer) || v.group_digests.is_empty() {
            return BTreeSet::new();
        }
        self.group_digests
            .iter()
            .filter(|(g, d)| !v.group_digests.iter().any(|(n, x)| n == *g && x == *d))
            .map(|(g, _)| g.clone())
            .collect()
    }

    /// Whether this node's datagrams should carry group digests: a live peer's manifest
    /// differs.
    pub(super) fn drifting(&self) -> bool {
        self.members
            .peers()
            .iter()
            .any(|(n, p)| p.state.alive() && self.manifest_differs(n))
    }

    /// Logs each peer whose manifest starts or stops differing from this node's.
    pub(super) fn note_drift(&mut self, out: &mut Vec<Action>) {
        let now: BTreeMap<String, BTreeSet<String>> = self
            .members
            .peers()
            .keys()
            .filter(|n| self.manifest_differs(n))
            .map(|n| (n.clone(), self.differing_groups(n)))
            .collect();
        if now == self.drifted {
            return;
        }
        for (peer, groups) in &now {
            if self.drifted.get(peer) == Some(groups) {
                continue;
            }
            let which = if groups.is_empty() {
                "no group judged yet".to_owned()
            } else {
                let names: Vec<&String> = groups.iter().collect();
                format!(
                    "groups defined otherwise: {}; they do not move onto {peer}",
                    crate::text::quoted_list(&names)
                )
            };
            let reason = format!("the manifest on {peer} differs from this node's ({which})");
            out.push(self.event_about(EventKind::Operator, peer, reason));
        }
        for peer in self.drifted.keys().filter(|p| !now.contains_key(*p)) {
            let reason = if self.digest_of(peer) == Some(0) {
                format!(
                    "the manifest on {peer} can no longer be compared: its datagrams carry no digest now (format 2: a node of the cluster speaks nothing newer)"
                )
            } else {
                format!("the manifest on {peer} is the same as this node's again")
            };
            out.push(self.event_about(EventKind::Operator, peer, reason));
        }
        self.drifted = now;
    }

    fn event_about(&self, kind: EventKind, node: &str, reason: String) -> Action {
        Action::Log(super::Event {
            kind,
            node: Some(node.to_owned()),
            group: None,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Input, Probe, Time};
    use crate::protocol::wire::{Datagram, Kind, SPOKEN};

    fn two(failback: bool) -> Manifest {
        let text = format!(
            "cluster: c\nnodes:\n  alpha: {{ address: 10.0.0.1 }}\n  beta: {{ address: 10.0.0.2 }}\n\
             heartbeat: {{ interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }}\n\
             auth: {{ key_file: /k }}\nquorum: {{ two_node: {{ tie_breaker: ping }} }}\n\
             connectivity: {{ ping: [10.0.0.254] }}\ngroups:\n  web:\n    nodes: [alpha, beta]\n\
             \x20   failback: {failback}\n    resources:\n      - unit: app.service\n"
        );
        let r = crate::manifest::parse(&text);
        r.manifest.unwrap_or_else(|| panic!("{:?}", r.problems))
    }

    fn from_beta(seq: u64, digest: u64, groups: Vec<(String, u32)>) -> Input {
        let mut d = Datagram::bare(Kind::Heartbeat, "c", "beta", 1, (1 << 32) + seq);
        d.digest = digest;
        d.versions = SPOKEN;
        d.group_digests = groups;
        Input::Heard {
            link: "link0".into(),
            datagram: d,
        }
    }

    fn logs(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Log(e) => Some(e.reason.clone()),
                _ => None,
            })
            .collect()
    }

    // Input: beta's heartbeats carry another manifest digest, first without group digests
    // (an older release), then with a different digest for `web`, then alpha's own digest.
    // Output: beta is named at once (journal and status), judged on no group until it sends
    // group digests, then not eligible for `web`; alpha's datagrams carry group digests while
    // beta differs; the same digest again is logged too.
    #[test]
    fn a_peer_with_another_manifest_is_named_and_gets_no_group_it_defines_otherwise() {
        let (mine, theirs) = (two(false), two(true));
        let mut e = Engine::new(Time(0), "alpha", mine.clone(), vec![1], 1);
        e.handle(Time(0), Input::Probed(Probe::default()));
        let other = crate::engine::digest(&theirs);
        let out = e.handle(Time(10), from_beta(1, other, vec![]));
        let said = logs(&out);
        assert!(
            said.iter()
                .any(|l| l.contains("the manifest on beta differs")
                    && l.contains("no group judged yet")),
            "{said:?}"
        );
        assert!(e.manifest_differs("beta") && e.differing_groups("beta").is_empty());
        let web = ("web".to_owned(), group_digest(&theirs.groups["web"]));
        let out = e.handle(Time(20), from_beta(2, other, vec![web]));
        assert!(
            logs(&out).iter().any(|l| l.contains("`web`")),
            "{:?}",
            logs(&out)
        );
        let snap = e.snapshot(Time(20));
        assert!(snap.nodes["beta"].manifest_differs);
        assert_eq!(snap.nodes["beta"].differing_groups, ["web"]);
        assert_eq!(
            snap.groups["web"]
                .ineligible
                .get("beta")
                .map(String::as_str),
            Some("its manifest defines the group otherwise than this node's")
        );
        let (d, version) = sent(&mut e, Time(200));
        assert_eq!(version, 4);
        assert_eq!(d.group_digests.len(), 1);
        let same = crate::engine::digest(&mine);
        let out = e.handle(Time(210), from_beta(3, same, vec![]));
        assert!(
            logs(&out)
                .iter()
                .any(|l| l.contains("the same as this node's again"))
        );
        assert!(!e.snapshot(Time(210)).nodes["beta"].manifest_differs);
    }

    /// The heartbeat `e` sends at `now`, with its format.
    fn sent(e: &mut Engine, now: Time) -> (Datagram, u8) {
        e.handle(now, Input::Tick)
            .into_iter()
            .find_map(|a| match a {
                Action::Send {
                    datagram, version, ..
                } => Some((datagram, version)),
                _ => None,
            })
            .expect("a heartbeat")
    }

    fn from_0_1_0(seq: u64) -> Input {
        let mut d = Datagram::bare(Kind::Heartbeat, "c", "beta", 1, (1 << 32) + seq);
        d.digest = 0;
        d.versions = 1 << 2;
        Input::Heard {
            link: "link0".into(),
            datagram: d,
        }
    }

    // Input: beta speaks format 2 only (0.1.0: no manifest digest, no group digests); later
    // beta, which had differed, is heard in format 2 again. Output: beta is not named, alpha
    // sends in format 2 without group digests and beta may run `web`; the second time, the
    // journal says beta can no longer be compared, not that it is the same again.
    #[test]
    fn a_peer_that_sends_no_digest_is_unknown_not_different() {
        let mine = two(false);
        let mut e = Engine::new(Time(0), "alpha", mine, vec![1], 1);
        e.handle(Time(0), Input::Probed(Probe::default()));
        let out = e.handle(Time(10), from_0_1_0(1));
        assert!(
            logs(&out).iter().all(|l| !l.contains("manifest")),
            "{:?}",
            logs(&out)
        );
        let snap = e.snapshot(Time(10));
        assert!(!snap.nodes["beta"].manifest_differs);
        assert!(snap.nodes["beta"].differing_groups.is_empty());
        assert_eq!(snap.groups["web"].ineligible.get("beta"), None);
        let (d, version) = sent(&mut e, Time(200));
        assert_eq!(version, 2);
        assert!(d.group_digests.is_empty());
        let other = crate::engine::digest(&two(true));
        e.handle(Time(210), from_beta(2, other, vec![]));
        assert!(e.manifest_differs("beta"));
        let said = logs(&e.handle(Time(220), from_0_1_0(3)));
        assert!(
            said.iter().any(|l| l.contains("can no longer be compared")),
            "{said:?}"
        );
        assert!(
            said.iter().all(|l| !l.contains("same as this node's")),
            "{said:?}"
        );
        assert!(!e.snapshot(Time(220)).nodes["beta"].manifest_differs);
    }
}
