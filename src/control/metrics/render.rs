//! The Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` once per
//! family, label values escaped (`\`, `"`, newline), one sample per line.

use std::fmt::Write as _;

use super::{Histogram, Scrape};

/// Group states the engine reports; each is one sample (1 for the current one).
const GROUP_STATES: [&str; 6] = [
    "running", "starting", "stopping", "failed", "stopped", "blocked",
];
/// Node states the engine reports.
const NODE_STATES: [&str; 5] = ["up", "late", "dead", "left", "unknown"];

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes one family at a time.
struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let l: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.0, "{{{}}}", l.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let (buckets, sum) = h.cumulative();
        let mut count = 0;
        for (le, n) in &buckets {
            let mut l = labels.to_vec();
            l.push(("le", le));
            self.sample(&format!("{name}_bucket"), &l, n);
            count = *n;
        }
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, count);
    }
}

fn flag(b: bool) -> u8 {
    u8::from(b)
}

/// The scrape as Prometheus text.
pub fn render(s: &Scrape) -> String {
    let mut o = Out(String::new());
    let st = &s.status;
    let me = st.node.as_str();
    o.family(
        "haagent_info",
        "gauge",
        "This node and its cluster; the value is 1.",
    );
    o.sample("haagent_info", &[("node", me), ("cluster", &st.cluster)], 1);
    o.family(
        "haagent_manifest_digest_info",
        "gauge",
        "The digest of the manifest in force, as heartbeats carry it; nodes should agree.",
    );
    o.sample(
        "haagent_manifest_digest_info",
        &[("digest", &format!("{:016x}", s.digest))],
        1,
    );
    o.family("haagent_quorate", "gauge", "Whether this node has quorum.");
    o.sample("haagent_quorate", &[], flag(st.quorate));
    groups(&mut o, s);
    nodes(&mut o, s);
    o.family(
        "haagent_dropped_datagrams_total",
        "counter",
        "Heartbeat datagrams dropped, by reason.",
    );
    for (why, d) in &st.dropped {
        o.sample(
            "haagent_dropped_datagrams_total",
            &[("reason", why)],
            d.total,
        );
    }
    let [started, failed, dropped] = s.notifications;
    o.family(
        "haagent_notifications_total",
        "counter",
        "Notification units started, by result.",
    );
    o.sample(
        "haagent_notifications_total",
        &[("result", "started")],
        started,
    );
    o.sample(
        "haagent_notifications_total",
        &[("result", "failed")],
        failed,
    );
    o.family(
        "haagent_notifications_dropped_total",
        "counter",
        "Notifications dropped because their queue was full.",
    );
    o.sample("haagent_notifications_dropped_total", &[], dropped);
    o.family(
        "haagent_loop_held_seconds",
        "histogram",
        "How long each wake-up held the agent's loop, from when it was due.",
    );
    o.histogram("haagent_loop_held_seconds", &[], &s.tracker.loop_held);
    o.family(
        "haagent_loop_held_worst_seconds",
        "gauge",
        "The longest wake-up, since start and in the last minute.",
    );
    let l = &st.loop_latency;
    o.sample(
        "haagent_loop_held_worst_seconds",
        &[("window", "start")],
        secs(l.worst_ms),
    );
    o.sample(
        "haagent_loop_held_worst_seconds",
        &[("window", "minute")],
        secs(l.last_minute_worst_ms),
    );
    o.family(
        "haagent_reloads_total",
        "counter",
        "Reloads of the manifest and keys, by result.",
    );
    o.sample("haagent_reloads_total", &[("result", "ok")], s.reloads.ok);
    o.sample(
        "haagent_reloads_total",
        &[("result", "refused")],
        s.reloads.refused,
    );
    if let Some((at, ok)) = s.reloads.last {
        o.family(
            "haagent_last_reload_timestamp_seconds",
            "gauge",
            "When the last reload was asked for.",
        );
        o.sample("haagent_last_reload_timestamp_seconds", &[], at);
        o.family(
            "haagent_last_reload_success",
            "gauge",
            "Whether the last reload was accepted.",
        );
        o.sample("haagent_last_reload_success", &[], flag(ok));
    }
    o.0
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

fn groups(o: &mut Out, s: &Scrape) {
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

fn nodes(o: &mut Out, s: &Scrape) {
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
