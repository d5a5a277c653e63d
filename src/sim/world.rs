//! What the simulated world does: carries out a node's actions (datagrams over the faulty
//! network, resource actions that take time, fence units), pings, and the life of a node's
//! agent (boot with a probe of what is up, power cut, kill).

use std::collections::BTreeMap;
use std::time::Duration;

use super::faults::{Fault, FaultKind};
use super::inject;
use super::rng::Rng;
use super::{Ev, World};
use crate::engine::{
    Action, Active, AddrSeen, Engine, EventKind, Input, JobKind, Op, Probe, ResourceRef, UnitSeen,
};
use crate::manifest::model::ResourceKind;
use crate::protocol::wire::{self, Datagram};

/// Datagrams an attacker keeps to re-send.
const REPLAYS: usize = 256;

impl World {
    pub(super) fn apply(&mut self, name: &str, actions: Vec<Action>) {
        let generation = self.nodes[name].generation;
        if self.cfg.record {
            let at = self.now;
            self.log.extend(actions.iter().map(|a| super::script::Rec {
                at,
                node: name.to_owned(),
                action: a.clone(),
            }));
        }
        for a in actions {
            match a {
                Action::Send {
                    link,
                    datagram,
                    key,
                    version,
                } => self.send(name, &link, &datagram, key, version),
                Action::AddVip { res, .. }
                | Action::StartUnit { res, .. }
                | Action::RestartUnit { res, .. } => {
                    self.resource(name, generation, res, Op::Start);
                }
                Action::RemoveVip { res, .. } | Action::StopUnit { res, .. } => {
                    self.resource(name, generation, res, Op::Stop);
                }
                Action::Fence { node, .. } => {
                    let at = self.now.plus(Duration::from_millis(self.cfg.fence_ms));
                    self.at(
                        at,
                        Ev::Fault(Fault {
                            at,
                            kind: FaultKind::Fence,
                            node: Some(node.clone()),
                            by: Some(name.to_owned()),
                            ..Fault::default()
                        }),
                    );
                }
                Action::Log(e) => {
                    if matches!(
                        e.kind,
                        EventKind::Acquire | EventKind::Release | EventKind::Released
                    ) {
                        self.report.ownership_event(self.now);
                    }
                    self.report.log(self.now, name, e);
                }
                Action::Exit => {
                    let node = self.nodes.get_mut(name).expect("known node");
                    node.engine = None;
                    node.awake_since = None;
                    if self.healed {
                        let at = self.now.plus(Duration::from_millis(1));
                        self.at(at, inject::restart(at, name));
                    }
                }
                Action::SavePeers(runs) => {
                    self.nodes.get_mut(name).expect("known node").saved_runs = runs;
                }
                Action::Checkpoint {
                    holding,
                    stands_ms,
                    maintenance,
                } => {
                    let now = self.now;
                    let node = self.nodes.get_mut(name).expect("known node");
                    node.checkpoint = Some((now, holding, stands_ms, maintenance));
                }
                Action::RunCheck { res, seq, check } => self.run_check(name, res, seq, &check),
                Action::Announce { .. } | Action::Notify(_) => {}
            }
        }
    }

    /// Signs and sends a datagram: every copy goes through the real encoder and, on arrival,
    /// the real decoder, so what does not fit the format is caught here too.
    pub(super) fn send(&mut self, from: &str, link: &str, d: &Datagram, key: u8, version: u8) {
        self.record_for_replay(from, link, d, key, version);
        let ring = &self.keys[from];
        let pages = match wire::encode(d, ring.get(key).unwrap_or_else(|| ring.signing()), version)
        {
            Ok(p) => p,
            Err(e) => {
                self.report
                    .violate(self.now, format!("{from} cannot send its heartbeat: {e}"));
                return;
            }
        };
        let peers: Vec<String> = self.nodes.keys().filter(|n| *n != from).cloned().collect();
        for to in peers {
            if !self.net.passes(from, &to, &mut self.rng) {
                continue;
            }
            let copies = if !self.cfg.ideal_net && self.rng.chance(0.01) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                // Mostly 1-3 ms; sometimes late enough to arrive after the next datagram.
                let mut delay = if self.cfg.ideal_net {
                    1
                } else {
                    self.rng.range(1, 3)
                };
                if !self.cfg.ideal_net && self.rng.chance(0.02) {
                    delay += self
                        .rng
                        .range(0, self.m.heartbeat.interval.as_millis() as u64 + 10);
                }
                if let Some(most) = self.net.delayed.get(from).copied() {
                    delay += self.rng.range(0, most);
                }
                let at = self.now.plus(Duration::from_millis(delay));
                for bytes in &pages {
                    self.at(
                        at,
                        Ev::Deliver {
                            to: to.clone(),
                            link: link.to_owned(),
                            bytes: bytes.clone(),
                        },
                    );
                }
            }
        }
    }

    /// Keeps a sample of what goes over the wire (signed, as sent), for an attacker to re-send
    /// later: datagrams of every node and of every run, up to [`REPLAYS`].
    fn record_for_replay(&mut self, from: &str, link: &str, d: &Datagram, key: u8, version: u8) {
        if !self.cfg.faults.contains(&FaultKind::Replay) || !self.rng.chance(0.05) {
            return;
        }
        let ring = &self.keys[from];
        let Ok(mut pages) =
            wire::encode(d, ring.get(key).unwrap_or_else(|| ring.signing()), version)
        else {
            return;
        };
        let entry = (link.to_owned(), pages.swap_remove(0));
        if self.recorded.len() < REPLAYS {
            self.recorded.push(entry);
        } else {
            let i = self.rng.range(0, REPLAYS as u64 - 1) as usize;
            self.recorded[i] = entry;
        }
    }

    /// What `to`'s link driver does with arriving bytes: checks them with its key ring, counts
    /// what fails, and hands the rest to the agent.
    pub(super) fn deliver(&mut self, to: &str, link: String, bytes: &[u8]) {
        let Some(ring) = self.keys.get(to) else {
            return;
        };
        match wire::decode(bytes, ring, &self.m.cluster, &self.names) {
            Ok(page) => {
                let pages = self.pages.entry((to.to_owned(), link.clone())).or_default();
                if let Some(datagram) = pages.push(page) {
                    self.input(to, Input::Heard { link, datagram }, true);
                }
            }
            Err(why) => self.drops.entry(to.to_owned()).or_default().count(why),
        }
    }

    pub(super) fn resource(&mut self, name: &str, generation: u64, res: ResourceRef, op: Op) {
        self.changed = true;
        let (group, resource) = (res.group.clone(), res.index);
        // systemd shows the job at once: the unit goes activating or deactivating.
        let (active, job) = match op {
            Op::Start => (Active::Activating, JobKind::Start),
            Op::Stop => (Active::Deactivating, JobKind::Stop),
        };
        let soon = self.now.plus(Duration::from_millis(self.rng.range(0, 1)));
        self.observe_at(soon, name, &res, active, Some(job));
        let node = self.nodes.get_mut(name).expect("known node");
        let key = (group.clone(), resource);
        // The agent's own job replaces whatever was under way (a restart, a start by hand).
        node.restarting.remove(&key);
        node.hand_started.remove(&key);
        if op == Op::Start {
            node.stray_since.remove(&key);
            // A wedged service that a restart fixes.
            if node.check_failing.get(&key) == Some(&true) {
                node.check_failing.remove(&key);
            }
        }
        node.pending.insert(key.clone(), op);
        let epoch = node.epoch;
        let ok = match op {
            Op::Start => {
                node.active.insert(key.clone());
                !node.fail_next_start.remove(&key)
            }
            Op::Stop => node
                .fail_next_stop
                .remove(&key)
                .is_none_or(|until| until <= self.now),
        };
        let slow = op == Op::Stop && node.slow_stops_until.is_some_and(|t| t > self.now);
        let (lo, mut hi) = self.cfg.resource_ms;
        if slow {
            // The whole group's stop must fit what the timers leave for it (`stop_budget`): each
            // of its resources takes up to its share, no more is covered.
            let n = self
                .m
                .groups
                .get(&group)
                .map_or(1, |g| g.resources.len().max(1)) as u64;
            hi = hi.max(self.stop_budget().as_millis() as u64 / n);
        }
        let at = self.now.plus(Duration::from_millis(self.rng.range(lo, hi)));
        let detail = match (ok, op) {
            (true, _) => String::new(),
            (false, Op::Start) => "simulated start failure".into(),
            (false, Op::Stop) => "simulated stop failure: it still runs".into(),
        };
        self.at(
            at,
            Ev::Fault(Fault {
                at,
                kind: FaultKind::ResourceDone {
                    op,
                    ok,
                    generation,
                    epoch,
                },
                node: Some(name.to_owned()),
                group: Some(group.clone()),
                resource,
                detail,
                ..Fault::default()
            }),
        );
    }

    pub(super) fn ping(&mut self) {
        let names: Vec<String> = self.nodes.keys().cloned().collect();
        for n in names {
            self.ping_round(&n);
        }
        let at = self.now.plus(self.m.connectivity.interval);
        self.at(at, Ev::Ping);
    }

    /// One ping round of `node`, reported to its engine.
    fn ping_round(&mut self, node: &str) {
        if self.m.connectivity.ping.is_empty() {
            return;
        }
        let targets = self.m.connectivity.ping.len() as u16;
        // Loss hits the probes too: three probes, each needing its request and reply.
        let lossy = self.net.loss > 0;
        let p = f64::from(self.net.loss) / 100.0;
        let probe_ok = |rng: &mut Rng| !rng.chance(p) && !rng.chance(p);
        let through = !lossy || (0..3).any(|_| probe_ok(&mut self.rng));
        let reachable = if self.net.reaches_targets(node) && through {
            targets
        } else {
            0
        };
        self.input(node, Input::Ping { reachable }, true);
    }

    /// Nodes where each group is fully up.
    pub(super) fn owners(&self) -> BTreeMap<String, Vec<String>> {
        self.m
            .groups
            .iter()
            .map(|(g, def)| {
                let holders = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| {
                        (0..def.resources.len()).all(|i| n.up.contains(&(g.clone(), i)))
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                (g.clone(), holders)
            })
            .collect()
    }

    /// Nodes where each group has anything that may be running.
    pub(super) fn actives(&self) -> BTreeMap<String, Vec<String>> {
        self.m
            .groups
            .keys()
            .map(|g| {
                // A stray copy started by hand is not the agents' doing: its life is bounded
                // apart (`strays_outlived`). A paused machine's copy runs nothing while it is
                // paused, and after it resumes it has `pause_allowance` to stop it.
                let allowance = self.pause_allowance();
                let holders = self
                    .nodes
                    .iter()
                    .filter(|(name, n)| {
                        !self.vm_frozen(name)
                            && n.resumed_at.is_none_or(|t| self.now.since(t) > allowance)
                            && n.active
                                .iter()
                                .any(|k| k.0 == *g && !n.stray_since.contains_key(k))
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                (g.clone(), holders)
            })
            .collect()
    }

    /// How long a machine that resumed from a pause may run its old copy: until its agent has
    /// noticed (or been killed by the overdue watchdog and started again after `RestartSec`)
    /// and stopped it, with a few milliseconds for the news to travel. Waiting to hear a peer
    /// first (adopting, then yielding) would take up to an interval more, and fails this.
    pub(super) fn pause_allowance(&self) -> Duration {
        Duration::from_millis(100 + 10) + self.resource_budget()
    }

    /// A stray copy that has run, while its node's agent was up and awake, for longer than it
    /// takes to see it and stop it: one interval (delivery and scheduling slack) plus the
    /// longest stop.
    pub(super) fn strays_outlived(&self) -> Option<String> {
        let bound = self.m.heartbeat.interval + Duration::from_millis(self.cfg.resource_ms.1);
        for (name, n) in &self.nodes {
            let Some(awake) = n.awake_since else {
                continue;
            };
            for (key, since) in &n.stray_since {
                if self.exempt(&key.0) == Some(super::maintenance::Exempt::Under) {
                    continue;
                }
                // Adopted by the agent (found up at its start, the group not running
                // elsewhere): the group runs here now, and the overlap check covers it.
                if held_by_agent(n, key) || self.left_running(key) {
                    continue;
                }
                let from = (*since).max(awake);
                if *since != crate::engine::Time(u64::MAX) && self.now.since(from) > bound {
                    return Some(format!(
                        "a stray copy of {}[{}] ran on {name} for {}ms, more than {}ms",
                        key.0,
                        key.1,
                        self.now.since(from).as_millis(),
                        bound.as_millis()
                    ));
                }
            }
        }
        None
    }

    /// Whether a stray copy of `key` is left running by the manifest's word: a unit of a
    /// group set to `on_stray: warn` (the agent only logs it).
    fn left_running(&self, key: &(String, usize)) -> bool {
        self.m.groups.get(&key.0).is_some_and(|g| {
            g.on_stray == crate::manifest::model::OnStray::Warn
                && g.resources
                    .get(key.1)
                    .is_some_and(|r| matches!(r.kind, ResourceKind::Unit(_)))
        })
    }

    /// Strays the node's agent has taken as its own: no longer strays.
    pub(super) fn forget_adopted_strays(&mut self) {
        for n in self.nodes.values_mut() {
            let adopted: Vec<(String, usize)> = n
                .stray_since
                .keys()
                .filter(|k| held_by_agent(n, k))
                .cloned()
                .collect();
            for k in adopted {
                n.stray_since.remove(&k);
            }
        }
    }

    /// Starts the node's agent, which first probes what is up here: what a killed agent left
    /// running, and what it had asked to start (a unit still `activating`), less what it had
    /// asked to stop (`deactivating` is not up).
    pub(super) fn boot(&mut self, name: &str) {
        let keys = &self.keys[name];
        let m = self.target.clone();
        let now = self.now;
        let node = self.nodes.get_mut(name).expect("known node");
        if node.engine.is_some() {
            return;
        }
        node.generation += 1;
        node.frozen_until = None;
        node.held_inputs.clear();
        // The generation file: one more than the last, or, with the state directory lost, a
        // new one that may be lower than the peers remember.
        node.state_gen = match node.lost_state.take() {
            Some(random) => random,
            None => node.state_gen + 1,
        };
        let ids = keys.keys().iter().map(|k| k.id).collect();
        let local = node.clock.local(now);
        node.engine = Some(Engine::new(local, name, m, ids, node.state_gen));
        node.booted_at = Some(now);
        node.awake_since = Some(now);
        node.powered = true;
        let probe = self.probe(name);
        self.input(name, Input::Probed(probe), true);
        // The carrier watch reports at its start what it reads.
        let down: Vec<String> = self.nodes[name].carrier_down.iter().cloned().collect();
        for interface in down {
            self.carrier_seen(name, &interface, false);
        }
        // The daemon pings at start-up, then every connectivity interval.
        self.ping_round(name);
    }

    /// Power cut: the engine and every resource stop at once.
    pub(super) fn crash(&mut self, name: &str) {
        self.changed = true;
        let node = self.nodes.get_mut(name).expect("known node");
        node.engine = None;
        node.frozen_until = None;
        node.held_inputs.clear();
        node.active.clear();
        node.up.clear();
        node.pending.clear();
        node.hand_started.clear();
        node.stray_since.clear();
        node.restarting.clear();
        node.awake_since = None;
        node.powered = false;
        node.checkpoint = None;
        node.epoch += 1; // actions in flight stopped with the power
        node.generation += 1; // late completions of the old process are ignored
    }

    /// The agent dies; its resources, and the actions it had asked for, carry on.
    pub(super) fn die(&mut self, name: &str) {
        let node = self.nodes.get_mut(name).expect("known node");
        node.engine = None;
        node.awake_since = None;
        node.frozen_until = None;
        node.held_inputs.clear();
        node.generation += 1;
    }

    /// A resource action completed: the world changes (unless a power cut came first), and
    /// the agent that asked hears of it. A start failing after its agent died is seen by the
    /// new agent's unit watch as a unit that went down.
    pub(super) fn resource_done(&mut self, f: &Fault, node: &str, op: Op, of: (bool, u64, u64)) {
        let (ok, generation, epoch) = of;
        let n = self.nodes.get_mut(node).expect("known node");
        if n.epoch != epoch {
            return;
        }
        self.changed = true;
        let key = (f.group.clone().unwrap_or_default(), f.resource);
        n.pending.remove(&key);
        match (op, ok) {
            (Op::Start, true) => {
                n.up.insert(key.clone());
            }
            (Op::Start, false) | (Op::Stop, true) => {
                n.up.remove(&key);
                n.active.remove(&key);
                n.stray_since.remove(&key);
            }
            // A failed stop leaves it running; a stray copy that cannot be stopped is the
            // blocked state's to report, not a stray outliving its bound.
            (Op::Stop, false) => {
                if let Some(since) = n.stray_since.get_mut(&key) {
                    *since = crate::engine::Time(u64::MAX);
                }
            }
        }
        let res = ResourceRef::new(&key.0, key.1);
        // systemd's signal and the job's result reach the agent in either order, a moment
        // apart.
        let (done_at, seen_at) = if self.rng.chance(0.5) {
            (self.now, self.now.plus(Duration::from_millis(1)))
        } else {
            (self.now.plus(Duration::from_millis(1)), self.now)
        };
        let done = Input::Done {
            res: res.clone(),
            op,
            ok,
            detail: f.detail.clone(),
        };
        let to = node.to_owned();
        self.at(
            done_at,
            Ev::Input {
                to,
                generation,
                input: done,
            },
        );
        let active = match (op, ok) {
            (Op::Start, true) | (Op::Stop, false) => Active::Active,
            (Op::Start, false) => Active::Failed,
            (Op::Stop, true) => Active::Inactive,
        };
        self.observe_at(seen_at, node, &res, active, None);
    }

    /// What the world looks like to a booting agent's probe: every unit of the manifest with
    /// its state, and the VIPs that are up here.
    pub(super) fn probe(&self, name: &str) -> Probe {
        let node = &self.nodes[name];
        let mut p = Probe {
            previous: node.checkpoint.as_ref().map(|(at, holding, stands_ms, m)| {
                crate::engine::Previous {
                    ago_ms: self.now.since(*at).as_millis() as u64,
                    holding: holding.clone(),
                    stands_ms: *stands_ms,
                    maintenance: m.clone(),
                }
            }),
            peers: node.saved_runs.clone(),
            ..Probe::default()
        };
        for (g, def) in &self.m.groups {
            for (i, r) in def.resources.iter().enumerate() {
                let key = (g.clone(), i);
                let pending = node.pending.get(&key).copied();
                match &r.kind {
                    ResourceKind::Unit(unit) => {
                        let (active, job) = match pending {
                            Some(Op::Start) => (Active::Activating, Some(JobKind::Start)),
                            Some(Op::Stop) => (Active::Deactivating, Some(JobKind::Stop)),
                            None if node.up.contains(&key) => (Active::Active, None),
                            None => (Active::Inactive, None),
                        };
                        p.units.push(UnitSeen {
                            unit: unit.clone(),
                            active,
                            sub: String::new(),
                            job,
                            origin: None,
                        });
                    }
                    ResourceKind::Vip(v) if node.up.contains(&key) => p.addrs.push(AddrSeen {
                        addr: v.address,
                        interface: v.interface.clone(),
                        present: true,
                    }),
                    ResourceKind::Vip(_) => {}
                }
            }
        }
        p
    }

    /// Tells `node`'s agent, whichever run it is, what its drivers see of `res` at `at`: the
    /// unit's state, or the VIP's presence (a VIP is there once up, gone once down).
    pub(super) fn observe_at(
        &mut self,
        at: crate::engine::Time,
        node: &str,
        res: &ResourceRef,
        active: Active,
        job: Option<JobKind>,
    ) {
        let Some(r) = self
            .m
            .groups
            .get(&res.group)
            .and_then(|g| g.resources.get(res.index))
        else {
            return;
        };
        let input = match &r.kind {
            ResourceKind::Unit(unit) => Input::Unit(UnitSeen {
                unit: unit.clone(),
                active,
                sub: String::new(),
                job,
                origin: None,
            }),
            ResourceKind::Vip(v)
                if matches!(active, Active::Active | Active::Inactive | Active::Failed) =>
            {
                Input::Addr(AddrSeen {
                    addr: v.address,
                    interface: v.interface.clone(),
                    present: active == Active::Active,
                })
            }
            ResourceKind::Vip(_) => return,
        };
        let to = node.to_owned();
        self.at(at, Ev::Observe { to, input });
    }
}

/// Whether `node`'s agent runs `key`'s group and counts the resource as up.
fn held_by_agent(node: &super::Node, key: &(String, usize)) -> bool {
    node.engine.as_ref().is_some_and(|e| {
        e.runners().get(&key.0).is_some_and(|r| {
            matches!(
                r.phase,
                crate::engine::runner::Phase::Running | crate::engine::runner::Phase::Starting
            ) && r.res.get(key.1) == Some(&crate::engine::runner::Res::Up)
        })
    })
}
