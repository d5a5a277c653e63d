//! The engine target's harness: one node's engine, fed inputs drawn from the fuzz data as the
//! daemon's loop would feed them (datagrams of peers signed with the cluster's key and decoded
//! by the real decoder, deadlines, completions of the actions it asked for, units and addresses
//! seen, operator commands, reloads, pauses, shutdown), with the invariants of `check.rs`
//! checked after every input. A broken invariant panics, which libFuzzer reports as a crash.

mod check;
mod datagrams;
mod inputs;

use std::collections::BTreeMap;

use haagent::auth::KeyRing;
use haagent::engine::{Action, Engine, Input, Op, ResourceRef, Time};
use haagent::manifest::Manifest;
use haagent::protocol::wire::Names;
use haagent::protocol::wire::pages::Assembler;
use libfuzzer_sys::arbitrary::{Result, Unstructured};

use crate::manifests;

/// Inputs per run at most: long enough for start-up, a failover and a reload.
const MAX_STEPS: usize = 400;

/// Two keys, as during a rotation: the engine may be told to sign with either.
const RING: &str = "\
1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
2 202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f
";

/// One node's engine and what the harness remembers to draw plausible inputs.
pub struct Harness {
    engine: Engine,
    now: Time,
    me: String,
    /// Index in `manifests::all()` of the manifest in force.
    shape: usize,
    ring: KeyRing,
    names: Names,
    /// Pages gathered per link, as each link's receiver does.
    pages: BTreeMap<String, Assembler>,
    /// Per peer, the (generation, sequence) it sent last.
    peers: BTreeMap<String, (u64, u64)>,
    /// Sequence numbers of the engine's latest datagrams, oldest first.
    sent: Vec<u64>,
    /// Resource actions asked for and not yet reported done.
    pending: Vec<(ResourceRef, Op)>,
    /// Nodes a fence unit was started for and not yet reported.
    fencing: Vec<String>,
    check: check::Checker,
}

/// Runs the engine on one fuzz input.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(mut h) = Harness::new(&mut u) else {
        return;
    };
    for _ in 0..MAX_STEPS {
        if u.is_empty() || h.step(&mut u).is_err() {
            break;
        }
    }
    h.check.at_end(&h.engine, h.now);
}

impl Harness {
    fn new(u: &mut Unstructured<'_>) -> Result<Harness> {
        let shape = u.choose_index(manifests::all().len())?;
        let m: &Manifest = &manifests::all()[shape];
        let me = (*u.choose(&["n1", "n2"])?).to_owned();
        let generation = *u.choose(&[1, 2, 1_700_000_000, u64::from(u32::MAX), u64::MAX])?;
        let now = Time(*u.choose(&[0, 1, 86_400_000, 1 << 40])?);
        let key_ids = if u.arbitrary()? { vec![1] } else { vec![2, 1] };
        let engine = Engine::new(now, &me, m.clone(), key_ids, generation);
        let mut h = Harness {
            engine,
            now,
            me,
            shape,
            ring: KeyRing::parse(RING).expect("the fixed ring parses"),
            names: Names::of(m),
            pages: BTreeMap::new(),
            peers: BTreeMap::new(),
            sent: Vec::new(),
            pending: Vec::new(),
            fencing: Vec::new(),
            check: check::Checker::default(),
        };
        let probe = h.probe(u)?;
        h.handle(Input::Probed(probe), false);
        Ok(h)
    }

    fn manifest(&self) -> &'static Manifest {
        &manifests::all()[self.shape]
    }

    /// Feeds one input drawn from `u`.
    fn step(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        match u.int_in_range(0..=15u8)? {
            0..=5 => self.heard(u)?,
            6 | 7 => {
                if let Some(t) = self.engine.next_deadline() {
                    self.now = self.now.max(t);
                }
                self.handle(Input::Tick, true);
            }
            8 => {
                let ms = *u.choose(&[1, 10, 50, 100, 250, 500, 1000, 3000, 60_000])?;
                self.now = self.now.plus(std::time::Duration::from_millis(ms));
                self.handle(Input::Tick, true);
            }
            9 | 10 => {
                let input = self.done(u)?;
                self.handle(input, false);
            }
            11 => {
                let input = self.fenced(u)?;
                self.handle(input, false);
            }
            12 => {
                let input = self.unit(u)?;
                self.handle(input, false);
            }
            13 => {
                let input = self.addr(u)?;
                self.handle(input, false);
            }
            14 => {
                let input = self.command(u)?;
                self.handle(input, false);
            }
            _ => {
                let input = self.other(u)?;
                self.handle(input, false);
            }
        }
        Ok(())
    }

    /// Hands `input` to the engine at the current time, checks the invariants and notes what
    /// the engine asked for.
    fn handle(&mut self, input: Input, tick: bool) {
        if let Input::Reload(m) = &input {
            self.names = Names::of(m);
        }
        let shown = trace().then(|| format!("{:?} {input:?}", self.now));
        let actions = self.engine.handle(self.now, input);
        if let Some(shown) = shown {
            eprintln!(
                "{shown}\n  -> {actions:?}\n  next {:?}",
                self.engine.next_deadline()
            );
        }
        self.check
            .after(&self.engine, self.now, &actions, tick, &self.ring);
        for a in actions {
            match a {
                Action::StartUnit { res, .. } | Action::AddVip { res, .. } => {
                    self.pending.push((res, Op::Start))
                }
                Action::StopUnit { res, .. } | Action::RemoveVip { res, .. } => {
                    self.pending.push((res, Op::Stop))
                }
                Action::Fence { node, .. } => self.fencing.push(node),
                Action::Send { datagram, .. } => {
                    if self.sent.last() != Some(&datagram.seq) {
                        self.sent.push(datagram.seq);
                    }
                    if self.sent.len() > 16 {
                        self.sent.remove(0);
                    }
                }
                _ => {}
            }
        }
        // The drivers answer every action once; a harness that kept more would only grow.
        self.pending.truncate(256);
        self.fencing.truncate(64);
    }
}

/// Whether to print every input and the actions it gave (`HAAGENT_FUZZ_TRACE=1`, to read the
/// story behind a crash: `fuzz/target/*/release/engine CRASH-FILE`).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("HAAGENT_FUZZ_TRACE").is_some())
}
