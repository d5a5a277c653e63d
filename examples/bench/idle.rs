//! What an idle daemon costs: resident memory and CPU of every process of its unit, and the
//! IP datagrams its host sends per second, ICMP (the connectivity checks) left out: heartbeats
//! or VRRP adverts.

use std::time::{Duration, Instant};

use haagent_testbed::cluster::Cluster;

/// Idle figures of one node.
#[derive(Clone, Debug, Default)]
pub struct Idle {
    /// Resident set, kB, all processes of the unit.
    pub rss_kb: u64,
    /// CPU time over wall time, percent of one core.
    pub cpu_percent: f64,
    /// The same for the host's systemd (PID 1), which takes the watchdog pings.
    pub init_cpu_percent: f64,
    /// IP datagrams sent per second (ICMP excluded).
    pub datagrams_per_s: f64,
}

fn pids(c: &Cluster, node: &str, unit: &str) -> Result<Vec<u32>, String> {
    let text = c.sh(
        node,
        &format!("cat /sys/fs/cgroup/system.slice/{unit}/cgroup.procs"),
    )?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// (rss kB, CPU ns) summed over the unit's processes and all their threads.
fn usage(c: &Cluster, node: &str, unit: &str) -> Result<(u64, u64), String> {
    let (mut rss, mut cpu) = (0, 0);
    for pid in pids(c, node, unit)? {
        let status = c.sh(node, &format!("cat /proc/{pid}/status"))?;
        rss += status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        cpu += cpu_ns(c, node, pid)?;
    }
    Ok((rss, cpu))
}

/// CPU time of every thread of `pid`, in nanoseconds: the first field of `schedstat` (clock
/// ticks, at 10 ms each, are too coarse for an idle daemon over a few seconds).
fn cpu_ns(c: &Cluster, node: &str, pid: u32) -> Result<u64, String> {
    let text = c.sh(node, &format!("cat /proc/{pid}/task/*/schedstat"))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum())
}

/// Starts counting the IP datagrams `node` sends that are not ICMP (the connectivity checks):
/// heartbeats or VRRP adverts. An nftables counter on the output hook sees raw sockets such as
/// VRRP's too; the interface and SNMP counters cannot tell the two apart.
fn count_sent(c: &Cluster, node: &str) -> Result<(), String> {
    c.sh(
        node,
        "nft -f - <<'EOF'\ntable inet bench {\n  counter sent {}\n  chain out {\n    type filter hook output priority 0;\n    meta l4proto != { icmp, ipv6-icmp } counter name sent\n  }\n}\nEOF",
    )?;
    Ok(())
}

/// Datagrams counted since `count_sent`.
fn sent(c: &Cluster, node: &str) -> Result<u64, String> {
    let text = c.sh(node, "nft list counter inet bench sent")?;
    text.split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no packet count in `{text}`"))
}

/// Measures `unit` on `node` over `window`.
pub fn measure(c: &Cluster, node: &str, unit: &str, window: Duration) -> Result<Idle, String> {
    // The announcement burst and the start-up's D-Bus traffic are over by then.
    std::thread::sleep(Duration::from_secs(2));
    count_sent(c, node)?;
    let (_, cpu0) = usage(c, node, unit)?;
    let init0 = cpu_ns(c, node, 1)?;
    let sent0 = sent(c, node)?;
    let started = Instant::now();
    std::thread::sleep(window);
    let (rss, cpu1) = usage(c, node, unit)?;
    let init1 = cpu_ns(c, node, 1)?;
    let sent1 = sent(c, node)?;
    let secs = started.elapsed().as_secs_f64();
    let percent = |ns: u64| ns as f64 / 1e9 / secs * 100.0;
    Ok(Idle {
        rss_kb: rss,
        cpu_percent: percent(cpu1.saturating_sub(cpu0)),
        init_cpu_percent: percent(init1.saturating_sub(init0)),
        datagrams_per_s: (sent1.saturating_sub(sent0)) as f64 / secs,
    })
}
