//! The fault schedule of a run, drawn from its seed: when each fault hits, what it hits and
//! for how long, within what the manifest's safety settings promise to handle.

use std::time::Duration;

use super::SimConfig;
use super::faults::{Fault, FaultKind, pings_decide};
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
            FaultKind::GatewaySplit => {
                f.side = names.iter().filter(|_| rng.chance(0.5)).cloned().collect();
                if f.side.is_empty() || f.side.len() == names.len() {
                    f.side = [names[0].clone()].into();
                }
                f.node = None;
            }
            FaultKind::Islands => {
                for n in &names {
                    match rng.range(0, 2) {
                        0 => f.side.insert(n.clone()),
                        1 => f.other.insert(n.clone()),
                        _ => false,
                    };
                }
                f.node = None;
            }
            FaultKind::OneWay | FaultKind::LinkCut => f.by = Some(rng.pick(&names).clone()),
            FaultKind::Kill => {
                // systemd restarts it within the watchdog bound (RestartSec=100ms); half the
                // time it was frozen first, until its watchdog killed it.
                let watchdog = m.heartbeat.watchdog().as_millis() as u64;
                f.lasts = Duration::from_millis(rng.range(1, watchdog.max(1)));
                if rng.chance(0.5) {
                    f.frozen = m.heartbeat.watchdog();
                }
            }
            FaultKind::Stop if rng.chance(0.5) => {
                // It returns cut off from the others (who has the ping targets is drawn): its
                // return must not start what the others run now.
                let alone: std::collections::BTreeSet<String> = f.node.iter().cloned().collect();
                let side = if rng.chance(0.5) {
                    alone
                } else {
                    names
                        .iter()
                        .filter(|n| !alone.contains(*n))
                        .cloned()
                        .collect()
                };
                // Faults begin within the fault phase, like the others.
                let cut_at = at.plus(f.lasts / 2);
                let lasts = f.lasts / 2
                    + Duration::from_millis(
                        rng.range(0, m.heartbeat.initial_dead.as_millis() as u64 * 2),
                    );
                if cut_at < to {
                    out.push(Fault {
                        at: cut_at,
                        kind: FaultKind::Partition,
                        node: None,
                        side,
                        lasts,
                        ..Fault::default()
                    });
                }
            }
            FaultKind::Loss => {
                f.percent = rng.range(10, 60) as u8;
                f.node = None;
            }
            FaultKind::Maintenance => {
                // Half the time the whole cluster, else one group; long enough for agents to
                // be stopped and started again inside it, as an upgrade does.
                if rng.chance(0.5) && !groups.is_empty() {
                    f.group = Some(rng.pick(&groups).clone());
                }
                f.lasts = Duration::from_millis(rng.range(dead, dead * 8));
            }
            FaultKind::StartFail
            | FaultKind::UnitDies
            | FaultKind::Move
            | FaultKind::StrayStart
            | FaultKind::UnitRestart
            | FaultKind::StopFail
            | FaultKind::Reload
            | FaultKind::CheckFails
                if !groups.is_empty() =>
            {
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
        let needs_group = matches!(
            kind,
            FaultKind::StartFail
                | FaultKind::UnitDies
                | FaultKind::StrayStart
                | FaultKind::UnitRestart
                | FaultKind::CheckFails
        );
        if !needs_group || f.group.is_some() {
            out.push(f);
        }
    }
    out.sort_by_key(|f| f.at);
    if pings_decide(m) {
        out = without_blind_cuts(out, m.heartbeat.dead_after * 2);
    }
    if !m.fencing_required {
        out = without_kills_in_the_dark(out, m.heartbeat.dead_after);
    }
    out
}

/// Drops kills of an agent, and stops that fail, while a network fault may keep a peer from
/// hearing its node (within `dead_after` of it). While the agent is down, or its stop fails,
/// nothing can release its resources; a peer that stops hearing the node may take over before
/// they are stopped: that needs fencing (which the manifest lacks), not a rule of the engine.
fn without_kills_in_the_dark(faults: Vec<Fault>, dead_after: Duration) -> Vec<Fault> {
    // A paused machine hides itself as well: peers take over while it is paused, and on
    // resume its own copy must stop at once.
    let hiding = |f: &Fault| {
        matches!(
            f.kind,
            FaultKind::Partition
                | FaultKind::OneWay
                | FaultKind::Loss
                | FaultKind::VmPause
                | FaultKind::GatewaySplit
                | FaultKind::LinkCut
                | FaultKind::Islands
                | FaultKind::Delay
        )
    };
    let spans: Vec<(Time, Time, bool)> = faults
        .iter()
        .filter(|f| hiding(f))
        .map(|f| (f.at, f.at.plus(f.lasts), f.kind == FaultKind::VmPause))
        .collect();
    faults
        .into_iter()
        .filter(|f| {
            if f.kind != FaultKind::Kill && f.kind != FaultKind::StopFail {
                return true;
            }
            // A stop that fails is tried again within four dead_after.
            let blocked = if f.kind == FaultKind::StopFail {
                (dead_after * 4).max(Duration::from_secs(1))
            } else {
                Duration::ZERO
            };
            let (from, to) = (
                Time(f.at.0.saturating_sub(dead_after.as_millis() as u64)),
                f.at.plus(f.frozen + f.lasts + blocked + dead_after),
            );
            // A paused machine stops an agent being killed anyway; it hides a failed stop.
            let hides = |vm: bool| !vm || f.kind == FaultKind::StopFail;
            !spans
                .iter()
                .any(|(a, b, vm)| hides(*vm) && *a < to && from < *b)
        })
        .collect()
}

/// Drops faults that would together blind two nodes to each other in both directions:
/// loss or a delay beyond `dead_after` (of one node's datagrams) overlapping a one-way cut, loss
/// or a delay of the other node. Together they can keep two nodes from hearing each other for
/// `dead_after` while both still reach the ping targets: a cut between them that leaves both
/// reaching the gateway, which no ping tie-breaker can decide (README; `gateway-split` draws
/// it on purpose). Each alone, and loss with partitions, stays in. A delay's datagrams arrive
/// up to `delay_tail` (the longest delay the world gives, `inject.rs`) after it heals, so its
/// span runs that much longer.
fn without_blind_cuts(faults: Vec<Fault>, delay_tail: Duration) -> Vec<Fault> {
    let blinds = |a: &Fault, b: &Fault| match (a.kind, b.kind) {
        (FaultKind::Loss, FaultKind::OneWay) | (FaultKind::OneWay, FaultKind::Loss) => true,
        (FaultKind::Delay, FaultKind::Delay) => a.node != b.node,
        (FaultKind::Delay, k) | (k, FaultKind::Delay) => {
            matches!(k, FaultKind::OneWay | FaultKind::Loss)
        }
        _ => false,
    };
    let ends = |f: &Fault| match f.kind {
        FaultKind::Delay => f.at.plus(f.lasts + delay_tail),
        _ => f.at.plus(f.lasts),
    };
    let mut kept: Vec<Fault> = Vec::new();
    for f in faults {
        let overlaps = kept
            .iter()
            .any(|k| blinds(k, &f) && k.at < ends(&f) && f.at < ends(k));
        if !overlaps {
            kept.push(f);
        }
    }
    kept
}
