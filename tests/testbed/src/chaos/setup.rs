//! The campaign's cluster: the bed's configuration, the units every host runs (the echo
//! servers the client asks, and the busy loops of `--stress`) and the manifest: a stateful
//! group `web` (a VIP and the echo unit bound to it) and a VIP-only group `edge`.

use std::net::Ipv4Addr;

use super::Options;
use crate::{Config, TestBed};

/// Port of the web group's echo unit on its VIP.
pub const WEB_PORT: u16 = 8080;
/// Port of the echo server every host runs on any address, answering on the edge VIP.
pub const EDGE_PORT: u16 = 8081;
/// The stateful group's unit.
pub const WEB_UNIT: &str = "web.service";
/// The groups, in the order the checker indexes them.
pub const GROUPS: [&str; 2] = ["web", "edge"];

/// The heartbeat timers of a campaign, in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// Between heartbeats.
    pub interval: u64,
    /// A peer late.
    pub warn: u64,
    /// A peer silent this long is dead.
    pub dead: u64,
    /// How long a booting node waits for its peers.
    pub initial: u64,
}

impl Timers {
    /// The end-to-end tests' quick timers (dead after 1.5 s), the default of a campaign.
    pub const QUICK: Timers = Timers {
        interval: 250,
        warn: 500,
        dead: 1500,
        initial: 3000,
    };
    /// The manifest's defaults (`--default-timers`: no timer in the manifest).
    pub const DEFAULT: Timers = Timers {
        interval: 500,
        warn: 1750,
        dead: 3000,
        initial: 6000,
    };

    /// How long after a fault something is still its doing: a boot's `initial_dead`, a dead
    /// window and 2 s.
    pub fn settle(self) -> u64 {
        self.initial + self.dead + 2000
    }
}

/// The VIP of group `g` (index in [`GROUPS`]).
pub fn vip(bed_subnet: [u8; 3], g: usize) -> Ipv4Addr {
    let [a, b, c] = bed_subnet;
    Ipv4Addr::new(a, b, c, 50 + g as u8)
}

/// The bed: hosts `h1`..`hN`, the web unit (started by the agent only), an echo server on
/// any address at boot (it answers for the edge VIP wherever it is), and under `--stress` a
/// busy loop per host, so that with two or more hosts both cores are saturated.
pub fn config(o: &Options) -> crate::Result<Config> {
    let subnet = [10, 98, o.subnet];
    let web = crate::echo::unit(WEB_PORT, vip(subnet, 0))?;
    let edge = crate::echo::unit(EDGE_PORT, Ipv4Addr::UNSPECIFIED)?;
    let mut cfg = Config::new(&o.prefix, subnet, o.hosts)
        .unit(WEB_UNIT, &web, false)
        .unit("tb-edge-echo.service", &edge, true);
    if o.stress {
        let burn = "[Unit]\nDescription=busy loop (chaos --stress)\n\n[Service]\nExecStart=/bin/sh -c 'while :; do :; done'\n";
        cfg = cfg.unit("tb-burn.service", burn, true);
    }
    Ok(cfg)
}

/// The manifest. Safe mode: three or more nodes decide by majority; two nodes use the
/// client as ping tie-breaker (the only two-node set-up without fencing the validator
/// accepts). Unsafe mode: two nodes, no tie-breaker, and the web group kept on quorum loss,
/// so a cut between them runs it on both.
pub fn manifest(o: &Options, bed: &TestBed) -> String {
    let names: Vec<String> = (1..=o.hosts).map(|i| format!("h{i}")).collect();
    let mut text = format!(
        "cluster: chaos\nnodes:\n{}heartbeat:\n{}  links:\n    - transport: unicast\n      interface: eth0\nauth:\n  key_file: /etc/haagent/authkey\n",
        names
            .iter()
            .map(|n| format!("  {n}: {{ address: {} }}\n", bed.ip(n)))
            .collect::<String>(),
        timers_yaml(o),
    );
    if o.hosts == 2 && !o.unsafe_mode {
        text.push_str("quorum:\n  two_node:\n    tie_breaker: ping\n");
    }
    let keep = if o.unsafe_mode {
        "    stateful: false\n    on_quorum_loss: keep\n"
    } else {
        ""
    };
    let mut edge_nodes = names.clone();
    edge_nodes.reverse();
    text.push_str(&format!(
        "connectivity:\n  ping: [{}]\n  interval: 500ms\ngroups:\n  web:\n    nodes: [{}]\n    failback: false\n{keep}    resources:\n      - vip: {}/24\n        interface: eth0\n      - unit: {WEB_UNIT}\n  edge:\n    nodes: [{}]\n    failback: false\n    resources:\n      - vip: {}/24\n        interface: eth0\n",
        bed.client_ip(),
        names.join(", "),
        vip(bed.config().subnet, 0),
        edge_nodes.join(", "),
        vip(bed.config().subnet, 1),
    ));
    text
}

/// The manifest's timer lines: none with `--default-timers` (the manifest's defaults apply).
fn timers_yaml(o: &Options) -> String {
    if o.default_timers {
        return String::new();
    }
    let t = Timers::QUICK;
    format!(
        "  interval: {}ms\n  warn_after: {}ms\n  dead_after: {}ms\n  initial_dead: {}ms\n",
        t.interval, t.warn, t.dead, t.initial
    )
}
