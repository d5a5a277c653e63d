//! The Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` once per
//! family, label values escaped (`\`, `"`, newline), one sample per line.

use std::fmt::Write as _;

use super::series::{groups, nodes};
use super::{Histogram, Scrape};

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes one family at a time.
pub(super) struct Out(String);

impl Out {
    pub(super) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    pub(super) fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl std::fmt::Display,
    ) {
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

    pub(super) fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
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

pub(super) fn flag(b: bool) -> u8 {
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

pub(super) fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}
