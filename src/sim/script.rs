//! The world driven by hand, for golden scenarios: no fault is drawn, the network is ideal (1
//! ms, nothing lost) until a test cuts it, resources take 10 ms, fence units 10 ms, and every
//! action of every node is recorded with its time. The same world the random runs use, so a
//! scenario and a seed exercise the same drivers' behaviour (observations, probes, keys).

use std::time::Duration;

use super::faults::{Fault, FaultKind};
use super::{Ev, SimConfig, World};
use crate::auth::KeyRing;
use crate::engine::{Action, Command, Engine, EventKind, Input, Time};
use crate::manifest::Manifest;

/// The fixed key of simulated clusters (not secret: nothing leaves the process).
pub const KEY: &str = "1 5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e\n";

/// One recorded action.
#[derive(Clone, Debug)]
pub struct Rec {
    /// When.
    pub at: Time,
    /// Which node's engine asked for it.
    pub node: String,
    /// What.
    pub action: Action,
}

impl World {
    /// A scripted world of `m`: nothing runs yet.
    pub fn scripted(m: Manifest) -> World {
        let mut cfg = SimConfig::new(&m, 0);
        cfg.faults.clear();
        cfg.resource_ms = (10, 10);
        cfg.fence_ms = 10;
        cfg.ideal_net = true;
        cfg.record = true;
        let mut w = World::new(m, cfg);
        if !w.m.connectivity.ping.is_empty() {
            w.at(Time(0), Ev::Ping);
        }
        w
    }

    /// `m` with every node booted at time 0, run until `until` ms.
    pub fn running(m: Manifest, until: u64) -> World {
        World::running_seeded(m, until, 0)
    }

    /// [`World::running`], with the seed of what the world decides by chance (the order of
    /// a resumed machine's agent and its watchdog, say).
    pub fn running_seeded(m: Manifest, until: u64, seed: u64) -> World {
        let mut w = World::scripted(m);
        w.rng = super::rng::Rng::new(seed);
        let names: Vec<String> = w.nodes.keys().cloned().collect();
        for n in &names {
            w.boot(n);
        }
        w.run_until(until);
        w
    }

    /// The time now.
    pub fn now(&self) -> Time {
        self.now
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.m
    }

    /// `node`'s engine, if its agent runs.
    pub fn engine(&self, node: &str) -> Option<&Engine> {
        self.nodes.get(node).and_then(|n| n.engine.as_ref())
    }

    /// Starts `node`'s agent (a new run), which probes what is up there first.
    pub fn start(&mut self, node: &str) {
        self.boot(node);
    }

    /// Power cut of `node`: its agent and everything it ran stop at once.
    pub fn power_off(&mut self, node: &str) {
        self.crash(node);
    }

    /// `node`'s agent is killed (`kill -9`): what it ran keeps running.
    pub fn kill_agent(&mut self, node: &str) {
        self.die(node);
    }

    /// `node`'s next start finds its state directory gone and draws `generation`, as a fresh
    /// install does (`agent::setup`): lower or higher than its earlier runs'. A node still
    /// running loses power first, as in the `lost-state` fault.
    pub fn lose_state(&mut self, node: &str, generation: u64) {
        if self.engine(node).is_some() {
            self.crash(node);
        }
        let n = self.nodes.get_mut(node).expect("known node");
        n.saved_runs.clear();
        n.lost_state = Some(generation);
    }

    /// A running unit (or VIP) of `node` goes down on its own, as systemd and netlink report.
    pub fn resource_dies(&mut self, node: &str, group: &str, index: usize) {
        let key = (group.to_owned(), index);
        let Some(n) = self.nodes.get_mut(node) else {
            return;
        };
        if n.up.remove(&key) {
            n.active.remove(&key);
            n.stray_since.remove(&key);
            self.changed = true;
            let res = crate::engine::ResourceRef::new(group, index);
            let now = self.now;
            self.observe_at(now, node, &res, crate::engine::Active::Failed, None);
        }
    }

    /// The health check of resource `index` of `group` fails on `node` (or passes again); with
    /// `heals_on_restart`, a start of the unit there makes it pass.
    pub fn check_failing(&mut self, node: &str, group: &str, index: usize, fails: Option<bool>) {
        if let Some(n) = self.nodes.get_mut(node) {
            let key = (group.to_owned(), index);
            match fails {
                Some(heals_on_restart) => n.check_failing.insert(key, heals_on_restart),
                None => n.check_failing.remove(&key),
            };
        }
    }

    /// The carrier of tracked `interface` on `node` goes (or comes back).
    pub fn carrier(&mut self, node: &str, interface: &str, up: bool) {
        if up {
            self.carrier_up(node, interface);
        } else if let Some(n) = self.nodes.get_mut(node)
            && n.carrier_down.insert(interface.to_owned())
        {
            self.changed = true;
            self.carrier_seen(node, interface, false);
        }
    }

    /// Cuts (or heals) both directions between `a` and `b`.
    pub fn split(&mut self, a: &str, b: &str, cut: bool) {
        self.cut(a, b, cut);
        self.cut(b, a, cut);
    }

    /// Cuts (or heals) what `from` sends to `to`.
    pub fn cut(&mut self, from: &str, to: &str, cut: bool) {
        let pair = (from.to_owned(), to.to_owned());
        if cut {
            self.net.cut.insert(pair);
        } else {
            self.net.cut.remove(&pair);
        }
    }

    /// Whether `node` reaches the ping targets.
    pub fn reach(&mut self, node: &str, reaches: bool) {
        if reaches {
            self.net.no_ping.remove(node);
        } else {
            self.net.no_ping.insert(node.to_owned());
        }
    }

    /// The next start of resource `index` of `group` on `node` fails.
    pub fn fail_next_start(&mut self, node: &str, group: &str, index: usize) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.fail_next_start.insert((group.to_owned(), index));
        }
    }

    /// Resource `index` of `group` is started by hand on `node` at `at` ms (the `stray-start`
    /// fault, aimed).
    pub fn stray_start_at(&mut self, at: u64, node: &str, group: &str, index: usize) {
        let f = Fault {
            at: Time(at),
            kind: FaultKind::StrayStart,
            node: Some(node.to_owned()),
            group: Some(group.to_owned()),
            resource: index,
            ..Fault::default()
        };
        self.at(Time(at), Ev::Fault(f));
    }

    /// Stops of resource `index` of `group` on `node` fail until `until` ms.
    pub fn fail_stops(&mut self, node: &str, group: &str, index: usize, until: u64) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.fail_next_stop
                .insert((group.to_owned(), index), Time(until));
        }
    }

    /// Fencing `node` fails (or works again).
    pub fn unfenceable(&mut self, node: &str, fails: bool) {
        if fails {
            self.net.unfenceable.insert(node.to_owned());
        } else {
            self.net.unfenceable.remove(node);
        }
    }

    /// Gives `node` a new key ring, as a reload of its key file does.
    pub fn set_keys(&mut self, node: &str, ring: KeyRing) {
        let ids = ring.keys().iter().map(|k| k.id).collect();
        self.keys.insert(node.to_owned(), ring);
        self.input(node, Input::Keys { ids }, false);
    }

    /// Bytes arriving at `node` on link `link0` (forged, replayed, ...), through its link
    /// driver's check.
    pub fn deliver_bytes(&mut self, node: &str, bytes: &[u8]) {
        self.deliver(node, "link0".into(), bytes);
    }

    /// What `node`'s link driver dropped, by reason.
    pub fn link_drops(&self, node: &str) -> crate::protocol::DropCounts {
        self.drops.get(node).cloned().unwrap_or_default()
    }

    /// Feeds `input` to `node`'s agent now.
    pub fn feed(&mut self, node: &str, input: Input) {
        self.input(node, input, false);
    }

    /// An operator command on `node`.
    pub fn command(&mut self, node: &str, cmd: Command) {
        self.feed(node, Input::Control(cmd));
    }

    /// Runs until `until` ms: deliveries, completions, pings and each engine's deadlines.
    pub fn run_until(&mut self, until: u64) {
        let until = Time(until);
        while let Some(((time, _), _)) = self.queue.first_key_value() {
            if *time > until {
                break;
            }
            let ((time, _), ev) = self.queue.pop_first().expect("queued");
            self.now = time;
            self.event(ev);
            self.check_now();
        }
        self.now = until;
    }

    /// Whether an invariant broke so far (a stateful group active on two nodes at once).
    pub fn violation(&self) -> Option<String> {
        self.report
            .violation
            .as_ref()
            .map(|(what, at)| format!("{what} at {}ms", at.0))
    }

    /// Times at which `node` logged an event of `kind` about `group`.
    pub fn events(&self, node: &str, kind: EventKind, group: &str) -> Vec<Time> {
        self.log
            .iter()
            .filter(|r| r.node == node)
            .filter(|r| {
                matches!(&r.action, Action::Log(e) if e.kind == kind && e.group.as_deref() == Some(group))
            })
            .map(|r| r.at)
            .collect()
    }

    /// `node`'s resource actions since `from`, as `+vip0`, `+app.service`, `-vip0` ...
    pub fn steps(&self, node: &str, from: u64) -> Vec<String> {
        self.log
            .iter()
            .filter(|r| r.node == node && r.at.0 >= from)
            .filter_map(|r| match &r.action {
                Action::AddVip { res, .. } => Some(format!("+vip{}", res.index)),
                Action::RemoveVip { res, .. } => Some(format!("-vip{}", res.index)),
                Action::StartUnit { unit, .. } => Some(format!("+{unit}")),
                Action::StopUnit { unit, .. } => Some(format!("-{unit}")),
                Action::RestartUnit { unit, .. } => Some(format!("~{unit}")),
                Action::Fence { node, .. } => Some(format!("fence {node}")),
                Action::Exit => Some("exit".into()),
                _ => None,
            })
            .collect()
    }

    /// When `node` first asked to start anything of `group` at or after `from`.
    pub fn first_start(&self, node: &str, group: &str, from: u64) -> Option<Time> {
        self.log
            .iter()
            .filter(|r| r.node == node && r.at.0 >= from)
            .find(|r| {
                matches!(&r.action, Action::AddVip { res, .. } | Action::StartUnit { res, .. } if res.group == group)
            })
            .map(|r| r.at)
    }

    /// When `node` finished stopping `group` (its `Released` event).
    pub fn released(&self, node: &str, group: &str, from: u64) -> Option<Time> {
        self.log
            .iter()
            .filter(|r| r.node == node && r.at.0 >= from)
            .find(|r| {
                matches!(&r.action, Action::Log(e) if e.kind == EventKind::Released
                    && e.group.as_deref() == Some(group))
            })
            .map(|r| r.at)
    }

    /// The nodes where `group` runs now, as their engines say.
    pub fn holders(&self, group: &str) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| {
                n.engine.as_ref().is_some_and(|e| {
                    e.runners()
                        .get(group)
                        .is_some_and(|r| r.phase == crate::engine::runner::Phase::Running)
                })
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Schedules a fault by hand (a pause, say) at `at` ms.
    pub fn fault_at(&mut self, at: u64, kind: FaultKind, node: &str, lasts: Duration) {
        let at = Time(at);
        let f = Fault {
            at,
            kind,
            node: Some(node.to_owned()),
            lasts,
            ..Fault::default()
        };
        self.at(at, Ev::Fault(f));
    }
}
