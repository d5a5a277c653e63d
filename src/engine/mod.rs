//! The decision engine: pure and deterministic. [`Engine::handle`] takes the current time and
//! one [`Input`] and returns the [`Action`]s the drivers must carry out; [`Engine::next_deadline`]
//! says when to call it again with [`Input::Tick`]. No clock reads, no I/O, no randomness, so a
//! run is reproduced exactly from its inputs (see `sim`).
//!
//! Inside: [`membership`] (who is alive), [`election`] (quorum and who should own each group),
//! [`runner`] (starting and stopping a group's resources here), [`intents`] (operator commands
//! gossiped cluster-wide). This file holds the state and routes inputs; `inputs.rs` handles
//! each kind of input, `gossip.rs` builds the datagrams, `quorum.rs` counts votes, `adopt.rs`
//! takes over what an earlier run of this node left running, and `decide.rs` applies the
//! ownership rule with its safety conditions (handoff, fencing, `wait_for_all`).

mod adopt;
mod blocked;
pub mod checks;
mod decide;
pub mod drift;
pub mod election;
mod gossip;
mod inputs;
pub mod intents;
mod maintenance;
pub mod membership;
mod observe;
mod pause;
mod peer_runs;
mod quorum;
mod refresh;
mod restart;
pub mod runner;
pub mod runs;
pub mod snapshot;
pub mod strays;
mod track;
pub mod types;

use std::collections::{BTreeMap, BTreeSet};

pub use types::{
    Action, Active, AddrSeen, Command, Event, EventKind, Input, JobKind, Notify, Op, Previous,
    Probe, ResourceRef, Time, UnitSeen,
};

use crate::manifest::Manifest;
use crate::protocol::wire::Kind;
use crate::protocol::{DropCounts, ReplayGuard};
use intents::Intents;
use membership::Membership;
use runner::Runner;

/// Fencing of one dead peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fence {
    /// The fence unit runs.
    Pending,
    /// It failed; tried again from then on.
    Failed {
        /// When to try again.
        retry_at: Time,
    },
    /// It succeeded: the peer is off.
    Done,
}

/// One node's engine.
pub struct Engine {
    me: String,
    /// Shared so that a decision can walk the groups while changing the engine.
    m: std::sync::Arc<Manifest>,
    /// The ids of the keys this node holds, newest first (the secrets stay with the drivers).
    key_ids: Vec<u8>,
    /// The manifest's digest, carried by every datagram so peers notice a different manifest.
    digest: u64,
    /// Each group's digest (`drift.rs`).
    group_digests: BTreeMap<String, u32>,
    /// Peers whose manifest differs, with the groups they define otherwise, as last logged.
    drifted: BTreeMap<String, BTreeSet<String>>,
    generation: u64,
    seq: u64,
    members: Membership,
    /// Replay protection per link (and, inside, per sender): the same datagram travels every
    /// link.
    replay: BTreeMap<String, ReplayGuard>,
    drops: DropCounts,
    runners: BTreeMap<String, Runner>,
    /// Groups removed or changed by a reload, stopping with their old definition.
    retiring: BTreeMap<String, (std::sync::Arc<crate::manifest::model::Group>, Runner)>,
    /// The groups in force, shared: a report about one resource takes its group without
    /// copying it (a copy of a thousand resources per report made starting a thousand VIPs
    /// quadratic).
    shared: BTreeMap<String, std::sync::Arc<crate::manifest::model::Group>>,
    failed_until: BTreeMap<String, Time>,
    intents: Intents,
    /// Lamport clock of operator intents.
    clock: u64,
    connectivity: u16,
    /// Since when every ping round reached a target.
    ping_ok_since: Option<Time>,
    /// A ping round has reported since start-up.
    pinged: bool,
    quorate: bool,
    quorate_since: Option<Time>,
    /// Peers that heard this run and were heard by it, at least once (`wait_for_all`).
    in_touch_once: BTreeSet<String>,
    wfa_override: bool,
    fences: BTreeMap<String, Fence>,
    /// (sequence, time) of the datagrams sent lately.
    sent_at: std::collections::VecDeque<(u64, Time)>,
    /// Groups this node claims, with the sequence number of the datagram that first said so.
    claims: BTreeMap<String, u64>,
    /// When this engine started.
    booted: Time,
    /// Groups found running at start-up and kept through the start-up grace (`adopt.rs`).
    adopted: BTreeSet<String>,
    /// When the earlier run's quorum would have lapsed, if bounded: no grace outlasts it.
    proof_lapses: Option<Time>,
    refresh: refresh::Refresh,
    /// Groups blocked here after a failed stop: when to try again, and how many tries so far.
    retries: BTreeMap<String, (Time, u32)>,
    /// (group, node) an operator unblocked, and when this node learned it.
    unblocked: BTreeMap<(String, String), Time>,
    /// What was last saved of the peers' runs, and when the next save may be.
    saved_runs: Vec<(String, runs::Runs)>,
    save_runs_at: Time,
    /// What systemd last said of each managed unit on this node.
    units_seen: BTreeMap<String, UnitSeen>,
    /// Stray copies seen here lately, for status.
    strays: strays::StrayLog,
    /// The VIPs of the cluster present on this node (address, interface), as the address
    /// monitor last said: what maintenance's end reconciles with.
    vips_seen: BTreeSet<(std::net::IpAddr, String)>,
    /// When each group's units were restarted in place lately (`restart.rs`).
    restarts: BTreeMap<String, restart::Restarts>,
    /// The groups in maintenance as of the last decision (`maintenance.rs`).
    in_maintenance: BTreeSet<String>,
    /// The resources that have a health check, and each check's count here (`checks.rs`).
    checked: Vec<ResourceRef>,
    checks: BTreeMap<ResourceRef, checks::CheckRun>,
    check_seq: u64,
    /// Tracked interfaces without a carrier (`track.rs`).
    carrier_down: BTreeSet<String>,
    /// When each pending start was asked for, to measure how long starts take here.
    starting_since: BTreeMap<ResourceRef, Time>,
    /// The longest start of each resource measured here.
    start_took: BTreeMap<ResourceRef, std::time::Duration>,
    next_send: Time,
    /// The time of the input being handled, or of the last one.
    now: Time,
    ready: bool,
    shutting_down: bool,
    exited: bool,
    status: String,
}

impl Engine {
    /// An engine for node `me` of `m`, starting at `now`. `generation` must grow at every start
    /// of this node (the driver keeps it in the state directory). What an earlier run left
    /// running here is reported with [`Input::Probed`] before anything else. `key_ids` are the
    /// ids of the keys the drivers hold, newest first.
    pub fn new(now: Time, me: &str, m: Manifest, key_ids: Vec<u8>, generation: u64) -> Engine {
        let digest = digest(&m);
        let group_digests = drift::group_digests(&m);
        let peers = m.nodes.keys().filter(|n| *n != me).cloned();
        let runners = m
            .groups
            .iter()
            .map(|(n, g)| (n.clone(), Runner::idle(g)))
            .collect();
        let shared = share(&m);
        let checked = checks::checked(shared.iter());
        Engine {
            me: me.to_owned(),
            members: Membership::new(now, peers),
            m: std::sync::Arc::new(m),
            key_ids,
            digest,
            group_digests,
            drifted: BTreeMap::new(),
            generation,
            // Sequence numbers grow across restarts too, so an acknowledgement names a datagram
            // of this run and never one of an earlier run (generations are below 2^32: the
            // driver's are Unix seconds).
            // Generations are below 2^32 (`agent::setup`); a larger one is cut, never shifted
            // out of range.
            seq: (generation & 0xffff_ffff) << 32,
            replay: BTreeMap::new(),
            drops: DropCounts::default(),
            runners,
            retiring: BTreeMap::new(),
            shared,
            failed_until: BTreeMap::new(),
            intents: Intents::default(),
            clock: 0,
            connectivity: 0,
            ping_ok_since: None,
            pinged: false,
            quorate: false,
            quorate_since: None,
            in_touch_once: BTreeSet::new(),
            wfa_override: false,
            fences: BTreeMap::new(),
            claims: BTreeMap::new(),
            booted: now,
            adopted: BTreeSet::new(),
            proof_lapses: None,
            sent_at: std::collections::VecDeque::new(),
            refresh: refresh::Refresh::default(),
            retries: BTreeMap::new(),
            unblocked: BTreeMap::new(),
            saved_runs: Vec::new(),
            save_runs_at: now,
            units_seen: BTreeMap::new(),
            strays: strays::StrayLog::default(),
            vips_seen: BTreeSet::new(),
            in_maintenance: BTreeSet::new(),
            restarts: BTreeMap::new(),
            checked,
            checks: BTreeMap::new(),
            check_seq: 0,
            carrier_down: BTreeSet::new(),
            starting_since: BTreeMap::new(),
            start_took: BTreeMap::new(),
            next_send: now,
            now,
            ready: false,
            shutting_down: false,
            exited: false,
            status: String::new(),
        }
    }

    /// This node's name.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The manifest in force.
    pub fn manifest(&self) -> &Manifest {
        &self.m
    }

    /// Dropped datagrams by reason.
    pub fn drops(&self) -> &DropCounts {
        &self.drops
    }

    /// The peers.
    pub fn members(&self) -> &Membership {
        &self.members
    }

    /// Whether this node has quorum.
    pub fn quorate(&self) -> bool {
        self.quorate
    }

    /// This node's runner of each group.
    pub fn runners(&self) -> &BTreeMap<String, Runner> {
        &self.runners
    }

    /// Whether `node` is in standby, by the operator intents this node knows.
    pub fn standby(&self, node: &str) -> bool {
        self.intents.standby(node)
    }

    /// Ping targets this node reached in the last round.
    pub fn connectivity(&self) -> u16 {
        self.connectivity
    }

    /// The status line last sent to systemd.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// Handles one input at time `now`.
    pub fn handle(&mut self, now: Time, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        if self.exited {
            return out;
        }
        self.now = self.now.max(now);
        match input {
            Input::Heard { link, datagram } => {
                if !self.receive(now, &link, datagram, &mut out)
                    && self.next_deadline().is_some_and(|t| t > now)
                {
                    // A replay, or a copy of a datagram handled already: nothing to decide anew.
                    if !out.is_empty() {
                        self.update_status(&mut out);
                    }
                    return out;
                }
            }
            Input::Tick => {}
            Input::Probed(probe) => self.probed(now, probe, &mut out),
            Input::Unit(seen) => self.unit_seen(now, seen, &mut out),
            Input::Addr(seen) => self.addr_seen(now, &seen, &mut out),
            Input::Done {
                res,
                op,
                ok,
                detail,
            } => self.done(now, &res, op, ok, &detail, &mut out),
            Input::Checked {
                res,
                seq,
                ok,
                detail,
            } => self.checked_result(now, &res, seq, ok, &detail, &mut out),
            Input::Carrier { interface, up } => self.carrier(&interface, up),
            Input::Fenced { node, ok } => self.fenced(now, &node, ok, &mut out),
            Input::Ping { reachable } => {
                self.connectivity = reachable;
                self.pinged = true;
                if reachable == 0 {
                    self.ping_ok_since = None;
                } else if self.ping_ok_since.is_none() {
                    self.ping_ok_since = Some(now);
                }
            }
            Input::Control(cmd) => self.command(cmd, &mut out),
            Input::Reload(m) => self.reload(*m, &mut out),
            Input::Keys { ids } => self.key_ids = ids,
            Input::Paused { ms } => self.resumed(now, ms, &mut out),
            Input::Shutdown => {
                if !self.shutting_down {
                    self.shutting_down = true;
                    out.push(Action::Notify(Notify::Stopping));
                }
            }
        }
        self.tick(now, &mut out);
        for a in &out {
            if let Action::AddVip { res, .. }
            | Action::StartUnit { res, .. }
            | Action::RestartUnit { res, .. } = a
            {
                self.starting_since.insert(res.clone(), now);
            }
        }
        out
    }

    /// When to call [`Engine::handle`] with [`Input::Tick`] next.
    pub fn next_deadline(&self) -> Option<Time> {
        if self.exited {
            return None;
        }
        let mut next = Some(self.next_send);
        let mut consider = |t: Option<Time>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Time| n.min(t)));
            }
        };
        consider(self.members.next_deadline(&self.m.heartbeat));
        self.failed_until.values().for_each(|t| consider(Some(*t)));
        consider(self.refresh.next());
        consider(self.next_check());
        // Quorum changes by time alone too: a peer's acknowledgement or start-up grace runs
        // out, the ping targets have been reached long enough, a hold-off ends.
        let t = &self.m.heartbeat;
        let tick = std::time::Duration::from_millis(1);
        let now = self.now;
        let mut later = |at: Option<Time>| consider(at.filter(|at| *at > now));
        // A failed fence is tried again only while a takeover still needs it, a failed stop's
        // retry once the retry under way failed: once their time has passed they are no
        // deadline (a past one would make the loop spin).
        self.retries.values().for_each(|(t, _)| later(Some(*t)));
        for f in self.fences.values() {
            if let Fence::Failed { retry_at } = f {
                later(Some(*retry_at));
            }
        }
        let (window, lease) = (self.proof_window() + tick, self.lease() + tick);
        for p in self.members.peers().values() {
            let acked = self.acked_at(p);
            later(acked.map(|a| a.plus(window)));
            later(acked.map(|a| a.plus(lease)));
            later(p.alive_since.map(|a| a.plus(t.warn_after + tick)));
            later(p.born_at.map(|a| a.plus(t.warn_after + tick)));
        }
        later(self.ping_ok_since.map(|a| a.plus(t.dead_after)));
        later(self.quorate_since.map(|a| a.plus(t.dead_after)));
        later((!self.adopted.is_empty()).then(|| self.grace_end()));
        next
    }

    /// Whether maintenance is on for the whole cluster (`None`) or for this group on its own.
    pub fn maintenance_of(&self, group: Option<&str>) -> bool {
        self.intents.maintenance_of(group)
    }

    /// Whether `group` is in maintenance here.
    pub fn in_maintenance(&self, group: &str) -> bool {
        self.intents.maintenance(group)
    }

    /// This run's generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The digest of the manifest in force.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    pub(super) fn event(&self, kind: EventKind, group: Option<&str>, reason: String) -> Action {
        Action::Log(Event {
            kind,
            node: Some(self.me.clone()),
            group: group.map(str::to_owned),
            reason,
        })
    }
}

/// Every group of `m`, shared.
fn share(m: &Manifest) -> BTreeMap<String, std::sync::Arc<crate::manifest::model::Group>> {
    m.groups
        .iter()
        .map(|(n, g)| (n.clone(), std::sync::Arc::new(g.clone())))
        .collect()
}

/// A manifest's digest: the first eight bytes of the SHA-256 of its JSON form.
pub fn digest(m: &Manifest) -> u64 {
    use sha2::Digest as _;
    let json = serde_json::to_vec(m).unwrap_or_default();
    let sum = sha2::Sha256::digest(&json);
    let mut first = [0u8; 8];
    first.copy_from_slice(&sum[..8]);
    u64::from_be_bytes(first)
}
