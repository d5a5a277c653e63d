//! How each fault acts on the world: power cuts, freezes, kills, stops, cuts and loss, failing
//! resources, operator moves, and the end of the fault phase.

use std::time::Duration;

use super::faults::{Fault, FaultKind, Net};
use super::{Ev, World};
use crate::engine::{Command, Input, Time};
use crate::manifest::model::ResourceKind;

impl World {
    pub(super) fn fault(&mut self, f: Fault) {
        let node = f.node.clone().unwrap_or_default();
        // Fencing a node that is down already is part of failing over from it, not a fault.
        let routine = matches!(
            f.kind,
            FaultKind::ResourceDone { .. } | FaultKind::WorldStep { .. }
        ) || f.kind == FaultKind::Fence && self.nodes[&node].engine.is_none();
        // Judged before this fault counts as the last one.
        let owned = if f.kind == FaultKind::Crash && self.healthy_except(&node) {
            self.owned_by(&node)
        } else {
            Vec::new()
        };
        let clean_kill = f.kind == FaultKind::Kill && self.healthy_except(&node);
        if !routine {
            self.shaken_at = Some(self.now);
            // A node coming back, a heal, a thaw: the world changed while a gap may be open.
            self.report.disturb();
            if matches!(
                f.kind,
                FaultKind::StartFail
                    | FaultKind::UnitDies
                    | FaultKind::Move
                    | FaultKind::Stop
                    | FaultKind::Fence
            ) {
                self.disturbed_at = Some(self.now);
            }
        }
        let later = self.now.plus(f.lasts);
        match f.kind {
            FaultKind::Boot => self.boot(&node),
            FaultKind::Crash => {
                self.report.fault(self.now, &f, &owned);
                self.crash(&node);
                self.at(later, restart(later, &node));
            }
            FaultKind::Stop => {
                self.report.fault(self.now, &f, &[]);
                self.input(&node, Input::Shutdown, false);
                // Booted again later, if it finished stopping by then (else it is booted at heal).
                self.at(later, restart(later, &node));
            }
            FaultKind::Pause => self.pause(&f, &node, later),
            FaultKind::Kill => self.kill(&f, &node, clean_kill),
            FaultKind::Die => {
                // A frozen agent thawed by the heal was not killed after all.
                let n = &self.nodes[&node];
                if n.engine.is_some() && (f.frozen.is_zero() || n.frozen_until.is_some()) {
                    self.die(&node);
                    self.at(later, restart(later, &node));
                }
            }
            FaultKind::Watchdog => {
                // systemd kills the agent (SIGABRT, with a SIGCONT so a stopped one gets it);
                // its units are units of their own and run on. It is back after RestartSec.
                if self.nodes[&node].frozen_until.is_some_and(|t| t > self.now)
                    || self.nodes[&node].vm_paused
                {
                    self.nodes.get_mut(&node).expect("known node").vm_paused = false;
                    self.die(&node);
                    let back = self.now.plus(RESTART_SEC);
                    self.at(back, restart(back, &node));
                }
            }
            FaultKind::VmPause => self.vm_pause(&f, &node, later),
            FaultKind::VmResume => self.vm_resume(&node, f.lasts),
            FaultKind::Thaw => self.thaw(&node),
            FaultKind::Partition | FaultKind::GatewaySplit | FaultKind::Islands => {
                self.report.fault(self.now, &f, &[]);
                let names: Vec<String> = self.nodes.keys().cloned().collect();
                self.net.split(&names, &f.side, &f.other);
                self.net.gateway = f.kind == FaultKind::GatewaySplit;
                self.at(
                    later,
                    Ev::Fault(Fault {
                        at: later,
                        kind: FaultKind::Heal,
                        detail: "partition".into(),
                        ..Fault::default()
                    }),
                );
            }
            FaultKind::OneWay => {
                let from = f.by.clone().unwrap_or_default();
                // Two one-way cuts facing each other would be a partition; partitions are drawn
                // as such, with the ping targets on one side (the tie-breaker's assumption).
                if from == node || self.net.cut.contains(&(node.clone(), from.clone())) {
                    return;
                }
                self.report.fault(self.now, &f, &[]);
                self.net.cut.insert((from, node.clone()));
                self.at(
                    later,
                    Ev::Fault(Fault {
                        at: later,
                        kind: FaultKind::Heal,
                        detail: "cut".into(),
                        ..f.clone()
                    }),
                );
            }
            FaultKind::LinkCut => {
                let by = f.by.clone().unwrap_or_default();
                if by == node {
                    return;
                }
                self.report.fault(self.now, &f, &[]);
                self.net.cut.insert((by.clone(), node.clone()));
                self.net.cut.insert((node.clone(), by));
                self.heal_later(later, "link", &f);
            }
            FaultKind::Delay => {
                self.report.fault(self.now, &f, &[]);
                let most = self.m.heartbeat.dead_after.as_millis() as u64 * 2;
                self.net.delayed.insert(node.clone(), most);
                self.heal_later(later, "delay", &f);
            }
            FaultKind::Clock => {
                self.report.fault(self.now, &f, &[]);
                let ppm = self.rng.range(0, 2000) as i64 - 1000;
                let now = self.now;
                let n = self.nodes.get_mut(&node).expect("known node");
                n.clock = n.clock.rebased(now, ppm);
            }
            FaultKind::Reload => self.reload(&f),
            FaultKind::ReloadNode => {
                let m = Box::new(self.target.clone());
                self.input(&node, Input::Reload(m), false);
            }
            FaultKind::Loss => {
                self.report.fault(self.now, &f, &[]);
                self.net.loss = f.percent;
                self.at(
                    later,
                    Ev::Fault(Fault {
                        at: later,
                        kind: FaultKind::Heal,
                        detail: "loss".into(),
                        ..Fault::default()
                    }),
                );
            }
            FaultKind::Heal => match f.detail.as_str() {
                "partition" => self.net.join(),
                "link" => {
                    let by = f.by.clone().unwrap_or_default();
                    self.net.cut.remove(&(by.clone(), node.clone()));
                    self.net.cut.remove(&(node, by));
                }
                "delay" => {
                    self.net.delayed.remove(&node);
                }
                "cut" => {
                    self.net
                        .cut
                        .remove(&(f.by.clone().unwrap_or_default(), node));
                }
                "fence" => {
                    self.net.unfenceable.remove(&node);
                }
                d if d.starts_with("carrier ") => self.carrier_up(&node, &d["carrier ".len()..]),
                "check" => {
                    let key = (f.group.clone().unwrap_or_default(), f.resource);
                    if let Some(n) = self.nodes.get_mut(&node) {
                        n.check_failing.remove(&key);
                    }
                }
                _ => self.net.loss = 0,
            },
            FaultKind::StartFail => {
                self.report.fault(self.now, &f, &[]);
                let key = (f.group.clone().unwrap_or_default(), f.resource);
                self.nodes
                    .get_mut(&node)
                    .expect("known node")
                    .fail_next_start
                    .insert(key);
            }
            FaultKind::UnitDies => self.unit_dies(&f),
            FaultKind::CheckFails => self.check_fails(&f),
            FaultKind::CarrierDown => self.carrier_down(&f),
            FaultKind::StopFail => {
                self.report.fault(self.now, &f, &[]);
                let key = (f.group.clone().unwrap_or_default(), f.resource);
                let until = self.now.plus(f.lasts);
                let n = self.nodes.get_mut(&node).expect("known node");
                n.fail_next_stop.insert(key, until);
            }
            FaultKind::SlowStop => {
                self.report.fault(self.now, &f, &[]);
                let until = self.now.plus(f.lasts);
                let n = self.nodes.get_mut(&node).expect("known node");
                n.slow_stops_until = Some(until);
            }
            FaultKind::Replay => {
                self.report.fault(self.now, &f, &[]);
                let n = self.rng.range(5, 40);
                for _ in 0..n {
                    let at = self.now.plus(Duration::from_millis(
                        self.rng.range(0, f.lasts.as_millis() as u64),
                    ));
                    let to = self
                        .rng
                        .pick(&self.nodes.keys().cloned().collect::<Vec<_>>())
                        .clone();
                    if self.recorded.is_empty() {
                        break;
                    }
                    let i = self.rng.range(0, self.recorded.len() as u64 - 1) as usize;
                    let (link, bytes) = self.recorded[i].clone();
                    self.at(at, Ev::Deliver { to, link, bytes });
                }
            }
            FaultKind::LostState => {
                if !self.nodes[&node].powered {
                    return;
                }
                self.report.fault(self.now, &f, &[]);
                self.crash(&node);
                let n = self.nodes.get_mut(&node).expect("known node");
                n.saved_runs.clear();
                // A fresh install's draw (`agent::setup`): lower or higher than before.
                n.lost_state = Some((1 << 31) + self.rng.range(0, (1 << 30) - 1));
                self.at(later, restart(later, &node));
            }
            FaultKind::FenceFail => {
                self.report.fault(self.now, &f, &[]);
                self.net.unfenceable.insert(node.clone());
                self.at(
                    later,
                    Ev::Fault(Fault {
                        at: later,
                        kind: FaultKind::Heal,
                        detail: "fence".into(),
                        ..f.clone()
                    }),
                );
            }
            FaultKind::StrayStart => self.stray_start(&f, &node),
            FaultKind::UnitRestart => self.unit_restart(&f),
            FaultKind::WorldStep { stage } => self.world_step(&f, &node, stage),
            FaultKind::Move => {
                self.report.fault(self.now, &f, &[]);
                let (group, to) = (
                    f.group.clone().unwrap_or_default(),
                    f.by.clone().unwrap_or_default(),
                );
                self.input(
                    &node,
                    Input::Control(Command::Failover {
                        group: group.clone(),
                        to,
                    }),
                    false,
                );
                self.at(
                    later,
                    Ev::Input {
                        to: node.clone(),
                        generation: self.nodes[&node].generation,
                        input: Input::Control(Command::Clear { group }),
                    },
                );
            }
            FaultKind::Maintenance => self.maintenance_on(&f, &node),
            FaultKind::MaintenanceOff => self.maintenance_off(&f),
            FaultKind::HealAll => self.heal_all(),
            FaultKind::ClearAll => self.clear_all(),
            FaultKind::Fence => {
                let ok = !self.net.unfenceable.contains(&node);
                if ok {
                    self.report.fault(self.now, &f, &[]);
                    self.crash(&node);
                    // A fenced machine reboots.
                    let back = self.now.plus(self.m.heartbeat.dead_after * 2);
                    self.at(back, restart(back, &node));
                }
                let by = f.by.clone().unwrap_or_default();
                let generation = self.nodes[&by].generation;
                self.at(
                    self.now,
                    Ev::Input {
                        to: by,
                        generation,
                        input: Input::Fenced {
                            node: node.clone(),
                            ok,
                        },
                    },
                );
            }
            FaultKind::ResourceDone { .. } if self.vm_frozen(&node) => {
                // A paused machine's jobs do not move: they end after it resumes (looked at
                // again every 100 ms, as a heal may resume it early).
                let at = self.nodes[&node].frozen_until.unwrap_or(self.now);
                let again = at.min(self.now.plus(Duration::from_millis(100)));
                self.at(again.plus(Duration::from_millis(1)), Ev::Fault(f));
            }
            FaultKind::ResourceDone {
                op,
                ok,
                generation,
                epoch,
            } => self.resource_done(&f, &node, op, (ok, generation, epoch)),
        }
    }

    /// The groups fully up on `node`.
    fn owned_by(&self, node: &str) -> Vec<String> {
        self.owners()
            .into_iter()
            .filter(|(_, holders)| holders.iter().any(|h| h == node))
            .map(|(g, _)| g)
            .collect()
    }

    /// The network is whole and every other node has run long enough to be settled.
    fn healthy_except(&self, node: &str) -> bool {
        let settle = self.m.heartbeat.initial_dead + self.m.heartbeat.dead_after;
        let net_clean = !self.net.partitioned
            && self.net.cut.is_empty()
            && self.net.loss == 0
            && self.net.delayed.is_empty();
        // Failure marks, moves and stops leave the cluster changed for a while (cooldowns).
        let cooldown = (self.m.heartbeat.dead_after * 10).max(Duration::from_secs(30)) + settle;
        let undisturbed = self
            .disturbed_at
            .is_none_or(|t| self.now.since(t) > cooldown);
        // Any fault, its end, a node coming back: the engines' own clocks (ping steadiness,
        // liveness, hold-offs) take up to dead_after to forget it.
        let quiet = self
            .shaken_at
            .is_none_or(|t| self.now.since(t) > self.m.heartbeat.dead_after * 2);
        net_clean
            && quiet
            && undisturbed
            && self.nodes.iter().filter(|(n, _)| *n != node).all(|(_, n)| {
                n.engine.is_some()
                    && n.frozen_until.is_none()
                    && n.booted_at.is_some_and(|b| self.now.since(b) > settle)
            })
    }

    fn pause(&mut self, f: &Fault, node: &str, later: Time) {
        if self.nodes[node].engine.is_none() || self.nodes[node].frozen_until.is_some() {
            return;
        }
        self.report.fault(self.now, f, &[]);
        let n = self.nodes.get_mut(node).expect("known node");
        n.frozen_until = Some(later);
        n.awake_since = None;
        // A longer freeze than the agent's watchdog gets it killed (its units run on), and
        // systemd starts it again.
        let watchdog = self.now.plus(self.m.heartbeat.watchdog());
        if later > watchdog {
            self.at(
                watchdog,
                Ev::Fault(Fault {
                    at: watchdog,
                    kind: FaultKind::Watchdog,
                    node: Some(node.to_owned()),
                    ..Fault::default()
                }),
            );
        } else {
            self.at(
                later,
                Ev::Fault(Fault {
                    at: later,
                    kind: FaultKind::Thaw,
                    node: Some(node.to_owned()),
                    ..Fault::default()
                }),
            );
        }
    }

    /// Changes a group's settings in the manifest on disk, and has each node reload it within
    /// `f.lasts` (some maybe not before the faults heal: `heal_all` reloads the rest).
    fn reload(&mut self, f: &Fault) {
        let Some(g) = f.group.clone() else { return };
        let Some(def) = self.target.groups.get_mut(&g) else {
            return;
        };
        if self.rng.chance(0.5) {
            def.failback = !def.failback;
        } else {
            def.nodes.reverse();
        }
        self.report.fault(self.now, f, &[]);
        let names: Vec<String> = self.nodes.keys().cloned().collect();
        for n in names {
            let at = self.now.plus(Duration::from_millis(
                self.rng.range(0, f.lasts.as_millis() as u64),
            ));
            // What is on disk when it reloads: a later change may have come meanwhile.
            self.at(
                at,
                Ev::Fault(Fault {
                    at,
                    kind: FaultKind::ReloadNode,
                    node: Some(n),
                    ..Fault::default()
                }),
            );
        }
    }

    /// Brings every running agent to the manifest on disk.
    fn reload_all(&mut self) {
        let stale: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| {
                n.engine
                    .as_ref()
                    .is_some_and(|e| *e.manifest() != self.target)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for n in stale {
            self.input(&n, Input::Reload(Box::new(self.target.clone())), false);
        }
    }

    /// Schedules the end of fault `f` at `later`.
    pub(super) fn heal_later(&mut self, later: Time, what: &str, f: &Fault) {
        self.at(
            later,
            Ev::Fault(Fault {
                at: later,
                kind: FaultKind::Heal,
                detail: what.into(),
                ..f.clone()
            }),
        );
    }

    /// The node on which resource `key` (group, index) is up, if any.
    pub(super) fn holder_of(&self, key: &(String, usize)) -> Option<String> {
        self.nodes
            .iter()
            .find(|(_, n)| n.up.contains(key))
            .map(|(k, _)| k.clone())
    }

    /// Whether `node`'s whole machine is paused now: until its resume has run, even at the
    /// very instant it is due (an event of the same millisecond may come first).
    pub(super) fn vm_frozen(&self, node: &str) -> bool {
        let n = &self.nodes[node];
        n.vm_paused && n.frozen_until.is_some()
    }

    /// The whole machine pauses (a paused VM, a frozen host): its agent, its units and its
    /// systemd stop together, so no watchdog fires until it resumes.
    fn vm_pause(&mut self, f: &Fault, node: &str, later: Time) {
        let n = &self.nodes[node];
        if n.engine.is_none() || n.frozen_until.is_some() || !n.powered {
            return;
        }
        self.report.fault(self.now, f, &[]);
        let n = self.nodes.get_mut(node).expect("known node");
        n.frozen_until = Some(later);
        n.paused_at = Some(self.now);
        n.vm_paused = true;
        n.awake_since = None;
        let resume = Fault {
            at: later,
            kind: FaultKind::VmResume,
            node: Some(node.to_owned()),
            lasts: f.lasts,
            ..Fault::default()
        };
        self.at(later, Ev::Fault(resume));
    }

    /// The machine resumes: its clock jumped, its units run on, and systemd's watchdog, overdue,
    /// kills the agent either before it runs at all or a moment after it noticed the pause.
    fn vm_resume(&mut self, node: &str, paused: std::time::Duration) {
        let n = self.nodes.get_mut(node).expect("known node");
        if !n.vm_paused || n.frozen_until.is_none() {
            return;
        }
        n.resumed_at = Some(self.now);
        let overdue = paused > self.m.heartbeat.watchdog();
        let killed_first = overdue && self.rng.chance(0.5);
        if killed_first {
            let now = self.now;
            self.fault(Fault {
                at: now,
                kind: FaultKind::Watchdog,
                node: Some(node.to_owned()),
                ..Fault::default()
            });
            return;
        }
        let n = self.nodes.get_mut(node).expect("known node");
        n.frozen_until = None;
        n.vm_paused = overdue;
        n.awake_since = Some(self.now);
        // The loop notices it woke late before anything else.
        let ms = paused.as_millis() as u64;
        let held = std::mem::take(&mut n.held_inputs);
        self.input(node, Input::Paused { ms }, false);
        for input in held {
            self.input(node, input, false);
        }
        if overdue {
            let at = self
                .now
                .plus(std::time::Duration::from_millis(self.rng.range(1, 5)));
            self.at(
                at,
                Ev::Fault(Fault {
                    at,
                    kind: FaultKind::Watchdog,
                    node: Some(node.to_owned()),
                    ..Fault::default()
                }),
            );
        }
    }

    /// Kills the agent, at once or after a freeze that its watchdog ends; `lasts` later
    /// systemd has it running again.
    fn kill(&mut self, f: &Fault, node: &str, clean: bool) {
        if self.nodes[node].engine.is_none() || self.nodes[node].frozen_until.is_some() {
            return;
        }
        self.report.fault(self.now, f, &[]);
        if clean {
            let t = &self.m.heartbeat;
            let back = f.frozen + f.lasts + t.watchdog() + t.interval * 2;
            self.report
                .clean_kill(self.now.plus(back + self.resource_budget()));
        }
        let at = self.now.plus(f.frozen);
        if !f.frozen.is_zero() {
            let n = self.nodes.get_mut(node).expect("known node");
            n.frozen_until = Some(at);
            n.awake_since = None;
        }
        let die = Fault {
            at,
            kind: FaultKind::Die,
            ..f.clone()
        };
        self.at(at, Ev::Fault(die));
    }

    fn thaw(&mut self, node: &str) {
        let n = self.nodes.get_mut(node).expect("known node");
        n.frozen_until = None;
        n.awake_since = n.engine.as_ref().map(|_| self.now);
        let held = std::mem::take(&mut n.held_inputs);
        for input in held {
            self.input(node, input, false);
        }
        self.input(node, Input::Tick, true);
    }

    fn unit_dies(&mut self, f: &Fault) {
        let group = f.group.clone().unwrap_or_default();
        let Some(def) = self.m.groups.get(&group) else {
            return;
        };
        let unit = def
            .resources
            .iter()
            .position(|r| matches!(r.kind, ResourceKind::Unit(_)));
        let Some(i) = unit else { return };
        let Some(holder) = self.holder_of(&(group.clone(), i)) else {
            return;
        };
        self.report.fault(
            self.now,
            &Fault {
                node: Some(holder.clone()),
                ..f.clone()
            },
            &[],
        );
        self.changed = true;
        let n = self.nodes.get_mut(&holder).expect("known node");
        n.up.remove(&(group.clone(), i));
        n.active.remove(&(group.clone(), i));
        n.stray_since.remove(&(group.clone(), i));
        let res = crate::engine::ResourceRef::new(&group, i);
        let now = self.now;
        self.observe_at(now, &holder, &res, crate::engine::Active::Failed, None);
        // Half the time it crashes again soon after (restarted in place by then, or moved):
        // the second failure within the window moves the group (`engine/restart.rs`).
        if f.detail != "again" && self.rng.chance(0.5) {
            let most = self.cfg.resource_ms.1 * 2 + self.m.heartbeat.dead_after.as_millis() as u64;
            let at = self.now.plus(Duration::from_millis(
                self.rng.range(self.cfg.resource_ms.1, most),
            ));
            let again = Fault {
                at,
                detail: "again".into(),
                ..f.clone()
            };
            self.at(at, Ev::Fault(again));
        }
    }

    /// Starts resource `f.resource` of `f.group` by hand on `node`, which does not run it.
    fn stray_start(&mut self, f: &Fault, node: &str) {
        let group = f.group.clone().unwrap_or_default();
        let key = (group.clone(), f.resource);
        let n = &self.nodes[node];
        if !n.powered || n.active.contains(&key) || n.pending.contains_key(&key) {
            return;
        }
        self.report.fault(self.now, f, &[]);
        self.changed = true;
        let n = self.nodes.get_mut(node).expect("known node");
        n.active.insert(key.clone());
        n.hand_started.insert(key.clone());
        n.stray_since.insert(key.clone(), self.now);
        let res = crate::engine::ResourceRef::new(&group, f.resource);
        let now = self.now;
        let job = Some(crate::engine::JobKind::Start);
        self.observe_at(now, node, &res, crate::engine::Active::Activating, job);
        let up = self.now.plus(Duration::from_millis(
            self.rng
                .range(self.cfg.resource_ms.0, self.cfg.resource_ms.1),
        ));
        self.at(up, step(up, node, f, 0));
    }

    /// Restarts a running unit in place on the node that runs it.
    fn unit_restart(&mut self, f: &Fault) {
        let group = f.group.clone().unwrap_or_default();
        let Some(def) = self.m.groups.get(&group) else {
            return;
        };
        let Some(i) = def
            .resources
            .iter()
            .position(|r| matches!(r.kind, ResourceKind::Unit(_)))
        else {
            return;
        };
        let key = (group.clone(), i);
        let Some(holder) = self
            .nodes
            .iter()
            .find(|(_, n)| n.up.contains(&key) && !n.pending.contains_key(&key))
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        self.report.fault(
            self.now,
            &Fault {
                node: Some(holder.clone()),
                ..f.clone()
            },
            &[],
        );
        self.nodes
            .get_mut(&holder)
            .expect("known node")
            .restarting
            .insert(key);
        let res = crate::engine::ResourceRef::new(&group, i);
        let now = self.now;
        let job = Some(crate::engine::JobKind::Restart);
        self.observe_at(now, &holder, &res, crate::engine::Active::Deactivating, job);
        let later = self.now.plus(Duration::from_millis(self.cfg.resource_ms.1));
        let next = Fault {
            resource: i,
            ..f.clone()
        };
        self.at(later, step(later, &holder, &next, 1));
    }

    /// The next stage of a stray start or a restart in place, unless the agent took the
    /// resource in hand meanwhile (its own start or stop replaces the job).
    fn world_step(&mut self, f: &Fault, node: &str, stage: u8) {
        let key = (f.group.clone().unwrap_or_default(), f.resource);
        let res = crate::engine::ResourceRef::new(&key.0, key.1);
        let now = self.now;
        let n = self.nodes.get_mut(node).expect("known node");
        match stage {
            0 if n.hand_started.remove(&key) => {
                n.up.insert(key.clone());
                self.changed = true;
                self.observe_at(now, node, &res, crate::engine::Active::Active, None);
            }
            1 | 2 if n.restarting.contains(&key) => {
                let (active, job) = if stage == 1 {
                    (
                        crate::engine::Active::Activating,
                        Some(crate::engine::JobKind::Start),
                    )
                } else {
                    n.restarting.remove(&key);
                    (crate::engine::Active::Active, None)
                };
                self.observe_at(now, node, &res, active, job);
                if stage == 1 {
                    let later = self.now.plus(Duration::from_millis(self.cfg.resource_ms.0));
                    self.at(later, step(later, node, f, 2));
                }
            }
            _ => {}
        }
    }

    /// The end of the fault phase: the network is whole, every node runs, failures are cleared.
    fn heal_all(&mut self) {
        self.healed = true;
        self.net = Net::default();
        let names: Vec<String> = self.nodes.keys().cloned().collect();
        for n in &names {
            let node = self.nodes.get_mut(n).expect("known node");
            node.fail_next_start.clear();
            node.check_failing.clear();
            let down = std::mem::take(&mut node.carrier_down);
            node.fail_next_stop.clear();
            node.slow_stops_until = None;
            if self.vm_frozen(n) {
                let paused = self.nodes[n]
                    .paused_at
                    .map_or(Duration::ZERO, |t| self.now.since(t));
                self.vm_resume(n, paused);
            } else if self.nodes[n].frozen_until.is_some() {
                self.thaw(n);
            }
            self.boot(n);
            for interface in down {
                self.carrier_seen(n, &interface, true);
            }
        }
        self.reload_all();
        self.clear_all();
        self.maintenance_heal();
    }

    fn clear_all(&mut self) {
        let groups: Vec<String> = self.m.groups.keys().cloned().collect();
        let first = self
            .nodes
            .iter()
            .find(|(_, n)| n.engine.is_some())
            .map(|(k, _)| k.clone());
        if let Some(first) = first {
            for g in groups {
                self.input(&first, Input::Control(Command::Clear { group: g }), false);
            }
        }
    }
}

fn step(at: Time, node: &str, f: &Fault, stage: u8) -> Ev {
    Ev::Fault(Fault {
        at,
        kind: FaultKind::WorldStep { stage },
        node: Some(node.to_owned()),
        group: f.group.clone(),
        resource: f.resource,
        ..Fault::default()
    })
}

/// systemd's `RestartSec` in `haagent.service`.
const RESTART_SEC: std::time::Duration = std::time::Duration::from_millis(100);

pub(super) fn restart(at: Time, node: &str) -> Ev {
    Ev::Fault(Fault {
        at,
        kind: FaultKind::Boot,
        node: Some(node.to_owned()),
        ..Fault::default()
    })
}
