//! keepalived in the same topology: VRRPv3 over unicast between alpha and beta, alpha
//! preferred, the advertisement interval set to the heartbeat interval (VRRP's master-down time
//! is then three intervals plus a skew, the closest match to haagent's `dead_after`).

use haagent_testbed::cluster::Cluster;

use super::Timers;

/// keepalived's transient unit in each host.
pub const UNIT: &str = "bench-keepalived.service";

fn config(c: &Cluster, node: &str, peer: &str, t: Timers) -> String {
    let priority = if node == "alpha" { 150 } else { 100 };
    format!(
        "global_defs {{\n  router_id {node}\n  vrrp_version 3\n  vrrp_garp_master_delay 0\n}}\nvrrp_instance web {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority {priority}\n  advert_int {advert}\n  unicast_src_ip {me}\n  unicast_peer {{\n    {peer_ip}\n  }}\n  virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n}}\n",
        advert = t.interval_ms as f64 / 1000.0,
        me = c.bed.ip(node),
        peer_ip = c.bed.ip(peer),
        vip = c.bed.subnet_addr(50),
    )
}

/// Writes each node's configuration and starts keepalived on both.
pub fn start(c: &Cluster, t: Timers) -> Result<(), String> {
    for (node, peer) in [("alpha", "beta"), ("beta", "alpha")] {
        let h = c.bed.host(node);
        h.write_file(
            "/etc/haagent/keepalived.conf",
            config(c, node, peer, t).as_bytes(),
            0o644,
        )?;
        h.sh(&format!(
            "systemd-run --quiet --unit={UNIT} keepalived --dont-fork --log-console --vrrp -f /etc/haagent/keepalived.conf"
        ))?;
    }
    Ok(())
}

/// Starts keepalived on both nodes moving `vips` (the first announced in the adverts, the rest
/// as `virtual_ipaddress_excluded`, which keepalived adds and announces the same way), with
/// advertisements every `interval_ms`.
pub fn start_with(
    c: &Cluster,
    interval_ms: u64,
    vips: &[std::net::Ipv4Addr],
) -> Result<(), String> {
    let (first, rest) = vips.split_first().ok_or("no VIPs")?;
    let rest: String = rest
        .iter()
        .map(|v| format!("    {v}/24 dev eth0\n"))
        .collect();
    for (node, peer) in [("alpha", "beta"), ("beta", "alpha")] {
        let priority = if node == "alpha" { 150 } else { 100 };
        let text = format!(
            "global_defs {{\n  router_id {node}\n  vrrp_version 3\n  vrrp_garp_master_delay 0\n}}\nvrrp_instance web {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority {priority}\n  advert_int {advert}\n  unicast_src_ip {me}\n  unicast_peer {{\n    {peer_ip}\n  }}\n  virtual_ipaddress {{\n    {first}/24 dev eth0\n  }}\n  virtual_ipaddress_excluded {{\n{rest}  }}\n}}\n",
            advert = interval_ms as f64 / 1000.0,
            me = c.bed.ip(node),
            peer_ip = c.bed.ip(peer),
        );
        let h = c.bed.host(node);
        h.write_file("/etc/haagent/keepalived.conf", text.as_bytes(), 0o644)?;
        h.sh(&format!(
            "systemd-run --quiet --unit={UNIT} keepalived --dont-fork --log-console --vrrp -f /etc/haagent/keepalived.conf"
        ))?;
    }
    Ok(())
}
