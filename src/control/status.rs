//! The cluster at a glance, as this node sees it: the one structure behind `haagentctl status`
//! (text and `--json`) and the D-Bus `Status` method. Built by the agent after every input from
//! the engine's state and the agent's own record of each group's transitions.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::engine::membership::PeerState;
use crate::engine::runner::Phase;
use crate::engine::{Engine, Event, EventKind, Time};
use crate::protocol::wire::GroupState;

/// The whole status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// This node.
    pub node: String,
    /// The cluster's name.
    pub cluster: String,
    /// Whether this node has quorum.
    pub quorate: bool,
    /// Every node, this one included.
    pub nodes: BTreeMap<String, NodeStatus>,
    /// Every group.
    pub groups: BTreeMap<String, GroupStatus>,
    /// Datagrams dropped since start, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// The status line systemd shows.
    pub summary: String,
}

/// One node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// up, late, dead, left, unknown (this node: up).
    pub state: String,
    /// Per link: name, whether it carries heartbeats, time since the last one.
    pub links: Vec<LinkStatus>,
    /// Time since the last heartbeat on any link (none for this node).
    pub last_heard_ms: Option<u64>,
    /// In standby.
    pub standby: bool,
    /// Ping targets it reaches.
    pub connectivity: u16,
    /// Votes but holds no groups.
    pub witness: bool,
}

/// One link to a peer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkStatus {
    /// Link name.
    pub name: String,
    /// Carries heartbeats.
    pub up: bool,
    /// Time since the last heartbeat on it.
    pub last_heard_ms: u64,
}

/// One group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupStatus {
    /// The node running it, if any.
    pub owner: Option<String>,
    /// running, starting, stopping, failed, stopped.
    pub state: String,
    /// Since when (RFC 3339, UTC) it has this owner and state.
    pub since: String,
    /// Why: the last transition's reason.
    pub reason: String,
    /// Eligible nodes in preference order.
    pub preference: Vec<String>,
    /// Worst case from a crash of its owner to running elsewhere: `dead_after` plus an
    /// interval plus the longest start of each resource measured here.
    pub failover_budget_ms: u64,
}

/// What the agent remembers between snapshots: per group, the last (owner, state) seen, since
/// when and why; and how long each resource took to start here.
#[derive(Clone, Debug, Default)]
pub struct History {
    groups: BTreeMap<String, (Option<String>, String, SystemTime)>,
    reasons: BTreeMap<String, String>,
    starts: BTreeMap<(String, usize), Duration>,
}

impl History {
    /// Notes the reason of a group's transition logged here.
    pub fn event(&mut self, e: &Event) {
        let transition = matches!(
            e.kind,
            EventKind::Acquire
                | EventKind::Release
                | EventKind::Running
                | EventKind::ResourceFailed
        );
        if let (true, Some(g)) = (transition, &e.group) {
            self.reasons.insert(
                g.clone(),
                format!(
                    "{}: {}",
                    crate::drivers::logging::kind_name(e.kind),
                    e.reason
                ),
            );
        }
    }

    /// Notes how long a resource took to start.
    pub fn started(&mut self, group: &str, resource: usize, took: Duration) {
        let slot = self.starts.entry((group.to_owned(), resource)).or_default();
        *slot = (*slot).max(took);
    }

    fn budget(&self, e: &Engine, group: &str) -> u64 {
        let t = &e.manifest().heartbeat;
        let starts: Duration = self
            .starts
            .iter()
            .filter(|((g, _), _)| g == group)
            .map(|(_, d)| *d)
            .sum();
        (t.dead_after + t.interval + starts).as_millis() as u64
    }
}

fn state_name(s: PeerState) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// (owner, state) of a group in this node's view: this node's own phase first, then what live
/// peers advertise.
fn owner_of<'a>(e: &'a Engine, group: &str) -> (Option<&'a str>, &'static str) {
    let here = e.runners().get(group).map_or(Phase::Idle, |r| r.phase);
    let word = match here {
        Phase::Running => Some("running"),
        Phase::Starting => Some("starting"),
        Phase::Stopping { .. } => Some("stopping"),
        Phase::Idle => None,
    };
    if let Some(w) = word {
        return (Some(e.me()), w);
    }
    let mut failed = false;
    for (name, p) in e.members().peers() {
        let Some(view) = p.view.as_ref().filter(|_| p.state.alive()) else {
            continue;
        };
        match view
            .groups
            .iter()
            .find(|(g, _)| g == group)
            .map(|(_, s)| *s)
        {
            Some(GroupState::Running) => return (Some(name), "running"),
            Some(GroupState::Starting) => return (Some(name), "starting"),
            Some(GroupState::Stopping) => return (Some(name), "stopping"),
            Some(GroupState::Failed) => failed = true,
            _ => {}
        }
    }
    (None, if failed { "failed" } else { "stopped" })
}

impl History {
    /// Notes, after an input, any group whose owner or state changed, with the time.
    pub fn track(&mut self, e: &Engine, wall: SystemTime) {
        for name in e.manifest().groups.keys() {
            let (owner, state) = owner_of(e, name);
            let same = self
                .groups
                .get(name)
                .is_some_and(|(o, s, _)| o.as_deref() == owner && s == state);
            if !same {
                let entry = (owner.map(str::to_owned), state.to_owned(), wall);
                self.groups.insert(name.clone(), entry);
            }
        }
    }
}

/// Builds the status at engine time `now` (wall clock `wall`).
pub fn build(e: &Engine, now: Time, wall: SystemTime, h: &History) -> Status {
    let m = e.manifest();
    let mut nodes = BTreeMap::new();
    for (name, n) in &m.nodes {
        let mut s = NodeStatus {
            witness: n.witness,
            ..NodeStatus::default()
        };
        if name == e.me() {
            s.state = "up".into();
            s.standby = e.standby(name);
            s.connectivity = e.connectivity();
        } else if let Some(p) = e.members().peers().get(name) {
            s.state = state_name(p.state);
            s.last_heard_ms = p.last.map(|l| now.since(l).as_millis() as u64);
            s.links = p
                .links
                .iter()
                .map(|(l, (at, up))| LinkStatus {
                    name: l.clone(),
                    up: *up,
                    last_heard_ms: now.since(*at).as_millis() as u64,
                })
                .collect();
            s.standby = e.standby(name) || p.view.as_ref().is_some_and(|v| v.standby);
            s.connectivity = p.view.as_ref().map_or(0, |v| v.connectivity);
        }
        nodes.insert(name.clone(), s);
    }
    let mut groups = BTreeMap::new();
    for (name, g) in &m.groups {
        let (owner, state) = owner_of(e, name);
        let since = h.groups.get(name).map_or(wall, |(_, _, t)| *t);
        let reason = match (h.reasons.get(name), owner) {
            (Some(r), Some(o)) if o == e.me() => r.clone(),
            (_, Some(o)) => format!("{state} on {o}, as its heartbeats say"),
            (Some(r), None) => r.clone(),
            (None, None) => "no eligible node runs it".into(),
        };
        groups.insert(
            name.clone(),
            GroupStatus {
                owner: owner.map(str::to_owned),
                state: state.to_owned(),
                since: rfc3339(since),
                reason,
                preference: g.nodes.clone(),
                failover_budget_ms: h.budget(e, name),
            },
        );
    }
    Status {
        node: e.me().to_owned(),
        cluster: m.cluster.clone(),
        quorate: e.quorate(),
        nodes,
        groups,
        dropped: e
            .drops()
            .0
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        summary: e.status().to_owned(),
    }
}

/// `t` as RFC 3339 in UTC, to the second.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(1_796_172_835)), "2026-12-02T00:53:55Z");
    }
}
