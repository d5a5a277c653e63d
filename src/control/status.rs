//! The cluster at a glance, as this node sees it: the one structure behind `haagentctl status`
//! (text and `--json`) and the D-Bus `Status` method. Built from the engine's snapshot (who owns
//! what and why each node may or may not run each group are the engine's rules, not this
//! module's) and the agent's own record of each group's transitions.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::drivers::links::drops::Dropped;
use crate::engine::snapshot::Snapshot;
use crate::engine::{Event, EventKind};
use crate::manifest::model::Heartbeat;

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
    /// Datagrams dropped since start, by reason (`bad_mac`, `wrong_source`, ...): how many
    /// and from which source addresses (the biggest few, the rest as `other`).
    pub dropped: BTreeMap<String, Dropped>,
    /// The status line systemd shows.
    pub summary: String,
    /// The whole cluster is in maintenance (`haagentctl maintenance on`).
    #[serde(default)]
    pub maintenance: bool,
    /// The wire format this node sends its heartbeats in: the newest every live peer accepts,
    /// so below the newest this node speaks while a rolling upgrade is under way.
    #[serde(default)]
    pub format: u8,
    /// How long the daemon's loop was held after a wake-up (filled in by the daemon).
    #[serde(default, rename = "loop")]
    pub loop_latency: LoopLatency,
}

/// The daemon loop's latency: for each wake-up, from when it was due to the end of its work.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopLatency {
    /// The longest a wake-up was held since start, in ms.
    pub worst_ms: u64,
    /// The longest in the last minute, in ms.
    pub last_minute_worst_ms: u64,
    /// The bound above which a wake-up is logged: a quarter of the watchdog's, in ms.
    pub warn_over_ms: u64,
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
    /// Stray copies seen on this node in the last hour, newest first: each node reports its
    /// own (a peer's list is on that peer's status).
    #[serde(default)]
    pub strays: Vec<crate::engine::strays::StraySeen>,
    /// Its manifest differs from this node's.
    #[serde(default)]
    pub manifest_differs: bool,
    /// The groups it defines otherwise than this node: they do not move onto it.
    #[serde(default)]
    pub differing_groups: Vec<String>,
    /// The wire formats it accepts, oldest first, as its last heartbeat says (this node: those
    /// it speaks; empty for a peer never heard): an older release's node accepts fewer.
    #[serde(default)]
    pub formats: Vec<u8>,
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
    /// The group's nodes in preference order.
    pub preference: Vec<String>,
    /// Why each of its nodes may not run it now (nodes that may are absent).
    #[serde(default)]
    pub ineligible: BTreeMap<String, String>,
    /// Where `haagentctl failover GROUP` without `--to` would move it.
    #[serde(default)]
    pub next: Option<String>,
    /// The node an operator moved it to, until `haagentctl clear`.
    #[serde(default)]
    pub moved_to: Option<String>,
    /// How long this node stays ineligible after a failure here (ms).
    #[serde(default)]
    pub failed_here_for_ms: Option<u64>,
    /// Each resource on this node: name and state (down, starting, up, stopping).
    #[serde(default)]
    pub resources: Vec<(String, String)>,
    /// In maintenance: nothing of it is started, stopped or moved.
    #[serde(default)]
    pub maintenance: bool,
    /// The health checks of its resources, as run on this node.
    #[serde(default)]
    pub checks: Vec<crate::engine::snapshot::CheckSnapshot>,
    /// Worst case from a crash of its owner to running elsewhere: `dead_after` plus an
    /// interval plus the longest start of each resource measured here.
    pub failover_budget_ms: u64,
}

/// What the agent remembers between snapshots: per group, the last (owner, state) seen, since
/// when, and the reason of the last transition logged here.
#[derive(Clone, Debug, Default)]
pub struct History {
    groups: BTreeMap<String, (Option<String>, String, SystemTime)>,
    reasons: BTreeMap<String, String>,
}

impl History {
    /// Notes the reason of a group's transition logged here.
    pub fn event(&mut self, e: &Event) {
        let transition = matches!(
            e.kind,
            EventKind::Acquire
                | EventKind::Release
                | EventKind::Running
                | EventKind::Released
                | EventKind::ResourceFailed
                | EventKind::Stray
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

    /// Notes, after an input, any group whose owner or state changed, with the time.
    pub fn track(
        &mut self,
        owners: &BTreeMap<String, (Option<String>, &'static str)>,
        wall: SystemTime,
    ) {
        for (name, (owner, state)) in owners {
            let same = self
                .groups
                .get(name)
                .is_some_and(|(o, s, _)| o == owner && s == state);
            if !same {
                let entry = (owner.clone(), (*state).to_owned(), wall);
                self.groups.insert(name.clone(), entry);
            }
        }
    }
}

/// The status from the engine's snapshot, the manifest's timers and the agent's history.
pub fn build(
    s: Snapshot,
    t: &Heartbeat,
    wall: SystemTime,
    h: &History,
    link_drops: BTreeMap<String, Dropped>,
) -> Status {
    let nodes = s
        .nodes
        .into_iter()
        .map(|(name, n)| {
            let links = n
                .links
                .into_iter()
                .map(|(name, up, last_heard_ms)| LinkStatus {
                    name,
                    up,
                    last_heard_ms,
                })
                .collect();
            let status = NodeStatus {
                state: n.state,
                links,
                last_heard_ms: n.last_heard_ms,
                standby: n.standby,
                connectivity: n.connectivity,
                witness: n.witness,
                strays: n.strays,
                manifest_differs: n.manifest_differs,
                differing_groups: n.differing_groups,
                formats: n.formats,
            };
            (name, status)
        })
        .collect();
    let groups = s
        .groups
        .into_iter()
        .map(|(name, g)| {
            let since = h.groups.get(&name).map_or(wall, |(_, _, t)| *t);
            let reason = match (h.reasons.get(&name), &g.owner) {
                (Some(r), Some(o)) if *o == s.me => r.clone(),
                (_, Some(o)) => super::why::held_elsewhere(&name, o, &g),
                (Some(r), None) => r.clone(),
                (None, None) => "no eligible node runs it".into(),
            };
            let budget = t.dead_after + t.interval + std::time::Duration::from_millis(g.starts_ms);
            let status = GroupStatus {
                owner: g.owner,
                state: g.state,
                since: rfc3339(since),
                reason,
                preference: g.preference,
                ineligible: g.ineligible,
                next: g.next,
                moved_to: g.moved_to,
                failed_here_for_ms: g.failed_here_for_ms,
                resources: g.resources,
                maintenance: g.maintenance,
                checks: g.checks,
                failover_budget_ms: u64::try_from(budget.as_millis()).unwrap_or(u64::MAX),
            };
            (name, status)
        })
        .collect();
    // The engine's own drops (replays of an older run) have no source address.
    let mut dropped = link_drops;
    for (why, n) in s.dropped {
        let d = dropped.entry(why).or_default();
        d.total = d.total.saturating_add(n);
    }
    Status {
        node: s.me,
        cluster: s.cluster,
        quorate: s.quorate,
        nodes,
        groups,
        dropped,
        summary: s.summary,
        maintenance: s.maintenance,
        format: s.format,
        loop_latency: Default::default(),
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
    use std::time::Duration;

    #[test]
    fn rfc3339_dates() {
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(1_796_172_835)), "2026-12-02T00:53:55Z");
    }
}
