//! The systems under test and how one run of each goes: boot a fresh two-node bed, start the
//! system, wait until alpha serves the VIP, then cut alpha's power or stop its daemon while the
//! client probes, and read the longest gap.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use haagent_testbed::cluster::{Cluster, Install, wait_for};
use haagent_testbed::probe::Mode;
use haagent_testbed::{Config, Probe, TestBed};

use super::{Row, Timers, heartbeat, idle, keepalived};

/// The echo service's port on the VIP.
pub const PORT: u16 = 8080;
const VIP_LAST: u8 = 50;

/// A system and its mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    /// haagent moving a VIP and starting the service unit.
    HaagentUnit,
    /// haagent moving only the VIP; the service runs on both nodes.
    HaagentVip,
    /// keepalived (VRRP) moving the VIP; the service runs on both nodes.
    Keepalived,
    /// Heartbeat (haresources) moving the VIP; the service runs on both nodes.
    Heartbeat,
}

/// Every system, in table order.
pub const ALL: &[System] = &[
    System::HaagentUnit,
    System::HaagentVip,
    System::Keepalived,
    System::Heartbeat,
];

impl System {
    /// Its name in the table.
    pub fn name(self) -> &'static str {
        match self {
            System::HaagentUnit => "haagent (VIP + unit)",
            System::HaagentVip => "haagent (VIP only)",
            System::Keepalived => "keepalived 2.2.7 (VRRP)",
            System::Heartbeat => "Heartbeat 3.0.6 (haresources)",
        }
    }

    /// The daemon's unit in the hosts.
    pub fn unit(self) -> &'static str {
        match self {
            System::Keepalived => keepalived::UNIT,
            System::Heartbeat => heartbeat::UNIT,
            _ => "haagent.service",
        }
    }
}

/// The VIP of a bed.
pub fn vip(bed: &TestBed) -> Ipv4Addr {
    bed.subnet_addr(VIP_LAST)
}

/// The benchmark's manifest: two nodes, ping tie-breaker on the client.
fn manifest(bed: &TestBed, t: Timers, with_unit: bool) -> String {
    format!(
        "cluster: bench\nnodes:\n  alpha: {{ address: {a} }}\n  beta: {{ address: {b} }}\nheartbeat:\n  interval: {}ms\n  warn_after: {}ms\n  dead_after: {}ms\n  initial_dead: {}ms\n  links:\n    - transport: unicast\n      interface: eth0\nauth:\n  key_file: /etc/haagent/authkey\nquorum:\n  two_node:\n    tie_breaker: ping\nconnectivity:\n  ping: [{c}]\n  interval: 500ms\ngroups:\n  web:\n    nodes: [alpha, beta]\n    resources:\n      - vip: {vip}/24\n        interface: eth0\n{unit}",
        t.interval_ms,
        t.warn_ms,
        t.dead_ms,
        t.dead_ms.max(2000),
        a = bed.ip("alpha"),
        b = bed.ip("beta"),
        c = bed.client_ip(),
        vip = vip(bed),
        unit = if with_unit {
            "      - unit: web.service\n"
        } else {
            ""
        },
    )
}

/// A fresh bed running `system`, with alpha serving the VIP.
fn setup(system: System, t: Timers, install: &Install) -> Result<Cluster, String> {
    setup_in(system, t, install, "bn", 30)
}

/// [`setup`] with the bed's netns prefix and subnet (10.98.`subnet`.0/24).
pub fn setup_in(
    system: System,
    t: Timers,
    install: &Install,
    prefix: &str,
    subnet: u8,
) -> Result<Cluster, String> {
    let cfg = Config::new(prefix, [10, 98, subnet], 2).named(&["alpha", "beta"]);
    let vip = Ipv4Addr::new(10, 98, subnet, VIP_LAST);
    // The native echo server: its start-up takes well under a millisecond, so what the client
    // sees is the failover, not the service's own start.
    let echo = haagent_testbed::echo::unit(PORT, vip)?;
    let cfg = cfg.unit("web.service", &echo, false);
    let c = Cluster::up(cfg, install.clone(), |bed| {
        manifest(bed, t, system == System::HaagentUnit)
    })?;
    if system != System::HaagentUnit {
        for n in ["alpha", "beta"] {
            c.sh(n, "systemctl start web.service")?;
        }
    }
    match system {
        System::Keepalived => keepalived::start(&c, t)?,
        System::Heartbeat => heartbeat::start(&c, t)?,
        _ => c.start(&["alpha", "beta"])?,
    }
    let up = wait_for("alpha to serve the VIP", Duration::from_secs(20), || {
        c.vip_holders(vip) == ["alpha"]
    });
    if let Err(e) = up {
        let unit = system.unit();
        let log = c.sh("alpha", &format!("systemctl status --no-pager {unit}; journalctl --no-pager -n 30 -u {unit}; tail -n 30 /run/ha-log")).unwrap_or_else(|e| e);
        return Err(format!("{e}\n{log}"));
    }
    Ok(c)
}

/// One failover while the client probes: `fail` makes alpha go away; returns the longest gap.
fn failover(
    c: &mut Cluster,
    fail: impl FnOnce(&mut Cluster) -> Result<(), String>,
) -> Result<Duration, String> {
    let target = SocketAddrV4::new(vip(&c.bed), PORT);
    let p = Probe::start(
        &c.bed.client_netns(),
        target,
        Mode::Udp,
        Duration::from_millis(2),
    )?;
    std::thread::sleep(Duration::from_millis(300));
    fail(c)?;
    let vip = vip(&c.bed);
    wait_for("beta to serve the VIP", Duration::from_secs(15), || {
        c.vip_holders(vip) == ["beta"]
    })?;
    std::thread::sleep(Duration::from_millis(300));
    let r = p.stop()?;
    if r.last_host.as_deref() != Some("beta") {
        return Err(format!(
            "the client did not end up on beta: {:?}",
            r.by_host
        ));
    }
    Ok(r.longest_gap)
}

/// Every run of one system at one setting.
pub fn measure(system: System, t: Timers, runs: usize, install: &Install) -> Result<Row, String> {
    let mut row = Row {
        timers: t.label(),
        system: system.name(),
        crash: Vec::new(),
        planned: Vec::new(),
        idle: idle::Idle::default(),
    };
    for i in 0..runs {
        let mut c = setup(system, t, install)?;
        if i == 0 {
            row.idle = idle::measure(&c, "alpha", system.unit(), Duration::from_secs(10))?;
        }
        row.crash.push(failover(&mut c, |c| c.bed.kill("alpha"))?);
        drop(c);
        let mut c = setup(system, t, install)?;
        let stop = format!("systemctl stop {}", system.unit());
        row.planned
            .push(failover(&mut c, |c| c.sh("alpha", &stop).map(drop))?);
        eprintln!(
            "   run {}: crash {:?}, planned {:?}",
            i + 1,
            row.crash[i],
            row.planned[i]
        );
    }
    Ok(row)
}
