//! The series about groups and nodes: who owns what, in which state, what this node counted,
//! and how each peer and link is heard. Each family's samples are written together, as the
//! text format requires.

use super::out::{Out, flag, secs};
use super::{Histogram, Scrape};

/// Group states the engine reports; each is one sample (1 for the current one).
const GROUP_STATES: [&str; 6] = [
    "running", "starting", "stopping", "failed", "stopped", "blocked",
];
/// Health-check states the engine reports (`idle`: not run here since the agent started).
const CHECK_STATES: [&str; 4] = ["passing", "failing", "unknown", "idle"];
/// Node states the engine reports.
const NODE_STATES: [&str; 5] = ["up", "late", "dead", "left", "unknown"];

pub(super) fn groups(o: &mut Out, s: &Scrape) {
    let st = &s.status;
    o.family(
        "haagent_group_held",
        "gauge",
        "Whether this node runs (or starts or stops) the group.",
    );
    for (g, gs) in &st.groups {
        o.sample(
            "haagent_group_held",
            &[("group", g)],
            flag(gs.owner.as_deref() == Some(&st.node)),
        );
    }
    o.family(
        "haagent_group_owner",
        "gauge",
        "The group's owner as this node sees it: 1 for the owner, 0 for its other nodes.",
    );
    for (g, gs) in &st.groups {
        for n in &gs.preference {
            o.sample(
                "haagent_group_owner",
                &[("group", g), ("node", n)],
                flag(gs.owner.as_ref() == Some(n)),
            );
        }
    }
    o.family(
        "haagent_group_state",
        "gauge",
        "The group's state: 1 for the current one.",
    );
    for (g, gs) in &st.groups {
        for state in GROUP_STATES {
            o.sample(
                "haagent_group_state",
                &[("group", g), ("state", state)],
                flag(gs.state == state),
            );
        }
    }
    let counts = |f: fn(&super::GroupCounts) -> u64| {
        st.groups
            .keys()
            .map(move |g| (g, s.tracker.groups.get(g).map_or(0, f)))
    };
    for (name, help, f) in [
        (
            "haagent_group_acquisitions_total",
            "Times this node acquired the group (a failover counts where it lands).",
            (|c| c.acquisitions) as fn(&super::GroupCounts) -> u64,
        ),
        (
            "haagent_group_releases_total",
            "Times this node released the group.",
            |c| c.releases,
        ),
        (
            "haagent_group_resource_failures_total",
            "Resource failures of the group here.",
            |c| c.failures,
        ),
    ] {
        o.family(name, "counter", help);
        for (g, n) in counts(f) {
            o.sample(name, &[("group", g)], n);
        }
    }
    let empty = super::GroupCounts::default();
    type Pick = fn(&super::GroupCounts) -> &Histogram;
    let durations: [(&str, &str, Pick); 2] = [
        (
            "haagent_group_acquire_duration_seconds",
            "From this node's decision to acquire the group to the group running here.",
            |c| &c.acquire_seconds,
        ),
        (
            "haagent_group_release_duration_seconds",
            "From this node's decision to release the group to every resource stopped.",
            |c| &c.release_seconds,
        ),
    ];
    for (name, help, pick) in durations {
        o.family(name, "histogram", help);
        for g in st.groups.keys() {
            o.histogram(
                name,
                &[("group", g)],
                pick(s.tracker.groups.get(g).unwrap_or(&empty)),
            );
        }
    }
    o.family("haagent_group_failover_budget_seconds", "gauge", "Worst case from a crash of the owner to running elsewhere: dead_after + interval + measured starts.");
    for (g, gs) in &st.groups {
        o.sample(
            "haagent_group_failover_budget_seconds",
            &[("group", g)],
            secs(gs.failover_budget_ms),
        );
    }
}

/// Each resource's health check as run here: its state, whether it runs here now, and how
/// many runs in a row gave the last result (how near `rise` or `fall` it is).
pub(super) fn checks(o: &mut Out, s: &Scrape) {
    let checks = || {
        s.status
            .groups
            .iter()
            .flat_map(|(g, gs)| gs.checks.iter().map(move |c| (g, c)))
    };
    o.family(
        "haagent_check_state",
        "gauge",
        "A resource's health check here: 1 for the current state.",
    );
    for (g, c) in checks() {
        for state in CHECK_STATES {
            o.sample(
                "haagent_check_state",
                &[("group", g), ("resource", &c.resource), ("state", state)],
                flag(c.state == state),
            );
        }
    }
    o.family(
        "haagent_check_running",
        "gauge",
        "Whether the check runs here now (only where its group runs whole).",
    );
    for (g, c) in checks() {
        let labels = [("group", g.as_str()), ("resource", &c.resource)];
        o.sample("haagent_check_running", &labels, flag(c.running));
    }
    o.family(
        "haagent_check_consecutive",
        "gauge",
        "Runs in a row with the last run's result (against the check's rise or fall).",
    );
    for (g, c) in checks() {
        let labels = [("group", g.as_str()), ("resource", &c.resource)];
        o.sample("haagent_check_consecutive", &labels, c.consecutive);
    }
}

pub(super) fn nodes(o: &mut Out, s: &Scrape) {
    let st = &s.status;
    o.family(
        "haagent_node_state",
        "gauge",
        "Each node's state as this node sees it: 1 for the current one.",
    );
    for (n, ns) in &st.nodes {
        for state in NODE_STATES {
            o.sample(
                "haagent_node_state",
                &[("node", n), ("state", state)],
                flag(ns.state == state),
            );
        }
    }
    o.family(
        "haagent_node_last_heard_seconds",
        "gauge",
        "Time since a peer's last heartbeat on any link (lateness; heartbeat RTT is not measured).",
    );
    for (n, ns) in &st.nodes {
        if let Some(ms) = ns.last_heard_ms {
            o.sample("haagent_node_last_heard_seconds", &[("node", n)], secs(ms));
        }
    }
    o.family(
        "haagent_node_standby",
        "gauge",
        "Whether the node is in standby.",
    );
    for (n, ns) in &st.nodes {
        o.sample("haagent_node_standby", &[("node", n)], flag(ns.standby));
    }
    // Each family's samples stay together, as the format requires.
    let links = || {
        st.nodes
            .iter()
            .flat_map(|(n, ns)| ns.links.iter().map(move |l| (n, l)))
    };
    o.family(
        "haagent_link_up",
        "gauge",
        "Whether a link carries a peer's heartbeats.",
    );
    for (n, l) in links() {
        o.sample(
            "haagent_link_up",
            &[("node", n), ("link", &l.name)],
            flag(l.up),
        );
    }
    o.family(
        "haagent_link_last_heard_seconds",
        "gauge",
        "Time since a peer's last heartbeat on a link.",
    );
    for (n, l) in links() {
        o.sample(
            "haagent_link_last_heard_seconds",
            &[("node", n), ("link", &l.name)],
            secs(l.last_heard_ms),
        );
    }
}
