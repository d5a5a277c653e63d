//! What goes into the engine and what comes out: inputs, actions, events and the time type.
//! All derive serde, so a run can be recorded as JSON lines and replayed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::manifest::Manifest;
use crate::manifest::model::Vip;

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
    /// Start stateful groups without having seen every node once (`wait_for_all`).
    OverrideWaitForAll,
}

/// One resource of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    /// Group.
    pub group: String,
    /// Resource index in the group.
    pub resource: usize,
}

/// Something that happened, for the engine to decide on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// A datagram arrived on a link.
    Datagram {
        /// Link name.
        link: String,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// The deadline the engine asked for was reached (or any time passed).
    Tick,
    /// What is up on this node at start-up (left by an earlier run), as the first input.
    Found {
        /// The resources found up (a VIP present, a unit active).
        resources: Vec<ResourceRef>,
    },
    /// A resource action finished.
    Done {
        /// Group.
        group: String,
        /// Resource index in the group.
        resource: usize,
        /// What was done.
        op: Op,
        /// Whether it worked.
        ok: bool,
        /// Why not, or what happened.
        detail: String,
    },
    /// A resource went down on its own (a unit failed or was stopped, a VIP vanished).
    Lost {
        /// Group.
        group: String,
        /// Resource index in the group.
        resource: usize,
        /// What was seen.
        detail: String,
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
    /// Stop everything and leave the cluster.
    Shutdown,
}

/// Something the drivers must do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send a datagram on a link (to every peer's address, group or broadcast address).
    Send {
        /// Link name.
        link: String,
        /// The datagram.
        bytes: Vec<u8>,
    },
    /// Add a VIP; report with `Input::Done`.
    AddVip {
        /// Group.
        group: String,
        /// Resource index.
        resource: usize,
        /// The VIP.
        vip: Vip,
    },
    /// Remove a VIP; report with `Input::Done`.
    RemoveVip {
        /// Group.
        group: String,
        /// Resource index.
        resource: usize,
        /// The VIP.
        vip: Vip,
    },
    /// Send a burst of gratuitous ARP / unsolicited NA for a held VIP.
    Announce {
        /// Group.
        group: String,
        /// Resource index.
        resource: usize,
        /// The VIP (its `announce` says how many and how fast).
        vip: Vip,
    },
    /// Start a unit; report with `Input::Done`.
    StartUnit {
        /// Group.
        group: String,
        /// Resource index.
        resource: usize,
        /// The unit.
        unit: String,
    },
    /// Stop a unit; report with `Input::Done`.
    StopUnit {
        /// Group.
        group: String,
        /// Resource index.
        resource: usize,
        /// The unit.
        unit: String,
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
    /// A resource failed here.
    ResourceFailed,
    /// A fence unit was started or finished.
    Fence,
    /// An operator command was applied.
    Operator,
    /// A datagram was dropped.
    Dropped,
}
