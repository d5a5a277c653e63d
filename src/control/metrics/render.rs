//! The Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` once per
//! family, label values escaped (`\`, `"`, newline), one sample per line.

use super::Scrape;
use super::out::{Out, flag, secs};
use super::series::{checks, groups, nodes};

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
    checks(&mut o, s);
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
