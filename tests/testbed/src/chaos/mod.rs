//! A fault campaign on real hosts: a cluster of the bed's hosts running haagent, a nemesis
//! that throws random faults at it for minutes ([`nemesis`], [`faults`]), and a checker that
//! never asks the agent ([`watch`] records the hosts' kernels and cgroups and what a client
//! gets from each VIP; [`verdict`] judges the record). [`report`] writes the JSON and
//! [`svg`] the timeline picture.

pub mod faults;
pub mod global;
pub mod nemesis;
pub mod report;
pub mod rng;
pub mod setup;
pub mod svg;
pub mod verdict;
pub mod watch;

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use crate::Result;
use crate::cluster::{Cluster, Install};

/// How to run a campaign.
#[derive(Clone, Debug)]
pub struct Options {
    /// Number of hosts (2 or more).
    pub hosts: usize,
    /// How long the nemesis throws faults.
    pub duration: Duration,
    /// Seed of the fault schedule.
    pub seed: u64,
    /// Busy loops in every host.
    pub stress: bool,
    /// The deliberately unsafe manifest (two nodes, no tie-breaker, web kept on quorum loss).
    pub unsafe_mode: bool,
    /// The fault kinds to draw from (empty: every kind the mode allows).
    pub only: Vec<faults::Kind>,
    /// The manifest's default timers instead of the quick ones.
    pub default_timers: bool,
    /// The bed's name prefix.
    pub prefix: String,
    /// The bed's subnet: `10.98.SUBNET.0/24`.
    pub subnet: u8,
    /// The binaries and units to install.
    pub install: Install,
}

impl Options {
    /// The heartbeat timers of the campaign's manifest.
    pub fn timers(&self) -> setup::Timers {
        if self.default_timers {
            setup::Timers::DEFAULT
        } else {
            setup::Timers::QUICK
        }
    }
}

/// A campaign's outcome.
pub struct Outcome {
    /// The options it ran with.
    pub options: Options,
    /// What the checker recorded.
    pub timeline: watch::Timeline,
    /// What the nemesis did.
    pub history: nemesis::History,
    /// The checker's judgement.
    pub verdict: verdict::Verdict,
    /// What the bed's teardown left behind (should be nothing).
    pub leftovers: Vec<String>,
}

/// How long to watch after the last heal for the cluster to settle: at least 12 s, and what
/// the timers need.
fn settle(o: &Options) -> Duration {
    Duration::from_millis(o.timers().settle().max(12_000))
}

/// Runs a campaign: boot, settle, faults for `duration`, heal, settle, judge, tear down.
pub fn run(o: &Options) -> Result<Outcome> {
    let cfg = setup::config(o)?;
    let mut c = Cluster::up(cfg, o.install.clone(), |bed| setup::manifest(o, bed))?;
    let manifest = setup::manifest(o, &c.bed);
    let names: Vec<String> = (0..o.hosts).map(faults::node).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    c.start(&refs)?;
    let subnet = c.bed.config().subnet;
    let cgroups = watch::cgroups(&o.prefix, o.hosts);
    let vips = [setup::vip(subnet, 0), setup::vip(subnet, 1)];
    c.wait_for(
        "web and edge placed",
        Duration::from_secs(30) + Duration::from_millis(o.timers().initial),
        &[setup::WEB_UNIT],
        || {
            let seen: Vec<_> = cgroups
                .iter()
                .map(|cg| watch::host_seen(cg, &vips))
                .collect();
            let count = |f: &dyn Fn(&watch::HostSeen) -> bool| seen.iter().filter(|s| f(s)).count();
            count(&|s| s.unit) == 1
                && count(&|s| s.vips & 1 != 0) == 1
                && count(&|s| s.vips & 2 != 0) == 1
        },
    )?;
    let t0 = Instant::now();
    let targets = vec![
        SocketAddrV4::new(vips[0], setup::WEB_PORT),
        SocketAddrV4::new(vips[1], setup::EDGE_PORT),
    ];
    let watch = watch::Watch::start(t0, cgroups, targets, &c.bed.client_netns())?;
    let history = nemesis::run(&mut c, o, &manifest, t0, t0 + o.duration);
    std::thread::sleep(settle(o));
    let timeline = watch.finish()?;
    let verdict = verdict::judge(&timeline, &history.faults, history.last_heal_ms, o.timers());
    let leftovers = c.bed.down();
    Ok(Outcome {
        options: o.clone(),
        timeline,
        history,
        verdict,
        leftovers,
    })
}
