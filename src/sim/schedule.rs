//! The fault schedule of a run, drawn from its seed: when each fault hits, what it hits and
//! for how long, within what the manifest's safety settings promise to handle.

use std::time::Duration;

use super::SimConfig;
use super::faults::{Fault, FaultKind};
use super::rng::Rng;
use crate::engine::Time;
use crate::manifest::Manifest;

/// Draws the fault schedule of one run between `from` and `to`.
pub fn draw(rng: &mut Rng, m: &Manifest, cfg: &SimConfig, from: Time, to: Time) -> Vec<Fault> {
    let names: Vec<String> = m.nodes.keys().cloned().collect();
    let groups: Vec<String> = m.groups.keys().cloned().collect();
    let dead = m.heartbeat.dead_after.as_millis() as u64;
    let mut out = Vec::new();
    if cfg.faults.is_empty() || to <= from {
        return out;
    }
    for _ in 0..rng.range(1, 6) {
        let at = Time(rng.range(from.0, to.0 - 1));
        let kind = *rng.pick(&cfg.faults);
        let lasts =
            Duration::from_millis(rng.range(m.heartbeat.interval.as_millis() as u64, dead * 4));
        let node = Some(rng.pick(&names).clone());
        let mut f = Fault {
            at,
            kind,
            node,
            lasts,
            ..Fault::default()
        };
        match kind {
            FaultKind::Partition => {
                f.side = names.iter().filter(|_| rng.chance(0.5)).cloned().collect();
                f.node = None;
            }
            FaultKind::OneWay => f.by = Some(rng.pick(&names).clone()),
            FaultKind::Loss => {
                f.percent = rng.range(10, 60) as u8;
                f.node = None;
            }
            FaultKind::StartFail | FaultKind::UnitDies | FaultKind::Move if !groups.is_empty() => {
                let g = rng.pick(&groups).clone();
                let def = &m.groups[&g];
                f.resource = rng.range(0, def.resources.len() as u64 - 1) as usize;
                if kind == FaultKind::Move {
                    f.by = Some(rng.pick(&def.nodes).clone());
                }
                f.group = Some(g);
            }
            _ => {}
        }
        if kind != FaultKind::StartFail && kind != FaultKind::UnitDies || f.group.is_some() {
            out.push(f);
        }
    }
    out.sort_by_key(|f| f.at);
    if pings_decide(m) {
        out = without_blind_cuts(out);
    }
    out
}

/// Whether stateful groups of `m` rest on a ping tie-breaker: two voters, no fencing.
fn pings_decide(m: &Manifest) -> bool {
    m.nodes.len() == 2
        && !m.fencing_required
        && m.quorum.tie_breaker == Some(crate::manifest::model::TieBreaker::Ping)
}

/// Drops loss that would overlap a one-way cut. Together they can keep two nodes from hearing
/// each other for `dead_after` while both still reach the ping targets: a cut between them
/// that leaves both reaching the gateway, which no ping tie-breaker can decide (README). Each
/// alone, and loss with partitions, stays in.
fn without_blind_cuts(faults: Vec<Fault>) -> Vec<Fault> {
    let mut kept: Vec<Fault> = Vec::new();
    for f in faults {
        let other = match f.kind {
            FaultKind::Loss => FaultKind::OneWay,
            FaultKind::OneWay => FaultKind::Loss,
            _ => {
                kept.push(f);
                continue;
            }
        };
        let overlaps = kept
            .iter()
            .any(|k| k.kind == other && k.at < f.at.plus(f.lasts) && f.at < k.at.plus(k.lasts));
        if !overlaps {
            kept.push(f);
        }
    }
    kept
}
