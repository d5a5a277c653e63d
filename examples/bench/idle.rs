//! What an idle daemon costs: resident memory and CPU of every process of its unit, and the
//! packets its host sends per second (less ICMP: heartbeats or VRRP adverts, and a few ARP).

use std::time::{Duration, Instant};

use haagent_testbed::cluster::Cluster;

/// Idle figures of one node.
#[derive(Clone, Debug, Default)]
pub struct Idle {
    /// Resident set, kB, all processes of the unit.
    pub rss_kb: u64,
    /// CPU time over wall time, percent of one core.
    pub cpu_percent: f64,
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

/// (rss kB, cpu ticks) summed over the unit's processes.
fn usage(c: &Cluster, node: &str, unit: &str) -> Result<(u64, u64), String> {
    let (mut rss, mut ticks) = (0, 0);
    for pid in pids(c, node, unit)? {
        let status = c.sh(node, &format!("cat /proc/{pid}/status"))?;
        rss += status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        let stat = c.sh(node, &format!("cat /proc/{pid}/stat"))?;
        // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        ticks += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        ticks += f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    Ok((rss, ticks))
}

/// Packets out of the node's eth0 less ICMP messages (the connectivity checks): raw-socket
/// protocols such as VRRP bypass the IP counters, so count at the interface.
fn sent(c: &Cluster, node: &str) -> Result<u64, String> {
    let tx: u64 = c
        .sh(node, "cat /sys/class/net/eth0/statistics/tx_packets")?
        .trim()
        .parse()
        .map_err(|e| format!("tx_packets: {e}"))?;
    let snmp = c.sh(node, "cat /proc/net/snmp")?;
    let field = |proto: &str, name: &str| -> u64 {
        let mut lines = snmp.lines().filter(|l| l.starts_with(&format!("{proto}:")));
        let (Some(head), Some(vals)) = (lines.next(), lines.next()) else {
            return 0;
        };
        let i = head.split_whitespace().position(|h| h == name);
        i.and_then(|i| vals.split_whitespace().nth(i)?.parse().ok())
            .unwrap_or(0)
    };
    Ok(tx.saturating_sub(field("Icmp", "OutMsgs")))
}

/// Measures `unit` on `node` over `window`.
pub fn measure(c: &Cluster, node: &str, unit: &str, window: Duration) -> Result<Idle, String> {
    let (_, ticks0) = usage(c, node, unit)?;
    let sent0 = sent(c, node)?;
    let started = Instant::now();
    std::thread::sleep(window);
    let (rss, ticks1) = usage(c, node, unit)?;
    let sent1 = sent(c, node)?;
    let secs = started.elapsed().as_secs_f64();
    // Clock ticks are 1/100 s on Linux.
    Ok(Idle {
        rss_kb: rss,
        cpu_percent: (ticks1.saturating_sub(ticks0)) as f64 / secs,
        datagrams_per_s: (sent1.saturating_sub(sent0)) as f64 / secs,
    })
}
