//! An in-memory cluster for scenarios: engines, a network with 1 ms latency and cuts, resources
//! that finish 10 ms after they are asked (or fail when told to), fence units that succeed
//! (or fail for the nodes told), and
//! ping targets each node reaches or not; agents that crash with their node or are killed
//! alone. Every action is recorded with its time and node.

use std::collections::{BTreeMap, BTreeSet};

use crate::auth::KeyRing;
use crate::engine::runner::Res;
use crate::engine::{Action, Command, Engine, EventKind, Input, Op, ResourceRef, Time};
use crate::manifest::Manifest;

pub const KEY: &str = "1 5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e\n";

/// Parses a manifest written for a test.
pub fn manifest(text: &str) -> Manifest {
    let report = crate::manifest::parse(text);
    report
        .manifest
        .unwrap_or_else(|| panic!("{:?}", report.problems))
}

/// Two nodes, 100 ms heartbeats, a ping tie-breaker, one stateful group `web` (VIP + unit).
pub fn two_node(extra_group: &str) -> Manifest {
    manifest(&format!(
        "cluster: c\nnodes:\n  alpha: {{ address: 10.0.0.1 }}\n  beta: {{ address: 10.0.0.2 }}\n\
         heartbeat: {{ interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }}\n\
         auth: {{ key_file: /k }}\nquorum: {{ two_node: {{ tie_breaker: ping }} }}\n\
         connectivity: {{ ping: [10.0.0.254], interval: 100ms }}\n\
         groups:\n  web:\n    nodes: [alpha, beta]\n{extra_group}    resources:\n\
         \x20     - {{ vip: 10.0.0.10/24, interface: eth0 }}\n      - unit: app.service\n"
    ))
}

/// One recorded action.
#[derive(Clone, Debug)]
pub struct Rec {
    pub at: Time,
    pub node: String,
    pub action: Action,
}

enum Ev {
    Deliver {
        to: String,
        bytes: Vec<u8>,
    },
    Input {
        to: String,
        generation: u64,
        input: Input,
    },
}

/// The cluster.
pub struct Cluster {
    pub m: Manifest,
    pub now: Time,
    pub engines: BTreeMap<String, Engine>,
    generation: BTreeMap<String, u64>,
    queue: BTreeMap<(Time, u64), Ev>,
    next_id: u64,
    /// (from, to) pairs whose datagrams are dropped.
    pub cut: BTreeSet<(String, String)>,
    /// Nodes that reach the ping targets.
    pub reach: BTreeSet<String>,
    /// The next start of (node, group, resource) fails.
    pub fail_start: BTreeSet<(String, String, usize)>,
    /// Nodes whose fence unit fails.
    pub unfenceable: BTreeSet<String>,
    pub log: Vec<Rec>,
    next_ping: Time,
}

impl Cluster {
    /// A cluster of `m` where no node runs yet and every node reaches the ping targets.
    pub fn new(m: Manifest) -> Cluster {
        let reach = m.nodes.keys().cloned().collect();
        Cluster {
            m,
            now: Time(0),
            engines: BTreeMap::new(),
            generation: BTreeMap::new(),
            queue: BTreeMap::new(),
            next_id: 0,
            cut: BTreeSet::new(),
            reach,
            fail_start: BTreeSet::new(),
            unfenceable: BTreeSet::new(),
            log: Vec::new(),
            next_ping: Time(0),
        }
    }

    /// `m` with every node booted at time 0, run until `until` ms.
    pub fn running(m: Manifest, until: u64) -> Cluster {
        let mut c = Cluster::new(m);
        let names: Vec<String> = c.m.nodes.keys().cloned().collect();
        for n in &names {
            c.boot(n);
        }
        c.run_until(until);
        c
    }

    /// Starts (or restarts) `node` with a new generation.
    pub fn boot(&mut self, node: &str) {
        let keys = KeyRing::parse(KEY).expect("fixed key");
        let generation = self.generation.entry(node.to_owned()).or_default();
        *generation += 1;
        let e = Engine::new(self.now, node, self.m.clone(), keys, *generation);
        self.engines.insert(node.to_owned(), e);
        self.input(node, Input::Tick);
    }

    /// The agent is killed: the engine and its pending completions are gone, its resources
    /// keep running. Returns what is up there, for [`Cluster::restart`].
    pub fn kill(&mut self, node: &str) -> Vec<ResourceRef> {
        let up = self.engines.get(node).map_or_else(Vec::new, |e| {
            e.runners()
                .iter()
                .flat_map(|(g, r)| {
                    r.res
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| **s == Res::Up)
                        .map(|(i, _)| ResourceRef {
                            group: g.clone(),
                            resource: i,
                        })
                })
                .collect()
        });
        self.crash(node);
        up
    }

    /// Starts `node` again, reporting `found` up before anything else.
    pub fn restart(&mut self, node: &str, found: Vec<ResourceRef>) {
        let keys = KeyRing::parse(KEY).expect("fixed key");
        let generation = self.generation.entry(node.to_owned()).or_default();
        *generation += 1;
        let e = Engine::new(self.now, node, self.m.clone(), keys, *generation);
        self.engines.insert(node.to_owned(), e);
        self.input(node, Input::Found { resources: found });
        // The daemon pings at start-up.
        if !self.m.connectivity.ping.is_empty() {
            let reachable = u16::from(self.reach.contains(node));
            self.input(node, Input::Ping { reachable });
        }
    }

    /// Power cut: the engine is gone, and so are its pending completions.
    pub fn crash(&mut self, node: &str) {
        self.engines.remove(node);
        *self.generation.entry(node.to_owned()).or_default() += 1;
    }

    /// Cuts both directions between `a` and `b`, or heals them.
    pub fn split(&mut self, a: &str, b: &str, cut: bool) {
        for pair in [(a.to_owned(), b.to_owned()), (b.to_owned(), a.to_owned())] {
            if cut {
                self.cut.insert(pair);
            } else {
                self.cut.remove(&pair);
            }
        }
    }

    /// Feeds `input` to `node` now.
    pub fn input(&mut self, node: &str, input: Input) {
        let now = self.now;
        let Some(e) = self.engines.get_mut(node) else {
            return;
        };
        let actions = e.handle(now, input);
        for a in actions {
            self.act(node, a);
        }
    }

    /// An operator command on `node`.
    pub fn command(&mut self, node: &str, cmd: Command) {
        self.input(node, Input::Control(cmd));
    }

    fn at(&mut self, t: Time, ev: Ev) {
        self.next_id += 1;
        self.queue.insert((t, self.next_id), ev);
    }

    fn act(&mut self, node: &str, a: Action) {
        self.log.push(Rec {
            at: self.now,
            node: node.to_owned(),
            action: a.clone(),
        });
        let generation = self.generation.get(node).copied().unwrap_or(0);
        let later = Time(self.now.0 + 10);
        let done = |group: String, resource: usize, op: Op, ok: bool| Input::Done {
            group,
            resource,
            op,
            ok,
            detail: if ok { String::new() } else { "failed".into() },
        };
        let input = match a {
            Action::Send { bytes, .. } => {
                let peers: Vec<String> = self
                    .m
                    .nodes
                    .keys()
                    .filter(|n| *n != node)
                    .cloned()
                    .collect();
                for to in peers {
                    if !self.cut.contains(&(node.to_owned(), to.clone())) {
                        let bytes = bytes.clone();
                        self.at(Time(self.now.0 + 1), Ev::Deliver { to, bytes });
                    }
                }
                return;
            }
            Action::AddVip {
                group, resource, ..
            }
            | Action::StartUnit {
                group, resource, ..
            } => {
                let ok = !self
                    .fail_start
                    .remove(&(node.to_owned(), group.clone(), resource));
                done(group, resource, Op::Start, ok)
            }
            Action::RemoveVip {
                group, resource, ..
            }
            | Action::StopUnit {
                group, resource, ..
            } => done(group, resource, Op::Stop, true),
            Action::Fence { node: target, .. } => {
                let ok = !self.unfenceable.contains(&target);
                if ok {
                    self.crash(&target);
                }
                Input::Fenced { node: target, ok }
            }
            _ => return,
        };
        let to = node.to_owned();
        self.at(
            later,
            Ev::Input {
                to,
                generation,
                input,
            },
        );
    }

    /// Runs until `until` ms: deliveries, completions, pings every 100 ms, and each engine's
    /// deadlines.
    pub fn run_until(&mut self, until: u64) {
        let until = Time(until);
        loop {
            let queued = self.queue.first_key_value().map(|((t, _), _)| *t);
            let deadline = self
                .engines
                .iter()
                .filter_map(|(n, e)| e.next_deadline().map(|t| (t.max(self.now), n.clone())))
                .min();
            let next = [queued, deadline.as_ref().map(|d| d.0), Some(self.next_ping)]
                .into_iter()
                .flatten()
                .min()
                .expect("pings are always due");
            if next > until {
                self.now = until;
                return;
            }
            self.now = next;
            if queued == Some(next) {
                let (_, ev) = self.queue.pop_first().expect("queued");
                self.event(ev);
            } else if self.next_ping == next {
                self.ping();
            } else if let Some((_, n)) = deadline {
                self.input(&n, Input::Tick);
            }
        }
    }

    fn event(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver { to, bytes } => {
                let input = Input::Datagram {
                    link: "link0".into(),
                    bytes,
                };
                self.input(&to, input);
            }
            Ev::Input {
                to,
                generation,
                input,
            } => {
                if self.generation.get(&to) == Some(&generation) {
                    self.input(&to, input);
                }
            }
        }
    }

    fn ping(&mut self) {
        self.next_ping = Time(self.next_ping.0 + 100);
        if self.m.connectivity.ping.is_empty() {
            return;
        }
        let names: Vec<String> = self.engines.keys().cloned().collect();
        for n in names {
            let reachable = u16::from(self.reach.contains(&n));
            self.input(&n, Input::Ping { reachable });
        }
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
                Action::AddVip { resource, .. } => Some(format!("+vip{resource}")),
                Action::RemoveVip { resource, .. } => Some(format!("-vip{resource}")),
                Action::StartUnit { unit, .. } => Some(format!("+{unit}")),
                Action::StopUnit { unit, .. } => Some(format!("-{unit}")),
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
                matches!(&r.action, Action::AddVip { group: g, .. } | Action::StartUnit { group: g, .. } if g == group)
            })
            .map(|r| r.at)
    }

    /// When `node` finished stopping `group` (its `Release` "all resources are stopped").
    pub fn released(&self, node: &str, group: &str, from: u64) -> Option<Time> {
        self.log
            .iter()
            .filter(|r| r.node == node && r.at.0 >= from)
            .find(|r| {
                matches!(&r.action, Action::Log(e) if e.kind == EventKind::Release
                    && e.group.as_deref() == Some(group)
                    && e.reason == "all resources are stopped")
            })
            .map(|r| r.at)
    }

    /// The nodes where `group` runs now.
    pub fn holders(&self, group: &str) -> Vec<String> {
        self.engines
            .iter()
            .filter(|(_, e)| {
                e.runners()
                    .get(group)
                    .is_some_and(|r| r.phase == crate::engine::runner::Phase::Running)
            })
            .map(|(n, _)| n.clone())
            .collect()
    }
}
