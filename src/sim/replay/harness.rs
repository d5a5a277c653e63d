//! A small two-node cluster in memory for the recorder's tests: two engines, datagrams that
//! arrive 1 ms after they are sent, resources that start and stop in 5 ms, a ping target both
//! reach; and a script of one planned move and one power cut. Every input of one node is kept
//! with the actions its engine returned, as the daemon records them.

use std::collections::BTreeMap;

use super::format::{self, EntryRef, Header, Start};
use crate::engine::{Action, Command, Engine, Input, Probe, Time};

/// Two nodes, 100 ms heartbeats, a stateful group `web` of a VIP and a unit.
pub const MANIFEST: &str = concat!(
    "cluster: c\nnodes:\n  alpha: { address: 10.0.0.1 }\n  beta: { address: 10.0.0.2 }\n",
    "heartbeat: { interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }\n",
    "auth: { key_file: /k }\nquorum: { two_node: { tie_breaker: ping } }\n",
    "connectivity: { ping: [10.0.0.254], interval: 100ms }\n",
    "groups:\n  web:\n    nodes: [alpha, beta]\n    resources:\n",
    "      - { vip: 10.0.0.10/24, interface: eth0 }\n      - unit: app.service\n",
);

/// One recorded input.
pub type Rec = (Time, Input, Vec<Action>);

/// The recorded node's start and every input it handled, with the actions returned.
pub struct Recorded {
    /// How its engine was started.
    pub start: Start,
    /// Its inputs.
    pub inputs: Vec<Rec>,
}

impl Recorded {
    /// The recording as one file's text (header and one line per input).
    pub fn text(&self) -> String {
        self.file(0, 0..self.inputs.len())
    }

    /// File `index` of the recording, holding inputs `range`.
    pub fn file(&self, index: u64, range: std::ops::Range<usize>) -> String {
        let header = Header {
            haagent_recording: format::VERSION,
            file: index,
            first_input: range.start as u64,
            t: self.inputs.get(range.start).map_or(Time(0), |r| r.0),
            wall_ms: 0,
            start: self.start.clone(),
        };
        let mut text = format::header_line(&header).unwrap();
        for n in range {
            let (t, input, actions) = &self.inputs[n];
            let e = EntryRef {
                n: n as u64,
                t: *t,
                input,
                actions,
            };
            text.push_str(&format::entry_line(&e).unwrap());
        }
        text
    }
}

struct Node {
    engine: Engine,
    up: bool,
}

/// Runs the script and returns what `alpha` handled: both start; at 3 s the operator moves
/// `web` to beta (on alpha); at 5 s beta loses power, so alpha takes `web` back; until 7 s.
pub fn run() -> Recorded {
    let m = crate::manifest::parse(MANIFEST)
        .manifest
        .expect("valid manifest");
    let start = Start::new(Time(0), "alpha", m.clone(), vec![1], 7).unwrap();
    let mut nodes: BTreeMap<String, Node> = ["alpha", "beta"]
        .into_iter()
        .map(|n| {
            let engine = Engine::new(Time(0), n, m.clone(), vec![1], 7);
            (n.to_owned(), Node { engine, up: true })
        })
        .collect();
    let mut queue: BTreeMap<(Time, u64), (String, Input)> = BTreeMap::new();
    let mut id = 0;
    let mut at = |q: &mut BTreeMap<_, _>, t: Time, to: &str, input: Input| {
        id += 1;
        q.insert((t, id), (to.to_owned(), input));
    };
    for n in ["alpha", "beta"] {
        at(&mut queue, Time(0), n, Input::Probed(Probe::default()));
        for t in (0..7000).step_by(100) {
            at(&mut queue, Time(t + 1), n, Input::Ping { reachable: 1 });
        }
    }
    let failover = Command::Failover {
        group: "web".into(),
        to: "beta".into(),
    };
    at(&mut queue, Time(3000), "alpha", Input::Control(failover));
    let mut inputs = Vec::new();
    let mut beta_cut = false;
    loop {
        let tick = nodes
            .iter()
            .filter(|(_, n)| n.up)
            .filter_map(|(name, n)| Some((n.engine.next_deadline()?, name.clone())))
            .min();
        let next_queued = queue.first_key_value().map(|(k, _)| k.0);
        let (t, to, input) = match (tick, next_queued) {
            (Some((d, name)), q) if q.is_none_or(|q| d < q) => (d, name, Input::Tick),
            (_, Some(_)) => {
                let ((t, _), (to, input)) = queue.pop_first().unwrap();
                (t, to, input)
            }
            _ => break,
        };
        if t > Time(7000) {
            break;
        }
        if !beta_cut && t >= Time(5000) {
            beta_cut = true;
            nodes.get_mut("beta").unwrap().up = false;
        }
        let Some(node) = nodes.get_mut(&to).filter(|n| n.up) else {
            continue;
        };
        let actions = node.engine.handle(t, input.clone());
        if to == "alpha" {
            inputs.push((t, input, actions.clone()));
        }
        for a in actions {
            let other = if to == "alpha" { "beta" } else { "alpha" };
            match a {
                Action::Send { link, datagram, .. } => {
                    let heard = Input::Heard { link, datagram };
                    at(&mut queue, Time(t.0 + 1), other, heard);
                }
                Action::AddVip { res, .. } | Action::StartUnit { res, .. } => {
                    let done = done(res, crate::engine::Op::Start);
                    at(&mut queue, Time(t.0 + 5), &to, done);
                }
                Action::RemoveVip { res, .. } | Action::StopUnit { res, .. } => {
                    let done = done(res, crate::engine::Op::Stop);
                    at(&mut queue, Time(t.0 + 5), &to, done);
                }
                _ => {}
            }
        }
    }
    Recorded { start, inputs }
}

fn done(res: crate::engine::ResourceRef, op: crate::engine::Op) -> Input {
    Input::Done {
        res,
        op,
        ok: true,
        detail: String::new(),
    }
}
