//! End to end on real hosts: the real `haagent` binary installed as the real unit in systemd
//! hosts on the test bed, a client asking the VIP, and faults a user would meet. Each test has
//! its own prefix and subnet, so tests run side by side.
//!
//! Shared here: the cluster every test starts from (a web group of a VIP and an echo unit
//! bound to it, ping tie-breaker on the client) and the checks every test makes.

mod access;
mod chaos;
mod control;
mod drift;
mod faults;
mod fencing;
mod flood;
mod health;
mod in_place;
mod keys;
mod links;
mod maintenance;
mod manifest_file;
mod network;
mod package;
mod process;
mod production;
mod recorder;
mod safety;
mod scale;
mod scrape;
mod service;
mod stray;
mod units;
mod upgrade;
mod vip;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::time::{Duration, Instant};

use haagent_testbed::cluster::{self, Cluster, Install};
use haagent_testbed::probe::Mode;
use haagent_testbed::{Config, Probe, ProbeReport, TestBed};

/// Port of the echo service on the VIP.
pub const PORT: u16 = 8080;
/// Last octet of the VIP.
pub const VIP_LAST: u8 = 50;

/// Heartbeat timers of a test cluster.
#[derive(Clone, Copy)]
pub struct Timers {
    pub interval_ms: u64,
    pub warn_ms: u64,
    pub dead_ms: u64,
    pub initial_ms: u64,
}

/// Quick timers: dead after 1.5 s; the watchdog bound is 500 ms.
pub const QUICK: Timers = Timers {
    interval_ms: 250,
    warn_ms: 500,
    dead_ms: 1500,
    initial_ms: 3000,
};

/// What varies between test clusters.
pub struct Spec<'a> {
    pub prefix: &'a str,
    pub subnet: u8,
    pub nodes: &'a [&'a str],
    pub timers: Timers,
    /// Extra YAML appended under `groups:` (other groups), indented by four spaces.
    pub more_groups: &'a str,
    pub failback: bool,
    /// Extra YAML for the `web` group's own settings, indented by four spaces.
    pub web_extra: &'a str,
}

impl Spec<'_> {
    /// A two-node spec with quick timers.
    pub fn two(prefix: &str, subnet: u8) -> Spec<'_> {
        Spec {
            prefix,
            subnet,
            nodes: &["alpha", "beta"],
            timers: QUICK,
            more_groups: "",
            failback: true,
            web_extra: "",
        }
    }
}

/// `haagentctl ARGS` on `node`, which must succeed: its standard output.
pub fn ctl_stdout(c: &Cluster, node: &str, args: &[&str]) -> String {
    let out = c.ctl(node, args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "haagentctl {args:?} on {node}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The MainPID of `unit` on `node` (0 when it runs no process, or systemd did not answer).
pub fn main_pid(c: &Cluster, node: &str, unit: &str) -> u32 {
    c.sh(node, &format!("systemctl show -P MainPID {unit}"))
        .map_or(0, |out| out.trim().parse().unwrap_or(0))
}

/// The VIP of a bed.
pub fn vip(bed: &TestBed) -> Ipv4Addr {
    bed.subnet_addr(VIP_LAST)
}

/// The manifest of a spec on its bed.
pub fn manifest(spec: &Spec, bed: &TestBed) -> String {
    let t = spec.timers;
    let mut text = format!(
        "cluster: e2e\nnodes:\n{}heartbeat:\n  interval: {}ms\n  warn_after: {}ms\n  dead_after: {}ms\n  initial_dead: {}ms\n  links:\n    - transport: unicast\n      interface: eth0\nauth:\n  key_file: /etc/haagent/authkey\n",
        spec.nodes
            .iter()
            .map(|n| format!("  {n}: {{ address: {} }}\n", bed.ip(n)))
            .collect::<String>(),
        t.interval_ms,
        t.warn_ms,
        t.dead_ms,
        t.initial_ms
    );
    if spec.nodes.len() == 2 {
        text.push_str("quorum:\n  two_node:\n    tie_breaker: ping\n");
    }
    text.push_str(&format!(
        "connectivity:\n  ping: [{}]\n  interval: 500ms\ngroups:\n  web:\n    nodes: [{}]\n    failback: {}\n{}    resources:\n      - vip: {}/24\n        interface: eth0\n      - unit: web.service\n{}",
        bed.client_ip(),
        spec.nodes.join(", "),
        spec.failback,
        spec.web_extra,
        vip(bed),
        spec.more_groups
    ));
    text
}

/// The web unit: the native echo server on the VIP, which starts within a millisecond, so
/// the gaps measured are the agent's.
fn echo_unit(vip: Ipv4Addr) -> String {
    haagent_testbed::echo::unit(PORT, vip).unwrap_or_else(|e| panic!("cannot build tb-echo: {e}"))
}

/// Whether the test bed can run here; if not, says why: loudly (a failure) under CI, as a
/// skip elsewhere.
pub fn can_run(cfg: &Config) -> bool {
    let Err(why) = haagent_testbed::preflight::check(cfg) else {
        return true;
    };
    if std::env::var_os("CI").is_some() {
        panic!("the end-to-end test bed cannot run here: {why}");
    }
    eprintln!("SKIPPED (not under CI): the test bed cannot run here: {why}");
    false
}

/// What the tests install: the binaries of this test run and the repository's units.
pub fn install() -> Install {
    let bins = Path::new(env!("CARGO_BIN_EXE_haagent"))
        .parent()
        .expect("binaries live in a directory")
        .to_path_buf();
    Install {
        bins,
        units: cluster::repo_units(),
    }
}

/// Boots `cfg` with haagent and `manifest` installed (not started), or skips (see [`can_run`]).
pub fn cluster_of(cfg: Config, manifest: impl Fn(&TestBed) -> String) -> Option<Cluster> {
    cluster_from(cfg, install, manifest)
}

/// Boots `cfg` with what `install` gives (asked only when the bed can run) and `manifest`
/// installed, not started; or skips (see [`can_run`]).
pub fn cluster_from(
    cfg: Config,
    install: impl FnOnce() -> Install,
    manifest: impl Fn(&TestBed) -> String,
) -> Option<Cluster> {
    if !can_run(&cfg) {
        return None;
    }
    // The share is taken before `install`, which may build the previous release (two cores
    // for a minute or more): a flood or a timed switchover must not run beside that build.
    super::sharing_the_machine();
    let install = install();
    Some(
        Cluster::up(cfg, install, manifest)
            .unwrap_or_else(|e| panic!("cluster failed to start: {e}")),
    )
}

/// Boots the spec's cluster with haagent installed (not started), or skips.
pub fn cluster(spec: &Spec) -> Option<Cluster> {
    let vip = Ipv4Addr::new(10, 98, spec.subnet, VIP_LAST);
    let cfg = Config::new(spec.prefix, [10, 98, spec.subnet], spec.nodes.len())
        .named(spec.nodes)
        .unit("web.service", &echo_unit(vip), false);
    cluster_of(cfg, |bed| manifest(spec, bed))
}

/// Starts the agents on all nodes and waits for the web group on `home`.
pub fn start_on(c: &Cluster, nodes: &[&str], home: &str) {
    c.start(nodes).unwrap();
    wait_holder(c, home, Duration::from_secs(20));
}

/// Waits until `node` alone holds the VIP and the web unit; on a timeout, fails with the
/// status and last journal lines of the agent and the web unit on every running node.
pub fn wait_holder(c: &Cluster, node: &str, timeout: Duration) -> Duration {
    let vip = vip(&c.bed);
    let web = "web.service";
    c.wait_for(&format!("web on {node} alone"), timeout, &[web], || {
        c.vip_holders(vip) == [node] && c.unit_holders(web) == [node]
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Every running node's agent journal, for failure messages.
pub fn journals(c: &Cluster) -> String {
    c.bed
        .hosts()
        .iter()
        .filter(|h| h.pid().is_some())
        .map(|h| format!("--- {} ---\n{}", h.name(), c.journal(h.name())))
        .collect()
}

/// Starts a UDP probe of the VIP every 5 ms from the client.
pub fn probe(c: &Cluster) -> Probe {
    let target = SocketAddrV4::new(vip(&c.bed), PORT);
    Probe::start(
        &c.bed.client_netns(),
        target,
        Mode::Udp,
        Duration::from_millis(5),
    )
    .unwrap()
}

/// Watches who holds the VIP and the unit until `for_` has passed, and fails the test if two
/// nodes ever hold either at once. Returns the distinct holder sequence seen.
pub fn never_twice(c: &Cluster, for_: Duration) -> Vec<String> {
    let vip = vip(&c.bed);
    let started = Instant::now();
    let mut seen: Vec<String> = Vec::new();
    while started.elapsed() < for_ {
        let (vips, units) = (c.vip_holders(vip), c.unit_holders("web.service"));
        assert!(
            vips.len() <= 1 && units.len() <= 1,
            "two holders at once: VIP on {vips:?}, web.service on {units:?}\n{}",
            journals(c)
        );
        if let Some(h) = units.first().or(vips.first())
            && seen.last() != Some(h)
        {
            seen.push(h.clone());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    seen
}

/// A probe's report, in words for assertion messages.
pub fn said(r: &ProbeReport) -> String {
    format!(
        "longest gap {:?}, {} of {} answered, by {:?}",
        r.longest_gap, r.answered, r.sent, r.by_host
    )
}
