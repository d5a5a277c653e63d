//! Faults: what can go wrong (the kinds drawn into a schedule, and the internal events they
//! lead to) and the simulated network's state. `inject.rs` applies them to the world.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::rng::Rng;
use crate::engine::{Op, Time};

/// The kinds of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Power cut of a node; it boots again later.
    Crash,
    /// The agent alone freezes (a stopped or hung process); past its watchdog bound systemd
    /// kills it (its units run on) and starts it again.
    Pause,
    /// The whole machine pauses (agent, units and systemd: a paused VM, a frozen host) and
    /// resumes later with its clock jumped; the overdue watchdog kills the agent then.
    VmPause,
    /// Graceful stop of the agent; it starts again later, at times cut off from the others.
    Stop,
    /// The agent is killed (`kill -9`, or frozen until its watchdog kills it) and systemd
    /// restarts it shortly; its resources keep running meanwhile.
    Kill,
    /// The nodes split in two sides; the ping targets are on one of them.
    Partition,
    /// One node stops receiving from another.
    OneWay,
    /// Datagrams are lost at random.
    Loss,
    /// The next start of a resource fails.
    StartFail,
    /// A running unit dies.
    UnitDies,
    /// An operator moves a group, later clears the move.
    Move,
    /// A unit of a group is started by hand (or by a dependency, a timer) on a node that does
    /// not hold the group; a VIP is added by hand likewise.
    StrayStart,
    /// A running unit is restarted in place (`systemctl restart`, or systemd's `Restart=`).
    UnitRestart,
    /// The next stop of a resource fails, and it keeps running.
    StopFail,
    /// Stops on a node take up to the stop budget for a while.
    SlowStop,
    /// Fencing a node fails for a while (a BMC that does not answer).
    FenceFail,
    /// Someone on the network re-sends datagrams recorded earlier (of any node and run) to
    /// the nodes, for a while.
    Replay,
    /// A node loses power and comes back with its state directory gone: a new generation
    /// (possibly lower than its peers remember) and nothing known of its peers' runs.
    LostState,
    /// The nodes split in two sides that cannot hear each other, but all reach the ping
    /// targets (a switch between them fails, not the uplink).
    GatewaySplit,
    /// The link between two nodes fails both ways while every other link carries.
    LinkCut,
    /// The nodes split in three islands at once; the ping targets are in one of them.
    Islands,
    /// A node's datagrams arrive late, up to twice `dead_after`, for a while (a congested
    /// or bufferbloated path).
    Delay,
    /// A node's monotonic clock runs fast or slow (up to 1,000 ppm) from now on.
    Clock,
    /// The manifest changes (a group's settings: its nodes' order, `failback`) and the nodes
    /// reload it one by one, at different times, while their groups run.
    Reload,
    /// An operator puts the cluster, or one group, in maintenance and ends it later.
    Maintenance,
    /// The health check of a unit starts failing on the node running it (the unit runs but
    /// does not serve), until it heals, or, half the time, until the unit is started again.
    CheckFails,
    /// A tracked interface (`track_interface`) of a node loses its carrier for a while.
    CarrierDown,
    /// (internal) the operator ends maintenance.
    MaintenanceOff,
    /// (internal) a node reloads the manifest on its disk.
    ReloadNode,
    /// (internal) boot a node.
    Boot,
    /// (internal) a stray copy is up, or a restart in place moves on to its next stage.
    WorldStep {
        /// 0: a stray copy is up; 1: a restarted unit is starting again; 2: it is active.
        stage: u8,
    },
    /// (internal) end of a partition, cut or loss.
    Heal,
    /// (internal) end of every fault: all nodes up, network whole, failures cleared.
    HealAll,
    /// (internal) an operator clears every group's failures and moves.
    ClearAll,
    /// (internal) a fence unit acting on a node.
    Fence,
    /// (internal) the watchdog kills a frozen agent.
    Watchdog,
    /// (internal) a paused machine resumes.
    VmResume,
    /// (internal) a frozen agent resumes.
    Thaw,
    /// (internal) the agent process dies; its resources stay up.
    Die,
    /// (internal) a resource action completes.
    ResourceDone {
        /// Start or stop.
        op: Op,
        /// Whether it worked.
        ok: bool,
        /// The node's generation when it was issued.
        generation: u64,
        /// The node's power epoch when it was issued (a power cut stops the action too).
        epoch: u64,
    },
}

impl FaultKind {
    /// Every fault a schedule may draw.
    pub const ALL: [FaultKind; 27] = [
        FaultKind::Crash,
        FaultKind::Pause,
        FaultKind::VmPause,
        FaultKind::Stop,
        FaultKind::Kill,
        FaultKind::Partition,
        FaultKind::OneWay,
        FaultKind::Loss,
        FaultKind::StartFail,
        FaultKind::UnitDies,
        FaultKind::Move,
        FaultKind::StrayStart,
        FaultKind::UnitRestart,
        FaultKind::StopFail,
        FaultKind::SlowStop,
        FaultKind::FenceFail,
        FaultKind::Replay,
        FaultKind::LostState,
        FaultKind::GatewaySplit,
        FaultKind::LinkCut,
        FaultKind::Islands,
        FaultKind::Delay,
        FaultKind::Clock,
        FaultKind::Reload,
        FaultKind::Maintenance,
        FaultKind::CheckFails,
        FaultKind::CarrierDown,
    ];

    /// The kinds the manifest's safety settings claim to cover, drawn by default: all but the
    /// cuts that leave two nodes both reaching the ping targets, when a ping tie-breaker alone
    /// decides between two nodes (validation warns about that; name them to see it fail).
    pub fn covered(m: &crate::manifest::Manifest) -> Vec<FaultKind> {
        let blind = pings_decide(m);
        let checks = m
            .groups
            .values()
            .any(|g| g.resources.iter().any(|r| r.check.is_some()));
        FaultKind::ALL
            .into_iter()
            .filter(|k| !(blind && matches!(k, FaultKind::GatewaySplit | FaultKind::LinkCut)))
            .filter(|k| checks || *k != FaultKind::CheckFails)
            .filter(|k| !m.tracked_interfaces().is_empty() || *k != FaultKind::CarrierDown)
            .collect()
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Pause => "pause",
            FaultKind::VmPause => "vm-pause",
            FaultKind::Stop => "stop",
            FaultKind::Kill => "kill",
            FaultKind::Partition => "partition",
            FaultKind::OneWay => "one-way",
            FaultKind::Loss => "loss",
            FaultKind::StartFail => "start-fail",
            FaultKind::UnitDies => "unit-dies",
            FaultKind::Move => "move",
            FaultKind::StrayStart => "stray-start",
            FaultKind::UnitRestart => "unit-restart",
            FaultKind::StopFail => "stop-fail",
            FaultKind::SlowStop => "slow-stop",
            FaultKind::FenceFail => "fence-fail",
            FaultKind::Replay => "replay",
            FaultKind::LostState => "lost-state",
            FaultKind::GatewaySplit => "gateway-split",
            FaultKind::LinkCut => "link-cut",
            FaultKind::Islands => "islands",
            FaultKind::Delay => "delay",
            FaultKind::Clock => "clock",
            FaultKind::Reload => "reload",
            FaultKind::Maintenance => "maintenance",
            FaultKind::CheckFails => "check-fails",
            FaultKind::CarrierDown => "carrier-down",
            _ => "internal",
        }
    }

    /// The fault named `name`.
    pub fn parse(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One scheduled fault.
#[derive(Clone, Debug)]
pub struct Fault {
    /// When.
    pub at: Time,
    /// What.
    pub kind: FaultKind,
    /// The node it acts on.
    pub node: Option<String>,
    /// A second node (one-way cuts: the sender; fences: who asked).
    pub by: Option<String>,
    /// The group it acts on.
    pub group: Option<String>,
    /// Resource index.
    pub resource: usize,
    /// How long it lasts.
    pub lasts: Duration,
    /// Partition: the side with the ping targets (islands: the first island).
    pub side: BTreeSet<String>,
    /// Islands: the second island (the rest are the third).
    pub other: BTreeSet<String>,
    /// Loss probability in percent.
    pub percent: u8,
    /// Kill: how long the agent was frozen before its watchdog killed it (zero: `kill -9`).
    pub frozen: Duration,
    /// Text for results.
    pub detail: String,
}

impl Default for Fault {
    fn default() -> Fault {
        Fault {
            at: Time(0),
            kind: FaultKind::Heal,
            node: None,
            by: None,
            group: None,
            resource: 0,
            lasts: Duration::ZERO,
            side: BTreeSet::new(),
            other: BTreeSet::new(),
            percent: 0,
            frozen: Duration::ZERO,
            detail: String::new(),
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "t={}ms {}", self.at.0, self.kind.name())?;
        for (k, v) in [
            ("node", &self.node),
            ("from", &self.by),
            ("group", &self.group),
        ] {
            if let Some(v) = v {
                write!(f, " {k}={v}")?;
            }
        }
        if !self.side.is_empty() {
            write!(f, " side={:?}", self.side)?;
        }
        if !self.other.is_empty() {
            write!(f, " other={:?}", self.other)?;
        }
        if self.percent > 0 {
            write!(f, " loss={}%", self.percent)?;
        }
        if !self.frozen.is_zero() {
            write!(f, " frozen={}ms", self.frozen.as_millis())?;
        }
        if !self.lasts.is_zero() {
            write!(f, " for={}ms", self.lasts.as_millis())?;
        }
        Ok(())
    }
}

/// The network's faults now.
#[derive(Clone, Debug, Default)]
pub struct Net {
    /// While partitioned, each node's island (0 has the ping targets); nodes of different
    /// islands do not hear each other.
    pub(super) island: BTreeMap<String, u8>,
    pub(super) partitioned: bool,
    /// The partition leaves every island reaching the ping targets.
    pub(super) gateway: bool,
    /// (from, to) pairs that are cut.
    pub(super) cut: BTreeSet<(String, String)>,
    pub(super) loss: u8,
    /// Nodes that reach no ping target, whatever the partition.
    pub(super) no_ping: BTreeSet<String>,
    /// Nodes whose fence unit fails.
    pub(super) unfenceable: BTreeSet<String>,
    /// Nodes whose datagrams are delayed, by up to how many milliseconds more.
    pub(super) delayed: BTreeMap<String, u64>,
}

impl Net {
    /// Splits the nodes: `first` (with the ping targets), `second`, and the rest.
    pub(super) fn split(
        &mut self,
        names: &[String],
        first: &BTreeSet<String>,
        second: &BTreeSet<String>,
    ) {
        self.partitioned = true;
        self.island = names
            .iter()
            .map(|n| {
                let i = if first.contains(n) {
                    0
                } else if second.contains(n) || second.is_empty() {
                    1
                } else {
                    2
                };
                (n.clone(), i)
            })
            .collect();
    }

    /// Ends the partition.
    pub(super) fn join(&mut self) {
        self.partitioned = false;
        self.gateway = false;
        self.island.clear();
    }

    fn island(&self, node: &str) -> u8 {
        self.island.get(node).copied().unwrap_or(0)
    }

    /// Whether a datagram from `from` reaches `to`.
    pub fn passes(&self, from: &str, to: &str, rng: &mut Rng) -> bool {
        if self.partitioned && self.island(from) != self.island(to) {
            return false;
        }
        if self.cut.contains(&(from.to_owned(), to.to_owned())) {
            return false;
        }
        !(self.loss > 0 && rng.chance(f64::from(self.loss) / 100.0))
    }

    /// Whether `node` reaches the ping targets.
    pub fn reaches_targets(&self, node: &str) -> bool {
        !self.no_ping.contains(node)
            && (!self.partitioned || self.gateway || self.island(node) == 0)
    }
}

/// Whether stateful groups of `m` rest on a ping tie-breaker: two voters, no fencing.
pub(super) fn pings_decide(m: &crate::manifest::Manifest) -> bool {
    m.nodes.len() == 2
        && !m.fencing_required
        && m.quorum.tie_breaker == Some(crate::manifest::model::TieBreaker::Ping)
}
