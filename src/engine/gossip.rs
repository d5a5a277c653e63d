//! What this node tells its peers: the datagram it sends (its view of the cluster, what it
//! runs, claims and acknowledges), when each left, and the announcements of held VIPs.

use super::membership::{Peer, PeerState};
use super::runner;
use super::{Action, Engine, Kind, Time};
use crate::protocol::wire::{self, Datagram};

impl Engine {
    /// The datagram this node sends now.
    pub(super) fn datagram(&mut self, kind: Kind) -> Datagram {
        // 2^32 datagrams per run (497 days at the shortest interval); past that the sequence
        // stays put and peers take its datagrams for copies: the node looks dead, it is never
        // taken for another run.
        self.seq = self.seq.saturating_add(1);
        let mut groups: Vec<(String, wire::GroupState)> = self
            .runners
            .iter()
            .filter_map(|(n, r)| r.advertised().map(|s| (n.clone(), self.leaving_as(n, s))))
            .collect();
        groups.extend(
            self.claims
                .keys()
                .map(|g| (g.clone(), wire::GroupState::Claiming)),
        );
        groups.extend(
            self.retiring
                .iter()
                .filter_map(|(n, (_, r))| r.advertised().map(|s| (n.clone(), s))),
        );
        // Expired failure marks are pruned before every send.
        // A tracked interface without carrier makes this node ineligible as a failure does.
        let lost = self.carrier_lost().into_iter().map(|(g, _)| g);
        for g in self.failed_until.keys().cloned().chain(lost) {
            if !groups.iter().any(|(n, _)| *n == g) {
                groups.push((g, wire::GroupState::Failed));
            }
        }
        Datagram {
            kind,
            cluster: self.m.cluster.clone(),
            sender: self.me.clone(),
            generation: self.generation,
            seq: self.seq,
            connectivity: self.connectivity,
            standby: self.intents.standby(&self.me),
            quorate: self.quorate,
            // Every peer this node counts alive (heard within dead_after), with the newest
            // datagram heard from it: an acknowledgement to that peer, and to the others word
            // that it lives. That word lasts as long as a direct observation would, so a peer
            // alive only by hearsay cannot be taken for dead before it has stopped (`quorum.rs`).
            seen: self
                .members
                .peers()
                .iter()
                // After a pause, peers heard before it stay listed until heard again: what
                // they said then was heard, and dropping them would look, to them, like this
                // node no longer hearing them.
                .filter(|(_, p)| p.state.alive() || p.state == PeerState::Unknown)
                .filter_map(|(n, p)| p.view.as_ref().map(|v| (n.clone(), v.seq)))
                .collect(),
            groups,
            intents: self.intents.all(self.version()),
            digest: self.digest,
            versions: wire::SPOKEN,
            keys: self.key_ids.clone(),
            // Only while a live peer's manifest differs: two pages more at 256 groups.
            group_digests: if self.version() >= 4 && self.drifting() {
                self.group_digests
                    .iter()
                    .map(|(g, d)| (g.clone(), *d))
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    /// What a group's state says while this agent stops in maintenance: one it leaves running
    /// is blocked, as after a failed stop, so no peer starts it once maintenance ends, until
    /// this node is back, fenced, or unblocked by an operator (its agent is down: nothing
    /// would stop its copy).
    fn leaving_as(&self, group: &str, s: wire::GroupState) -> wire::GroupState {
        let running = matches!(s, wire::GroupState::Running | wire::GroupState::Starting);
        if self.shutting_down && running && self.maintained(group) {
            wire::GroupState::Blocked
        } else {
            s
        }
    }

    /// The format to send in: the newest every live peer accepts (peers never heard from are
    /// assumed to take the newest: an older one answers in its own, and this node follows).
    pub(super) fn version(&self) -> u8 {
        let accepted = self
            .members
            .peers()
            .values()
            .filter(|p| p.state.alive())
            .filter_map(|p| p.view.as_ref())
            .fold(wire::SPOKEN, |all, v| all & v.versions);
        (2..=wire::VERSION)
            .rev()
            .find(|v| accepted & (1 << v) != 0)
            .unwrap_or(2)
    }

    /// The key to sign with: the first of the ring (where `keygen --rotate` puts the new one)
    /// that every live peer says it accepts, so nodes switch to a new key only once all of
    /// them have loaded it; the ring's first key while no peer has said anything.
    fn signing_key(&self) -> u8 {
        let accepted_by_all = |id: u8| {
            self.members
                .peers()
                .values()
                .filter(|p| p.state.alive())
                .filter_map(|p| p.view.as_ref())
                .all(|v| v.keys.contains(&id))
        };
        self.key_ids
            .iter()
            .copied()
            .find(|id| accepted_by_all(*id))
            .or_else(|| self.key_ids.first().copied())
            .unwrap_or(0)
    }

    pub(super) fn send(&mut self, now: Time, kind: Kind, out: &mut Vec<Action>) {
        let datagram = self.datagram(kind);
        let (key, version) = (self.signing_key(), self.version());
        // What this run holds, for a restart to compare with what it finds (`adopt.rs`).
        let holding = self
            .runners
            .iter()
            .filter(|(_, r)| r.phase == runner::Phase::Running)
            .map(|(n, _)| n.clone())
            .collect();
        let stands_ms = self.quorum_stands(now).map(|d| d.as_millis() as u64);
        let maintenance = self.intents.maintenance_intents();
        out.push(Action::Checkpoint {
            holding,
            stands_ms,
            maintenance,
        });
        // What is known of the peers' runs, when it changed, at most once a second.
        let runs = self.members.runs();
        if runs != self.saved_runs && now >= self.save_runs_at {
            self.save_runs_at = now.plus(std::time::Duration::from_secs(1));
            self.saved_runs.clone_from(&runs);
            out.push(Action::SavePeers(runs));
        }
        // Remember when each datagram left, to know how fresh a peer's acknowledgement is.
        if self.sent_at.len() == 256 {
            self.sent_at.pop_front();
        }
        self.sent_at.push_back((self.seq, now));
        for link in &self.m.heartbeat.links {
            out.push(Action::Send {
                link: link.name.clone(),
                datagram: datagram.clone(),
                key,
                version,
            });
        }
    }

    /// When the newest datagram `p` acknowledges receiving from this node was sent, if known
    /// (only datagrams of this run: earlier runs numbered theirs below `generation << 32`).
    pub(super) fn acked_at(&self, p: &Peer) -> Option<Time> {
        p.acked
    }

    /// When the datagram of this run that `d` acknowledges was sent, if it acknowledges one
    /// (the send times of the latest 256 are kept; an older one counts as not acknowledged).
    pub(super) fn ack_time(&self, d: &Datagram) -> Option<Time> {
        let (_, seq) = d.seen.iter().find(|(n, _)| *n == self.me)?;
        // Sent in order: sorted by sequence number.
        let i = self.sent_at.binary_search_by_key(seq, |(s, _)| *s).ok()?;
        Some(self.sent_at[i].1)
    }

    /// Works out, for `peer`'s datagram just taken in, when the datagram of ours that it
    /// acknowledges left (it never changes afterwards).
    pub(super) fn note_ack(&mut self, peer: &str) {
        let at = self
            .members
            .peers()
            .get(peer)
            .and_then(|p| p.view.as_ref())
            .and_then(|v| self.ack_time(v));
        self.members.set_acked(peer, at);
    }

    pub(super) fn announce_all(&self, out: &mut Vec<Action>) {
        for (name, r) in &self.runners {
            let Some(g) = self.m.groups.get(name) else {
                continue;
            };
            for (i, res) in g.resources.iter().enumerate() {
                if let (runner::Res::Up, crate::manifest::model::ResourceKind::Vip(vip)) =
                    (r.res[i], &res.kind)
                {
                    out.push(Action::Announce {
                        res: super::ResourceRef::new(name, i),
                        vip: vip.clone(),
                    });
                }
            }
        }
    }
}
