//! The scale benchmark (`--scale`): failover of one group of 10, 100 and 1,000 VIPs plus a
//! unit after a power cut of the holder, with a 100 ms interval and two settings: the issue's
//! (300 ms warn, 500 ms dead: a 100 ms watchdog bound), and 200 ms / 300 ms, whose detection
//! matches keepalived's at a 100 ms advertisement interval (three adverts and a skew; a 50 ms
//! watchdog bound). For haagent: the time from `acquire`
//! to `running` on the new holder (its journal's timestamps), the client's gap on the first
//! and on the last VIP, and the new holder's worst loop latency. keepalived moves the same
//! VIPs (the service runs on both nodes), with the advertisement interval at 100 ms.
//!
//! The VIPs are independent (`after: []`) and the unit comes after the last one listed. The
//! first and the last VIP are in the client's /24; the others fill three more /24s.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use haagent_testbed::cluster::{Cluster, Install, wait_for};
use haagent_testbed::probe::{Mode, Probe};
use haagent_testbed::{Config, TestBed};

const PORT: u16 = 8080;
const NET: [u8; 3] = [10, 98, 106];
const INTERVAL_MS: u64 = 100;

/// (warn_after, dead_after) in ms.
const SETTINGS: [(u64, u64); 2] = [(300, 500), (200, 300)];

/// One row of the table.
pub struct Row {
    /// VIPs in the group.
    pub vips: usize,
    /// warn_after / dead_after, ms.
    pub timers: (u64, u64),
    /// haagent or keepalived.
    pub system: &'static str,
    /// acquire -> running on the new holder (haagent only).
    pub acquire_ms: Option<f64>,
    /// Client gap on the first VIP.
    pub first_gap: Duration,
    /// Client gap on the last VIP.
    pub last_gap: Duration,
    /// The new holder's worst loop latency (haagent only).
    pub loop_worst_ms: Option<u64>,
}

/// `n` VIPs: the first and the last in the bed's /24 (so the client reaches them directly),
/// the rest in the three /24s after it.
pub fn vips(n: usize) -> Vec<Ipv4Addr> {
    let own = |i: u8| Ipv4Addr::new(NET[0], NET[1], NET[2], i);
    let others = (1..=3u8)
        .flat_map(|k| (1..=254).map(move |i| Ipv4Addr::new(NET[0], NET[1], NET[2] + k, i)));
    // .1 and .2 are the hosts, .100 the client.
    let middle = (4..100).chain(101..254).map(own).chain(others);
    let mut out = vec![own(3)];
    out.extend(middle.take(n.saturating_sub(2)));
    if n > 1 {
        out.push(own(254));
    }
    out
}

fn manifest(bed: &TestBed, vips: &[Ipv4Addr], (warn, dead): (u64, u64)) -> String {
    let resources: String = vips
        .iter()
        .map(|v| format!("      - vip: {v}/24\n        interface: eth0\n        after: []\n"))
        .collect();
    format!(
        "cluster: bench\nnodes:\n  alpha: {{ address: {a} }}\n  beta: {{ address: {b} }}\nheartbeat:\n  interval: {INTERVAL_MS}ms\n  warn_after: {warn}ms\n  dead_after: {dead}ms\n  initial_dead: 2s\n  links:\n    - transport: unicast\n      interface: eth0\nauth:\n  key_file: /etc/haagent/authkey\nquorum:\n  two_node:\n    tie_breaker: ping\nconnectivity:\n  ping: [{c}]\n  interval: 500ms\ngroups:\n  web:\n    nodes: [alpha, beta]\n    failback: false\n    resources:\n{resources}      - unit: web.service\n",
        a = bed.ip("alpha"),
        b = bed.ip("beta"),
        c = bed.client_ip(),
    )
}

/// An echo server on the first and on the last VIP, in one unit.
fn echo_unit(first: Ipv4Addr, last: Ipv4Addr) -> Result<String, String> {
    haagent_testbed::echo::binary()?;
    let bin = format!("{}/tb-echo", haagent_testbed::BIN_DIR);
    Ok(format!(
        "[Unit]\nDescription=echo on the first and last VIP\n\n[Service]\nExecStart=/bin/sh -c '{bin} {PORT} {first} & exec {bin} {PORT} {last}'\n"
    ))
}

fn bed(
    vips: &[Ipv4Addr],
    install: &Install,
    haagent: bool,
    timers: (u64, u64),
) -> Result<Cluster, String> {
    let unit = echo_unit(vips[0], vips[vips.len() - 1])?;
    let cfg =
        Config::new("scb", NET, 2)
            .named(&["alpha", "beta"])
            .unit("web.service", &unit, false);
    let c = Cluster::up(cfg, install.clone(), |bed| manifest(bed, vips, timers))?;
    if haagent {
        c.start(&["alpha", "beta"])?;
        wait_for("web running on alpha", Duration::from_secs(30), || {
            status(&c, "beta")["groups"]["web"]["owner"] == "alpha"
                && status(&c, "alpha")["groups"]["web"]["state"] == "running"
        })?;
    } else {
        for n in ["alpha", "beta"] {
            c.sh(n, "systemctl start web.service")?;
        }
        super::keepalived::start_with(&c, INTERVAL_MS, vips)?;
        let last = vips[vips.len() - 1];
        wait_for("alpha to hold the VIPs", Duration::from_secs(30), || {
            c.vip_holders(last) == ["alpha"]
        })?;
    }
    Ok(c)
}

fn status(c: &Cluster, node: &str) -> serde_json::Value {
    let out = c.ctl(node, &["status", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// The realtime timestamp (µs) of the last journal entry of `event` on `node`.
fn event_at(c: &Cluster, node: &str, event: &str) -> Option<u64> {
    let text = c
        .sh(
            node,
            &format!("journalctl -u haagent -o json HAAGENT_EVENT={event}"),
        )
        .ok()?;
    let last: serde_json::Value = serde_json::from_str(text.lines().last()?).ok()?;
    last["__REALTIME_TIMESTAMP"].as_str()?.parse().ok()
}

/// One failover: probes of the first and last VIP, a power cut of alpha, until beta serves
/// both.
fn failover(
    vips: &[Ipv4Addr],
    install: &Install,
    haagent: bool,
    timers: (u64, u64),
) -> Result<Row, String> {
    let mut c = bed(vips, install, haagent, timers)?;
    let ns = c.bed.client_netns();
    let probe = |v: Ipv4Addr| {
        Probe::start(
            &ns,
            SocketAddrV4::new(v, PORT),
            Mode::Udp,
            Duration::from_millis(2),
        )
    };
    let (first, last) = (vips[0], vips[vips.len() - 1]);
    let (p1, p2) = (probe(first)?, probe(last)?);
    std::thread::sleep(Duration::from_millis(300));
    c.bed.kill("alpha")?;
    wait_for("beta to hold every VIP", Duration::from_secs(30), || {
        c.vip_holders(last) == ["beta"]
            && (!haagent || status(&c, "beta")["groups"]["web"]["state"] == "running")
    })?;
    std::thread::sleep(Duration::from_millis(300));
    let (r1, r2) = (p1.stop()?, p2.stop()?);
    for r in [&r1, &r2] {
        if r.last_host.as_deref() != Some("beta") {
            return Err(format!(
                "the client did not end up on beta: {:?}",
                r.by_host
            ));
        }
    }
    let (acquire_ms, loop_worst_ms) = if haagent {
        let took = event_at(&c, "beta", "acquire")
            .zip(event_at(&c, "beta", "running"))
            .map(|(a, r)| r.saturating_sub(a) as f64 / 1000.0);
        (took, status(&c, "beta")["loop"]["worst_ms"].as_u64())
    } else {
        (None, None)
    };
    Ok(Row {
        vips: vips.len(),
        timers,
        system: if haagent {
            "haagent"
        } else {
            "keepalived 2.2.7"
        },
        acquire_ms,
        first_gap: r1.longest_gap,
        last_gap: r2.longest_gap,
        loop_worst_ms,
    })
}

/// Each of `sizes` (VIPs in the group), haagent then keepalived, `runs` times each.
pub fn run(
    install: &Install,
    runs: usize,
    only: &str,
    sizes: &[usize],
) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    let systems = [true, false]
        .into_iter()
        .flat_map(|h| SETTINGS.map(|t| (h, t)))
        .filter(|(h, t)| *h || *t == SETTINGS[0]);
    let systems: Vec<(bool, (u64, u64))> = systems.collect();
    for &n in sizes {
        let vips = vips(n);
        for &(haagent, timers) in &systems {
            let name = if haagent { "haagent" } else { "keepalived" };
            if !name.contains(only) {
                continue;
            }
            for i in 0..runs {
                let r = failover(&vips, install, haagent, timers)?;
                eprintln!(
                    "   {n} VIPs, {name}, run {}: acquire->running {:?} ms, gaps {:?} / {:?}, loop {:?} ms",
                    i + 1,
                    r.acquire_ms,
                    r.first_gap,
                    r.last_gap,
                    r.loop_worst_ms
                );
                rows.push(r);
            }
        }
    }
    Ok(rows)
}

/// The table, one line per run.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "\n| VIPs | system | warn / dead, ms | acquire -> running, ms | client gap, first VIP, ms | client gap, last VIP, ms | last - first, ms | worst loop latency, ms |\n|---|---|---|---|---|---|---|---|\n",
    );
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    for r in rows {
        let (f, l) = (r.first_gap.as_millis(), r.last_gap.as_millis());
        out.push_str(&format!(
            "| {} | {} | {} | {} | {f} | {l} | {} | {} |\n",
            r.vips,
            r.system,
            match r.system {
                "haagent" => format!("{} / {}", r.timers.0, r.timers.1),
                _ => "advert 100".into(),
            },
            opt(r.acquire_ms.map(|a| format!("{a:.1}"))),
            l as i128 - f as i128,
            opt(r.loop_worst_ms.map(|w| w.to_string())),
        ));
    }
    out
}
