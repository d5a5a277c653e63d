//! A deterministic simulation of a whole cluster: one [`Engine`] per node, a simulated network
//! (delay, loss, duplication, reordering, partitions, one-way cuts), simulated resources that
//! take time and can fail, and faults (crash, pause, graceful stop, a killed agent whose
//! resources keep running, operator moves) drawn from a seed. Invariants are checked at every
//! step; the same seed replays the same run.
//!
//! Files: `faults.rs` names the faults, `schedule.rs` draws them, `inject.rs` applies them,
//! `world.rs` carries out what
//! the engines ask (network, resources, the agents' lives), `report.rs` checks invariants
//! and measures failover gaps, `rng.rs` is the generator.

mod checks;
mod clock;
mod faults;
mod inject;
mod maintenance;
pub mod replay;
mod report;
pub mod rng;
mod schedule;
pub mod script;
mod world;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub use faults::{Fault, FaultKind};
pub use report::{GroupStats, RunResult, Summary, Violation};

use crate::auth::KeyRing;
use crate::engine::{Engine, Input, Op, Time};
use crate::manifest::Manifest;
use rng::Rng;

/// How a simulation runs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed: everything random comes from it.
    pub seed: u64,
    /// Kinds of fault to draw from.
    pub faults: Vec<FaultKind>,
    /// How long faults are injected, after the cluster first settles.
    pub fault_phase: Duration,
    /// How long a resource start or stop takes: from, to (ms).
    pub resource_ms: (u64, u64),
    /// How long a fence unit takes (ms).
    pub fence_ms: u64,
    /// An ideal network (every datagram arrives after 1 ms, none lost, doubled or late):
    /// scripted scenarios, whose timing is asserted.
    pub ideal_net: bool,
    /// Keep every action of every node in [`World::log`] (scripted scenarios).
    pub record: bool,
}

impl SimConfig {
    /// Defaults for a manifest: faults during 12 × `dead_after`, resources 10-50 ms.
    pub fn new(m: &Manifest, seed: u64) -> SimConfig {
        SimConfig {
            seed,
            faults: FaultKind::ALL.to_vec(),
            fault_phase: m.heartbeat.dead_after * 12,
            resource_ms: (10, 50),
            fence_ms: 200,
            ideal_net: false,
            record: false,
        }
    }
}

/// A node of the simulation.
/// A checkpoint as the agent writes it: when, the groups held, how long quorum stood, and the
/// maintenance intents known.
type Checkpoint = (
    Time,
    Vec<String>,
    Option<u64>,
    Vec<crate::protocol::wire::Intent>,
);

struct Node {
    engine: Option<Engine>,
    generation: u64,
    frozen_until: Option<Time>,
    held_inputs: Vec<Input>,
    /// Resources that may be running (start issued, stop not finished): what overlap counts.
    active: BTreeSet<(String, usize)>,
    /// Resources that are up.
    up: BTreeSet<(String, usize)>,
    /// Resource actions in flight.
    pending: BTreeMap<(String, usize), Op>,
    /// Grows at every power cut: actions in flight before it never complete.
    epoch: u64,
    fail_next_start: BTreeSet<(String, usize)>,
    /// The next stop of these, until the time given, fails and leaves them running.
    fail_next_stop: BTreeMap<(String, usize), Time>,
    /// Until when stops here take up to the whole stop budget.
    slow_stops_until: Option<Time>,
    /// Resources whose start by hand is under way (no agent's job replaced it yet).
    hand_started: BTreeSet<(String, usize)>,
    /// Since when each stray copy (started by hand where its group does not run) has run, until
    /// it is down or an agent starts it as its own.
    stray_since: BTreeMap<(String, usize), Time>,
    /// Units being restarted in place.
    restarting: BTreeSet<(String, usize)>,
    /// Units whose health check fails here, each with whether a (re)start heals it.
    check_failing: BTreeMap<(String, usize), bool>,
    /// Tracked interfaces without a carrier here.
    carrier_down: BTreeSet<String>,
    /// When the running engine booted.
    booted_at: Option<Time>,
    /// Since when the agent runs and is not frozen (it can act on what it sees).
    awake_since: Option<Time>,
    /// The machine is on (a power cut turns it off until it boots).
    powered: bool,
    /// The whole machine is paused (or resumed with its watchdog about to fire).
    vm_paused: bool,
    /// When the machine last resumed from a pause, and when it was paused.
    resumed_at: Option<Time>,
    paused_at: Option<Time>,
    /// The generation in the node's state directory.
    state_gen: u64,
    /// The state directory is lost: the next boot starts from this generation and knows
    /// nothing of its peers' runs.
    lost_state: Option<u64>,
    /// What the agent last saved of its peers' runs (its state directory).
    saved_runs: Vec<(String, crate::engine::runs::Runs)>,
    /// The agent's last checkpoint (its runtime directory, gone at a power cut).
    checkpoint: Option<Checkpoint>,
    /// The pending wake-up, if any.
    wake_at: Option<Time>,
    /// The engine's deadline (world time), as computed after its last input.
    deadline: Option<Time>,
    /// The node's own clock, which its engine reads.
    clock: clock::Clock,
}

/// Something scheduled.
#[derive(Clone, Debug)]
enum Ev {
    Deliver {
        to: String,
        link: String,
        bytes: Vec<u8>,
    },
    Input {
        to: String,
        generation: u64,
        input: Input,
    },
    /// What a node's drivers see (a unit's state, an address), for whichever agent runs there.
    Observe {
        to: String,
        input: Input,
    },
    Wake {
        to: String,
    },
    Ping,
    Fault(Fault),
}

/// The simulated world: the nodes, their agents and resources, the network between them, and
/// what happens to them (drawn from a seed by [`run`], or scripted: see `script.rs`).
pub struct World {
    m: Manifest,
    /// The manifest on the nodes' disks: what a booting agent reads and a reload brings; it
    /// differs from `m` in group settings only (the resources stay, as the world models them).
    target: Manifest,
    /// Each node's key ring (its drivers sign and check with it).
    keys: BTreeMap<String, KeyRing>,
    cfg: SimConfig,
    now: Time,
    rng: Rng,
    queue: BTreeMap<(Time, u64), Ev>,
    next_id: u64,
    nodes: BTreeMap<String, Node>,
    net: faults::Net,
    report: report::Tracker,
    /// The fault phase is over: a node that finishes stopping boots again at once.
    healed: bool,
    /// The maintenance scopes the operator has on (`None`: the cluster).
    maintenance: std::collections::BTreeSet<Option<String>>,
    /// Groups whose copies are the operator's to answer for (`maintenance.rs`).
    exempt: BTreeMap<String, maintenance::Exempt>,
    /// Some resource changed state since the invariants were last checked.
    changed: bool,
    /// The last fault that leaves marks (failures, moves, stops).
    disturbed_at: Option<Time>,
    /// The last fault of any kind (its start, end or a node coming back).
    shaken_at: Option<Time>,
    /// Every action of every node, when [`SimConfig::record`] is on.
    pub log: Vec<script::Rec>,
    /// Datagrams each node's link driver dropped (forged, malformed, unknown key).
    drops: BTreeMap<String, crate::protocol::DropCounts>,
    /// The names on the wire, read back.
    names: crate::protocol::wire::Names,
    /// Datagrams recorded off the wire, for `replay` (link, bytes).
    recorded: Vec<(String, Vec<u8>)>,
    /// Each node's link drivers' pages in part, per link.
    pages: BTreeMap<(String, String), crate::protocol::wire::pages::Assembler>,
}

/// Runs one seed of the simulation of `m`.
pub fn run(m: &Manifest, cfg: SimConfig) -> RunResult {
    let mut w = World::new(m.clone(), cfg);
    w.run()
}

impl World {
    fn new(m: Manifest, cfg: SimConfig) -> World {
        // Heartbeats are authenticated in the simulation too; the key is fixed, not secret.
        let ring = KeyRing::parse(script::KEY).expect("fixed key");
        let keys = m.nodes.keys().map(|n| (n.clone(), ring.clone())).collect();
        let mut nodes: BTreeMap<String, Node> = m
            .nodes
            .keys()
            .map(|n| {
                let node = Node {
                    engine: None,
                    generation: 0,
                    frozen_until: None,
                    held_inputs: Vec::new(),
                    active: BTreeSet::new(),
                    up: BTreeSet::new(),
                    pending: BTreeMap::new(),
                    epoch: 0,
                    fail_next_start: BTreeSet::new(),
                    fail_next_stop: BTreeMap::new(),
                    slow_stops_until: None,
                    hand_started: BTreeSet::new(),
                    stray_since: BTreeMap::new(),
                    restarting: BTreeSet::new(),
                    check_failing: BTreeMap::new(),
                    carrier_down: BTreeSet::new(),
                    booted_at: None,
                    awake_since: None,
                    powered: false,
                    checkpoint: None,
                    saved_runs: Vec::new(),
                    state_gen: 0,
                    lost_state: None,
                    vm_paused: false,
                    resumed_at: None,
                    paused_at: None,
                    wake_at: None,
                    deadline: None,
                    clock: clock::Clock::default(),
                };
                (n.clone(), node)
            })
            .collect();
        let report = report::Tracker::new(&m);
        let names = crate::protocol::wire::Names::of(&m);
        let mut rng = Rng::new(cfg.seed);
        // Generations as a fresh install draws them (`agent::setup`), so a lost state directory
        // may come back lower as well as higher.
        for n in nodes.values_mut() {
            n.state_gen = (1 << 31) + rng.range(0, 1 << 20);
        }
        World {
            rng,
            net: faults::Net::default(),
            target: m.clone(),
            m,
            keys,
            cfg,
            now: Time(0),
            queue: BTreeMap::new(),
            next_id: 0,
            nodes,
            report,
            healed: false,
            maintenance: std::collections::BTreeSet::new(),
            exempt: BTreeMap::new(),
            changed: true,
            disturbed_at: None,
            shaken_at: None,
            log: Vec::new(),
            drops: BTreeMap::new(),
            names,
            recorded: Vec::new(),
            pages: BTreeMap::new(),
        }
    }

    fn at(&mut self, t: Time, ev: Ev) {
        self.next_id += 1;
        self.queue.insert((t, self.next_id), ev);
    }

    fn run(&mut self) -> RunResult {
        let t = self.m.heartbeat.clone();
        let names: Vec<String> = self.nodes.keys().cloned().collect();
        for (i, n) in names.iter().enumerate() {
            // Nodes boot a little apart, as real ones do.
            let at = Time(i as u64 * self.rng.range(0, t.interval.as_millis() as u64));
            self.at(
                at,
                Ev::Fault(Fault {
                    at,
                    kind: FaultKind::Boot,
                    node: Some(n.clone()),
                    ..Fault::default()
                }),
            );
        }
        if !self.m.connectivity.ping.is_empty() {
            self.at(Time(0), Ev::Ping);
        }
        let settle = t.initial_dead + t.dead_after * 2;
        let heal_at = Time(0).plus(settle + self.cfg.fault_phase);
        let schedule = schedule::draw(
            &mut self.rng,
            &self.m,
            &self.cfg,
            Time(0).plus(settle),
            heal_at,
        );
        for f in &schedule {
            self.at(f.at, Ev::Fault(f.clone()));
        }
        self.at(
            heal_at,
            Ev::Fault(Fault {
                at: heal_at,
                kind: FaultKind::HealAll,
                ..Fault::default()
            }),
        );
        // Actions in flight at the heal may still end in a failure mark (a slow stop, a stop
        // that failed and waits for its retry): clear them once more after they are done.
        let reclear = heal_at.plus(self.resource_budget() + self.retry_cap() + t.interval * 2);
        self.at(
            reclear,
            Ev::Fault(Fault {
                at: reclear,
                kind: FaultKind::ClearAll,
                ..Fault::default()
            }),
        );
        let bound = t.initial_dead.max(t.dead_after)
            + t.interval * 2
            + self.resource_budget()
            + Duration::from_millis(self.cfg.fence_ms);
        let check_at = reclear.plus(bound);
        let end = check_at.plus(t.dead_after * 5);
        self.report.schedule = schedule;
        self.report.settled_at = Time(0).plus(settle);
        self.report.stable_from = check_at;
        let mut checked = false;
        while let Some(((time, _), ev)) = self.queue.pop_first() {
            if time > end || self.report.violation.is_some() {
                break;
            }
            if !checked && time > check_at {
                checked = true;
                self.now = check_at;
                self.report.check_converged(check_at, &self.owners());
            }
            self.now = time;
            self.event(ev);
            self.check_now();
        }
        self.report.finish(self.cfg.seed, self.now)
    }

    /// Checks the invariants after an event, if the world changed.
    fn check_now(&mut self) {
        self.forget_adopted_strays();
        if let Some(what) = self.strays_outlived() {
            self.report.violate(self.now, what);
        }
        let actives = self.actives();
        self.update_exempt(&actives);
        if self.changed {
            self.changed = false;
            let owners = self.owners();
            // A group in maintenance, or just out of it, may run twice: the operator's doing.
            let actives = actives
                .into_iter()
                .map(|(g, mut a)| {
                    if self.exempt(&g).is_some() {
                        a.truncate(1);
                    }
                    (g, a)
                })
                .collect();
            self.report.observe(self.now, &self.m, &owners, &actives);
        }
    }

    /// The longest a stop may take for the timers to keep a stateful group from running twice
    /// when its node is cut off: half the margin between a peer marking it late and taking
    /// over (the watchdog bound; the other half is the time to notice).
    fn stop_budget(&self) -> Duration {
        self.m.heartbeat.watchdog()
    }

    /// Time to start or stop every resource of the largest group, one after the other (stops
    /// at their slowest).
    pub(super) fn resource_budget(&self) -> Duration {
        let most = self
            .m
            .groups
            .values()
            .map(|g| g.resources.len())
            .max()
            .unwrap_or(0) as u32;
        let slowest_stop = self
            .stop_budget()
            .max(Duration::from_millis(self.cfg.resource_ms.1));
        (Duration::from_millis(self.cfg.resource_ms.1) + slowest_stop) * most
    }

    /// The longest wait before a failed stop is tried again (see `engine/blocked.rs`).
    fn retry_cap(&self) -> Duration {
        (self.m.heartbeat.dead_after * 4).max(Duration::from_secs(1))
    }

    fn event(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver { to, link, bytes } => self.deliver(&to, link, &bytes),
            Ev::Observe { to, input } => self.input(&to, input, false),
            Ev::Input {
                to,
                generation,
                input,
            } => {
                if self
                    .nodes
                    .get(&to)
                    .is_some_and(|n| n.generation == generation)
                {
                    self.input(&to, input, false);
                }
            }
            Ev::Wake { to } => {
                let now = self.now;
                let Some(node) = self.nodes.get_mut(&to) else {
                    return;
                };
                if node.wake_at == Some(now) {
                    node.wake_at = None;
                }
                // The engine changes only through its inputs: its deadline is as last computed.
                let deadline = node.engine.as_ref().and(node.deadline);
                match deadline {
                    Some(d) if d <= now => self.input(&to, Input::Tick, true),
                    Some(d) => self.arm_wake(&to, d),
                    None => {}
                }
            }
            Ev::Ping => self.ping(),
            Ev::Fault(f) => self.fault(f),
        }
    }

    /// Feeds an input to a node's engine; a frozen node drops datagrams and ticks and keeps
    /// other inputs for when it wakes.
    fn input(&mut self, name: &str, input: Input, droppable: bool) {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(name) else {
            return;
        };
        if node.engine.is_none() {
            return;
        }
        if node.frozen_until.is_some_and(|t| t > now) {
            if !droppable {
                node.held_inputs.push(input);
            }
            return;
        }
        let local = node.clock.local(now);
        let actions = node
            .engine
            .as_mut()
            .map(|e| e.handle(local, input))
            .unwrap_or_default();
        self.apply(name, actions);
        self.schedule_wake(name);
    }

    /// Schedules the node's next deadline, unless a wake-up at or before it is pending already.
    fn schedule_wake(&mut self, name: &str) {
        let Some(node) = self.nodes.get_mut(name) else {
            return;
        };
        let clock = node.clock;
        node.deadline = node
            .engine
            .as_ref()
            .and_then(Engine::next_deadline)
            .map(|t| clock.world(t));
        if let Some(t) = node.deadline {
            self.arm_wake(name, t);
        }
    }

    /// Wakes the node at its deadline `t`, unless a wake-up at or before it is pending already.
    fn arm_wake(&mut self, name: &str, t: Time) {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(name) else {
            return;
        };
        let t = if t <= now {
            now.plus(Duration::from_millis(1))
        } else {
            t
        };
        if node.wake_at.is_some_and(|w| w <= t && w > now) {
            return;
        }
        node.wake_at = Some(t);
        self.at(
            t,
            Ev::Wake {
                to: name.to_owned(),
            },
        );
    }
}

#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod tests;

/// Runs seeds `seeds` of `m` with the fault kinds `faults` on every core and sums them up.
pub fn simulate(m: &Manifest, seeds: std::ops::Range<u64>, faults: &[FaultKind]) -> Summary {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(1) as u64;
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let seeds = seeds.clone();
                s.spawn(move || {
                    seeds
                        .filter(|seed| seed % threads == t)
                        .map(|seed| {
                            let mut cfg = SimConfig::new(m, seed);
                            cfg.faults = faults.to_vec();
                            run(m, cfg)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a simulation thread panicked"))
            .collect::<Vec<_>>()
    });
    Summary::of(results)
}
