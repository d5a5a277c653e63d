//! What goes into the engine and what comes out: inputs, actions, events and the time type.
//! All derive serde: the daemon records every input with its time (the flight recorder) and
//! `haagentctl replay` feeds a recording to a fresh engine, which must emit the same actions.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::manifest::Manifest;
use crate::manifest::model::Vip;
use crate::protocol::wire::Datagram;

/// A point on the driver's monotonic clock, in milliseconds. The engine never reads a clock.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Time(pub u64);

impl Time {
    /// This time plus `d`.
    pub fn plus(self, d: Duration) -> Time {
        Time(self.0.saturating_add(d.as_millis() as u64))
    }

    /// Time elapsed since `earlier` (zero if it is later).
    pub fn since(self, earlier: Time) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// Start or stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Start (add a VIP, start a unit).
    Start,
    /// Stop (remove a VIP, stop a unit).
    Stop,
}

/// An operator command, issued on this node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Run `group` on `to` (planned move), until cleared.
    Failover {
        /// The group.
        group: String,
        /// The node.
        to: String,
    },
    /// Forget moves and failures of `group`.
    Clear {
        /// The group.
        group: String,
    },
    /// Put `node` in standby or take it out.
    Standby {
        /// The node.
        node: String,
        /// On or off.
        on: bool,
    },
    /// Maintenance of `group`, or of the whole cluster (`None`), on or off.
    Maintenance {
        /// The group, or the whole cluster.
        group: Option<String>,
        /// On or off.
        on: bool,
    },
    /// Start stateful groups without having seen every node once (`wait_for_all`).
    OverrideWaitForAll,
    /// An operator checked by hand that `group` no longer runs on `node`, where a stop failed.
    Unblock {
        /// The group.
        group: String,
        /// The node.
        node: String,
    },
}

/// One resource of a group: the group's name and the resource's index in its `resources`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceRef {
    /// Group.
    pub group: String,
    /// Index in the group's resources.
    pub index: usize,
}

impl ResourceRef {
    /// Resource `index` of `group`.
    pub fn new(group: &str, index: usize) -> ResourceRef {
        ResourceRef {
            group: group.to_owned(),
            index,
        }
    }
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.group, self.index)
    }
}

/// A unit's `ActiveState`, as systemd reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Active {
    /// `active` (or `reloading`): it runs.
    Active,
    /// `activating`: a start is under way, or systemd's `Restart=` is about to start it again.
    Activating,
    /// `deactivating`: it is being stopped.
    Deactivating,
    /// `inactive`: not running.
    Inactive,
    /// `failed`: not running, after a failure.
    Failed,
    /// A state this agent does not know (`maintenance`, `refreshing`, ...): taken as running.
    Other,
    /// `inactive` or `failed` by systemd's word, but processes remain in the unit's control
    /// group (a stop that gave up without SIGKILL: `SendSIGKILL=no`, `KillMode=none`): they
    /// run, whatever the state says.
    Leftover,
}

impl Active {
    /// Reads systemd's word.
    pub fn parse(word: &str) -> Active {
        match word {
            "active" | "reloading" => Active::Active,
            "activating" => Active::Activating,
            "deactivating" => Active::Deactivating,
            "inactive" => Active::Inactive,
            "failed" => Active::Failed,
            _ => Active::Other,
        }
    }

    /// Whether processes of the unit may run (everything but `inactive` and `failed`).
    pub fn running(self) -> bool {
        !matches!(self, Active::Inactive | Active::Failed)
    }
}

/// The kind of a job queued for a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// `start` (also `verify-active`).
    Start,
    /// `stop`.
    Stop,
    /// `restart`, `try-restart`, `reload-or-start`: the unit comes back.
    Restart,
    /// `reload` and anything else.
    Other,
}

impl JobKind {
    /// Reads systemd's `JobType`.
    pub fn parse(word: &str) -> JobKind {
        match word {
            "start" | "verify-active" => JobKind::Start,
            "stop" => JobKind::Stop,
            "restart" | "try-restart" | "reload-or-start" => JobKind::Restart,
            _ => JobKind::Other,
        }
    }
}

/// What systemd says of a unit on this node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitSeen {
    /// The unit.
    pub unit: String,
    /// Its `ActiveState`.
    pub active: Active,
    /// Its `SubState` (for the journal).
    pub sub: String,
    /// The job queued for it, if any.
    pub job: Option<JobKind>,
    /// What started it, as far as systemd says (its `InvocationID`, the triggering unit of a
    /// timer or path): read when the unit runs, for the journal; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// An address of the cluster's VIPs on an interface of this node, present or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrSeen {
    /// The address.
    pub addr: std::net::IpAddr,
    /// The interface it is on (or was removed from).
    pub interface: String,
    /// Present (added) or absent (removed).
    pub present: bool,
}

/// What the agent finds at start-up, before anything else: what an earlier run may have left.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// Every managed unit that systemd knows, with its state.
    pub units: Vec<UnitSeen>,
    /// Every VIP of the cluster present on this node.
    pub addrs: Vec<AddrSeen>,
    /// The earlier run's last checkpoint since the machine booted, if any.
    #[serde(default)]
    pub previous: Option<Previous>,
    /// What earlier runs of this node saved of their peers' runs (the state directory).
    #[serde(default)]
    pub peers: Vec<(String, crate::engine::runs::Runs)>,
}

/// What an earlier run of the agent on this machine last said it held, and how long ago.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    /// Milliseconds since it said so (boot clock).
    pub ago_ms: u64,
    /// The groups it ran then.
    pub holding: Vec<String>,
    /// How much longer its quorum stood then without a new acknowledgement from peers
    /// (`None`: not bounded by acknowledgements, no peer counted).
    #[serde(default)]
    pub stands_ms: Option<u64>,
    /// The maintenance intents it knew: a restart in maintenance leaves alone what it finds.
    #[serde(default)]
    pub maintenance: Vec<crate::protocol::wire::Intent>,
}

/// Something that happened, for the engine to decide on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// An authenticated datagram of a node of the cluster arrived on a link (the link driver
    /// checked its MAC; malformed and forged ones never reach the engine).
    Heard {
        /// Link name.
        link: String,
        /// The datagram.
        datagram: Datagram,
    },
    /// The deadline the engine asked for was reached (or any time passed).
    Tick,
    /// What is up on this node at start-up (left by an earlier run), as the first input.
    Probed(Probe),
    /// A managed unit changed state on this node (whoever changed it).
    Unit(UnitSeen),
    /// A VIP address of the cluster appeared on, or vanished from, an interface of this node.
    Addr(AddrSeen),
    /// A resource action finished.
    Done {
        /// The resource.
        res: ResourceRef,
        /// What was done.
        op: Op,
        /// Whether it worked.
        ok: bool,
        /// Why not, or what happened.
        detail: String,
    },
    /// A health check's run ended (asked for by [`Action::RunCheck`]).
    Checked {
        /// The resource checked.
        res: ResourceRef,
        /// The run, as the action numbered it.
        seq: u64,
        /// Whether it passed.
        ok: bool,
        /// Why not.
        detail: String,
    },
    /// The carrier of an interface a VIP tracks (`track_interface`) came or went; reported
    /// at start-up too.
    Carrier {
        /// The interface.
        interface: String,
        /// Whether it has a carrier.
        up: bool,
    },
    /// A fence unit finished.
    Fenced {
        /// The node fenced.
        node: String,
        /// Whether it worked.
        ok: bool,
    },
    /// Ping targets reached in the last round.
    Ping {
        /// How many answered.
        reachable: u16,
    },
    /// An operator command.
    Control(Command),
    /// A new, validated manifest (reload).
    Reload(Box<Manifest>),
    /// The agent did not run for `ms` milliseconds more than it planned to (a paused machine, a
    /// frozen process): peers may have moved on meanwhile.
    Paused {
        /// How long beyond its planned wake-up.
        ms: u64,
    },
    /// The key ids this node holds, the first being the newest (at start and after a reload of
    /// the key file); the secrets stay with the drivers.
    Keys {
        /// Key ids, newest first.
        ids: Vec<u8>,
    },
    /// Stop everything and leave the cluster.
    Shutdown,
}

/// Something the drivers must do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Encode `datagram` in format `version`, sign it with key `key` and send it on a link (to
    /// every peer's address on it, its multicast group or broadcast address).
    Send {
        /// Link name.
        link: String,
        /// The datagram.
        datagram: Datagram,
        /// The id of the key to sign with.
        key: u8,
        /// The format version to send it in (the newest every live peer accepts).
        version: u8,
    },
    /// Add a VIP; report with `Input::Done`.
    AddVip {
        /// The resource.
        res: ResourceRef,
        /// The VIP.
        vip: Vip,
    },
    /// Remove a VIP; report with `Input::Done`.
    RemoveVip {
        /// The resource.
        res: ResourceRef,
        /// The VIP.
        vip: Vip,
    },
    /// Send a burst of gratuitous ARP / unsolicited NA for a held VIP.
    Announce {
        /// The resource.
        res: ResourceRef,
        /// The VIP (its `announce` says how many and how fast).
        vip: Vip,
    },
    /// Start a unit; report with `Input::Done`.
    StartUnit {
        /// The resource.
        res: ResourceRef,
        /// The unit.
        unit: String,
    },
    /// Stop a unit; report with `Input::Done`.
    StopUnit {
        /// The resource.
        res: ResourceRef,
        /// The unit.
        unit: String,
    },
    /// Restart a unit that runs (its health check failed); report with `Input::Done` as a
    /// start.
    RestartUnit {
        /// The resource.
        res: ResourceRef,
        /// The unit.
        unit: String,
    },
    /// Run a health check once, within its timeout; report with `Input::Checked`.
    RunCheck {
        /// The resource checked.
        res: ResourceRef,
        /// The run's number, to give back.
        seq: u64,
        /// The check.
        check: crate::manifest::model::Check,
    },
    /// Start a fence unit against a node; report with `Input::Fenced`.
    Fence {
        /// The node.
        node: String,
        /// The unit.
        unit: String,
    },
    /// Tell systemd: ready, status text, stopping.
    Notify(Notify),
    /// A structured log event.
    Log(Event),
    /// Remember what this run holds, with the time, where a restarted agent finds it (the
    /// daemon keeps it in its runtime directory): a restart adopts only what was held lately.
    Checkpoint {
        /// The groups running here.
        holding: Vec<String>,
        /// How much longer this run's quorum stands without a new acknowledgement (`None`:
        /// not bounded by acknowledgements); a restart's grace never outlasts it.
        stands_ms: Option<u64>,
        /// The maintenance intents this node knows (`maintenance.rs`).
        #[serde(default)]
        maintenance: Vec<crate::protocol::wire::Intent>,
    },
    /// Save what this node knows of its peers' runs in the state directory, so that its next
    /// start drops recordings of them as it would now (`runs.rs`).
    SavePeers(Vec<(String, crate::engine::runs::Runs)>),
    /// Everything is released and peers were told: the process may exit.
    Exit,
}

/// A message for systemd.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notify {
    /// READY=1.
    Ready,
    /// STATUS=...
    Status(String),
    /// STOPPING=1.
    Stopping,
}

/// What happened, for the journal: one kind per `HAAGENT_EVENT` value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Event kind.
    pub kind: EventKind,
    /// Node concerned, if any.
    pub node: Option<String>,
    /// Group concerned, if any.
    pub group: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// Event kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A peer's heartbeats arrive.
    PeerUp,
    /// A peer's heartbeat is late (`warn_after`).
    PeerLate,
    /// A peer is dead (`dead_after`).
    PeerDead,
    /// A peer left gracefully.
    PeerLeft,
    /// A link to a peer carries heartbeats again.
    LinkUp,
    /// A link to a live peer stopped carrying heartbeats.
    LinkDown,
    /// This node gained quorum.
    QuorumGained,
    /// This node lost quorum.
    QuorumLost,
    /// This node starts a group.
    Acquire,
    /// This node stops a group.
    Release,
    /// A group is up here.
    Running,
    /// A group released here is down: every resource stopped (the release itself is logged
    /// when decided, with its reason).
    Released,
    /// A resource failed here.
    ResourceFailed,
    /// A fence unit was started or finished.
    Fence,
    /// An operator command was applied.
    Operator,
    /// A datagram was dropped.
    Dropped,
    /// A resource of a group came up on a node that does not hold the group.
    Stray,
}
