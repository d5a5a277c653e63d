//! The metrics endpoint as a client sees it: one scrape and its samples by series.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use haagent_testbed::cluster::Cluster;

/// The port the end-to-end manifests give `metrics.listen`.
pub const METRICS_PORT: u16 = 9464;

/// `GET /metrics` of `node`, from the client, and how long it took.
pub fn scrape(c: &Cluster, node: &str) -> (String, Duration) {
    let url = format!("http://{}:{METRICS_PORT}/metrics", c.bed.ip(node));
    let started = Instant::now();
    let out = c
        .bed
        .client(&["curl", "-sS", "--max-time", "5", "-i", &url]);
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && text.starts_with("HTTP/1.0 200 OK"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (text, took)
}

/// The samples of a scrape, by series (name and labels).
pub fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| l.starts_with("haagent_"))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}
