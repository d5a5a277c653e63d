//! Heartbeat 3 (Debian's package) in the same topology, as its users ran it: haresources mode
//! (`crm off`), unicast heartbeats between alpha and beta, the VIP managed by the `IPaddr2`
//! resource script (which sends its gratuitous ARPs), the timers of the setting as
//! `keepalive`, `warntime` and `deadtime`.

use haagent_testbed::cluster::Cluster;

use super::Timers;

/// Heartbeat's transient unit in each host (the packaged unit pulls in `basic.target`, which
/// the test bed's minimal boot leaves out).
pub const UNIT: &str = "bench-heartbeat.service";

/// The program the packaged unit runs, in the foreground.
const DAEMON: &str = "/usr/libexec/heartbeat/heartbeat";

fn ha_cf(c: &Cluster, peer: &str, t: Timers) -> String {
    format!(
        "use_logd no\nlogfile /run/ha-log\ncrm off\nudpport 694\nucast eth0 {peer_ip}\nkeepalive {}ms\nwarntime {}ms\ndeadtime {}ms\ninitdead {}ms\nauto_failback off\nnode alpha\nnode beta\n",
        t.interval_ms,
        t.warn_ms,
        t.dead_ms,
        t.dead_ms.max(2000),
        peer_ip = c.bed.ip(peer),
    )
}

/// Writes each node's `ha.cf`, `authkeys` and `haresources` and starts Heartbeat on both.
pub fn start(c: &Cluster, t: Timers) -> Result<(), String> {
    if !std::path::Path::new(DAEMON).exists() {
        return Err(format!(
            "{DAEMON} is missing: `apt-get install heartbeat` (the benchmark compares against it)"
        ));
    }
    let haresources = format!("alpha IPaddr2::{}/24/eth0\n", c.bed.subnet_addr(50));
    for (node, peer) in [("alpha", "beta"), ("beta", "alpha")] {
        let h = c.bed.host(node);
        h.write_file("/etc/ha.d/ha.cf", ha_cf(c, peer, t).as_bytes(), 0o644)?;
        h.write_file(
            "/etc/ha.d/authkeys",
            b"auth 1\n1 sha1 bench-secret\n",
            0o600,
        )?;
        h.write_file("/etc/ha.d/haresources", haresources.as_bytes(), 0o644)?;
        // Each host has a copy-on-write root: a node id left in the lower layer would be
        // shared by both nodes. The host's private /run needs what the package's tmpfiles.d
        // entry makes at boot; the memory lock keeps Heartbeat's timing as on a real node.
        h.sh(&format!(
            "rm -f /var/lib/heartbeat/hb_uuid /var/lib/heartbeat/hostcache \
             && systemd-tmpfiles --create /usr/lib/tmpfiles.d/heartbeat.conf \
             && systemd-run --quiet --unit={UNIT} -p KillMode=process -p LimitMEMLOCK=infinity {DAEMON} -f"
        ))?;
    }
    Ok(())
}
