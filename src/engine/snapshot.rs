//! A read-only picture of the engine's view, for everything that reports on it (`haagentctl
//! status`, the D-Bus properties, the choice of a planned move's target): the ownership and
//! eligibility rules exist once, in the engine, and this is how the rest of the agent reads them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::election::{self, ClusterView};
use super::runner::{Phase, Res};
use super::{Engine, ResourceRef, Time};
use crate::protocol::wire::GroupState;

/// The engine's view at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// This node.
    pub me: String,
    /// The cluster's name.
    pub cluster: String,
    /// Whether this node has quorum.
    pub quorate: bool,
    /// Every node of the manifest, this one included.
    pub nodes: BTreeMap<String, NodeSnapshot>,
    /// Every group of the manifest.
    pub groups: BTreeMap<String, GroupSnapshot>,
    /// Datagrams the engine dropped (replays), by reason.
    pub dropped: BTreeMap<String, u64>,
    /// The status line sent to systemd.
    pub summary: String,
    /// The whole cluster is in maintenance.
    #[serde(default)]
    pub maintenance: bool,
    /// The wire format this node sends in: the newest every live peer accepts (below the
    /// newest spoken while a rolling upgrade is under way).
    #[serde(default)]
    pub format: u8,
}

/// One node as this node sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeSnapshot {
    /// `up`, `late`, `dead`, `left` or `unknown` (this node: `up`).
    pub state: String,
    /// Per link: name, whether it carries heartbeats, time since the last one.
    pub links: Vec<(String, bool, u64)>,
    /// Time since the last heartbeat on any link (none for this node).
    pub last_heard_ms: Option<u64>,
    /// In standby (its own word or an operator's intent).
    pub standby: bool,
    /// Ping targets it reaches.
    pub connectivity: u16,
    /// Votes but holds no groups.
    pub witness: bool,
    /// Has quorum, as it says (this node: its own).
    pub quorate: bool,
    /// Stray copies of the cluster's resources seen on this node in the last hour, newest
    /// first (kept by each node for itself: empty for peers).
    #[serde(default)]
    pub strays: Vec<super::strays::StraySeen>,
    /// Its manifest differs from this node's (`drift.rs`).
    #[serde(default)]
    pub manifest_differs: bool,
    /// The groups it defines otherwise than this node (they do not move onto it).
    #[serde(default)]
    pub differing_groups: Vec<String>,
    /// The wire formats it accepts, oldest first, as its last datagram says (this node: those
    /// it speaks; empty for a peer never heard).
    #[serde(default)]
    pub formats: Vec<u8>,
}

/// One group as this node sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    /// The node running, starting or stopping it, if any.
    pub owner: Option<String>,
    /// `running`, `starting`, `stopping`, `failed` or `stopped`.
    pub state: String,
    /// What this node does with it: `idle`, `starting`, `running` or `stopping`.
    pub here: String,
    /// Each resource here: its name and `down`, `starting`, `up` or `stopping`.
    pub resources: Vec<(String, String)>,
    /// The group's nodes in preference order.
    pub preference: Vec<String>,
    /// For each of its nodes, why it may not run the group now (absent: it may).
    pub ineligible: BTreeMap<String, String>,
    /// Where a planned move without a named target goes.
    pub next: Option<String>,
    /// The node an operator moved it to, until cleared.
    pub moved_to: Option<String>,
    /// How long this node stays ineligible after a failure here (ms).
    pub failed_here_for_ms: Option<u64>,
    /// The starts of its resources, measured here (ms, the longest of each, summed).
    pub starts_ms: u64,
    /// In maintenance (on its own or with the whole cluster).
    #[serde(default)]
    pub maintenance: bool,
    /// The health checks of its resources, as run on this node.
    #[serde(default)]
    pub checks: Vec<CheckSnapshot>,
}

/// A resource's health check as run on this node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSnapshot {
    /// The resource checked.
    pub resource: String,
    /// What is run, e.g. `http http://127.0.0.1/ (expects 200)`.
    pub probe: String,
    /// `passing`, `failing`, `unknown` (fewer than `rise` or `fall` runs in a row yet) or
    /// `idle` (it never ran here since this agent started).
    pub state: String,
    /// Whether it runs here now (only where the group runs whole).
    pub running: bool,
    /// Runs in a row with the last run's result.
    pub consecutive: u32,
    /// The last run's result, if any ran.
    pub last_ok: Option<bool>,
    /// Why the last failed run failed.
    pub last_error: Option<String>,
}

impl Engine {
    /// The engine's view now.
    pub fn snapshot(&self, now: Time) -> Snapshot {
        let view = self.view();
        let nodes = self
            .m
            .nodes
            .iter()
            .map(|(name, n)| {
                (
                    name.clone(),
                    self.node_snapshot(now, name, n.witness, &view),
                )
            })
            .collect();
        let groups = self
            .m
            .groups
            .keys()
            .map(|name| (name.clone(), self.group_snapshot(now, name, &view)))
            .collect();
        Snapshot {
            me: self.me.clone(),
            cluster: self.m.cluster.clone(),
            quorate: self.quorate,
            nodes,
            groups,
            dropped: self
                .drops
                .0
                .iter()
                .map(|(k, v)| (k.name().to_owned(), *v))
                .collect(),
            summary: self.status.clone(),
            maintenance: self.intents.maintenance_of(None),
            format: self.version(),
        }
    }

    /// Who runs each group, and in what state (`running`, `starting`, ...), in this node's view.
    pub fn owners(&self) -> BTreeMap<String, (Option<String>, &'static str)> {
        let view = self.view();
        self.m
            .groups
            .keys()
            .map(|name| {
                let phase = self.runners.get(name).map_or(Phase::Idle, |r| r.phase);
                (name.clone(), self.owner_of(name, phase, &view))
            })
            .collect()
    }

    fn node_snapshot(
        &self,
        now: Time,
        name: &str,
        witness: bool,
        view: &ClusterView,
    ) -> NodeSnapshot {
        let seen = view.get(name).cloned().unwrap_or_default();
        let mut s = NodeSnapshot {
            state: "up".into(),
            standby: seen.standby,
            connectivity: seen.connectivity,
            witness,
            quorate: seen.quorate,
            ..NodeSnapshot::default()
        };
        if let Some(p) = self.members.peers().get(name) {
            s.manifest_differs = self.manifest_differs(name);
            s.differing_groups = self.differing_groups(name).into_iter().collect();
            s.state = word(&p.state);
            s.formats = p
                .view
                .as_ref()
                .map_or_else(Vec::new, |v| formats(v.versions));
            s.last_heard_ms = p.last.map(|l| ms(now.since(l)));
            s.links = p
                .links
                .iter()
                .map(|(l, (at, up))| (l.clone(), *up, ms(now.since(*at))))
                .collect();
        }
        if name == self.me {
            s.strays = self.strays.recent(now);
            s.formats = formats(crate::protocol::wire::SPOKEN);
        }
        s
    }

    fn group_snapshot(&self, now: Time, name: &str, view: &ClusterView) -> GroupSnapshot {
        let Some(g) = self.m.groups.get(name) else {
            return GroupSnapshot::default();
        };
        let runner = self.runners.get(name);
        let phase = runner.map_or(Phase::Idle, |r| r.phase);
        let (owner, state) = self.owner_of(name, phase, view);
        let resources = g
            .resources
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let here = runner
                    .and_then(|r| r.res.get(i))
                    .copied()
                    .unwrap_or(Res::Down);
                (r.name.clone(), word(&here))
            })
            .collect();
        let carrier = self.carrier_lost().into_iter().find(|(n, _)| n == name);
        let ineligible = g
            .nodes
            .iter()
            .filter_map(|n| {
                let why = match &carrier {
                    Some((_, interface)) if *n == self.me => {
                        format!("interface {interface} has no carrier (track_interface)")
                    }
                    _ => election::why_not(&self.m, name, g, view, n)?,
                };
                Some((n.clone(), why))
            })
            .collect();
        let starts = (0..g.resources.len())
            .filter_map(|i| self.start_took.get(&ResourceRef::new(name, i)))
            .sum::<std::time::Duration>();
        GroupSnapshot {
            owner,
            state: state.into(),
            here: word(&phase),
            resources,
            preference: g.nodes.clone(),
            ineligible,
            next: election::next_owner(&self.m, name, g, view),
            moved_to: self.intents.moved_to(name).map(str::to_owned),
            failed_here_for_ms: self.failed_until.get(name).map(|t| ms(t.since(now))),
            starts_ms: ms(starts),
            maintenance: self.maintained(name),
            checks: self.check_snapshots(name, g),
        }
    }

    fn check_snapshots(&self, name: &str, g: &crate::manifest::model::Group) -> Vec<CheckSnapshot> {
        g.resources
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let check = r.check.as_ref()?;
                let run = self.checks().get(&ResourceRef::new(name, i));
                let state = match run.map(|r| r.health.verdict) {
                    None => "idle",
                    Some(super::checks::Verdict::Unknown) => "unknown",
                    Some(super::checks::Verdict::Passing) => "passing",
                    Some(super::checks::Verdict::Failing) => "failing",
                };
                Some(CheckSnapshot {
                    resource: r.name.clone(),
                    probe: check.probe.to_string(),
                    state: state.into(),
                    running: run.is_some_and(|r| r.active),
                    consecutive: run.map_or(0, |r| r.health.streak),
                    last_ok: run.and_then(|r| r.health.last_ok),
                    last_error: run.and_then(|r| r.health.last_error.clone()),
                })
            })
            .collect()
    }

    /// Who runs `name` in this node's view, and in what state: this node's own phase first,
    /// then what live peers (heard or vouched for) advertise.
    fn owner_of(
        &self,
        name: &str,
        here: Phase,
        view: &ClusterView,
    ) -> (Option<String>, &'static str) {
        let mine = match here {
            Phase::Running => Some("running"),
            Phase::Starting => Some("starting"),
            Phase::Stopping { .. } => Some("stopping"),
            Phase::Blocked { .. } => Some("blocked"),
            Phase::Idle => None,
        };
        if let Some(w) = mine {
            return (Some(self.me.clone()), w);
        }
        let peers = || view.iter().filter(|(n, v)| **n != self.me && v.alive);
        for (want, w) in [
            (GroupState::Running, "running"),
            (GroupState::Starting, "starting"),
            (GroupState::Stopping, "stopping"),
            (GroupState::Blocked, "blocked"),
        ] {
            if let Some((node, _)) = peers().find(|(_, v)| v.groups.get(name) == Some(&want)) {
                return (Some(node.clone()), w);
            }
        }
        let failed = peers().any(|(_, v)| v.groups.get(name) == Some(&GroupState::Failed));
        (None, if failed { "failed" } else { "stopped" })
    }
}

/// A value's serde name (`snake_case`), for the words status shows.
fn word<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(o)) => o.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// The versions of a bitmask (bit `v` for version `v`), oldest first.
fn formats(mask: u8) -> Vec<u8> {
    (0..8).filter(|v| mask & (1 << v) != 0).collect()
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::super::membership::PeerState;
    use super::*;

    #[test]
    fn words_are_serde_names() {
        assert_eq!(word(&PeerState::Late), "late");
        assert_eq!(word(&Res::Stopping), "stopping");
        assert_eq!(
            word(&Phase::Stopping {
                why: super::super::runner::Why::Stray
            }),
            "stopping"
        );
    }
}
