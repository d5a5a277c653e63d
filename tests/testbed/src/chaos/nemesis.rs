//! The nemesis: draws faults from the seed, applies them and heals them, overlapping at random
//! within what the manifest's safety settings claim to cover (README, "Safety: what remains
//! assumed"): no fencing here, so an agent is never killed or stopped while a fault may hide
//! its node from a peer (within two dead windows either side); two nodes decided by a ping
//! tie-breaker never get two network faults at once (together they can blind both nodes to
//! each other while both reach the target); at most one fault per host, and fewer faults at
//! once than hosts.

use std::time::{Duration, Instant};

use super::faults::{self, ALL, Fault, Kind};
use super::rng::Rng;
use super::watch::ms;
use crate::cluster::Cluster;

/// What the nemesis did.
pub struct History {
    /// Every fault, in the order begun.
    pub faults: Vec<Fault>,
    /// Errors of faults that could not be applied or healed (e.g. `haagentctl` on a node
    /// whose agent was restarting), with their time.
    pub errors: Vec<(u64, String)>,
    /// When the last fault was healed.
    pub last_heal_ms: u64,
}

/// The kinds a campaign draws from: those asked for (`--kinds`), else the unsafe mode only
/// cuts the network, which is what its manifest cannot survive, and the safe mode draws all.
pub fn kinds(unsafe_mode: bool, only: &[Kind]) -> Vec<Kind> {
    if !only.is_empty() {
        only.to_vec()
    } else if unsafe_mode {
        vec![Kind::SilentCut, Kind::PortCut]
    } else {
        ALL.to_vec()
    }
}

/// Runs faults until `until`, then heals whatever is left.
pub fn run(
    c: &mut Cluster,
    o: &super::Options,
    manifest: &str,
    t0: Instant,
    until: Instant,
) -> History {
    let mut rng = Rng::new(o.seed);
    let kinds = kinds(o.unsafe_mode, &o.only);
    let mut h = History {
        faults: Vec::new(),
        errors: Vec::new(),
        last_heal_ms: 0,
    };
    let mut next_draw = ms(t0) + rng.range(500, 2000);
    let max_active = o.hosts.clamp(1, 2);
    while Instant::now() < until {
        let now = ms(t0);
        for i in 0..h.faults.len() {
            let f = &h.faults[i];
            if f.end_ms.is_none() && f.start_ms + f.lasts_ms <= now {
                heal_one(c, &mut h, i, manifest, t0);
            }
        }
        let active = h.faults.iter().filter(|f| f.end_ms.is_none()).count();
        if now >= next_draw && active < max_active {
            if let Some(mut f) = draw(&mut rng, &kinds, &h.faults, o, now, c) {
                f.start_ms = ms(t0);
                if let Err(e) = faults::apply(c, &mut f, manifest) {
                    h.errors.push((
                        now,
                        format!("{} on {}: {e}", f.kind.name(), faults::node(f.host)),
                    ));
                    f.end_ms = Some(ms(t0));
                }
                h.faults.push(f);
            }
            next_draw = ms(t0) + rng.range(300, 3000);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for i in 0..h.faults.len() {
        if h.faults[i].end_ms.is_none() {
            heal_one(c, &mut h, i, manifest, t0);
        }
    }
    h
}

fn heal_one(c: &mut Cluster, h: &mut History, i: usize, manifest: &str, t0: Instant) {
    let f = h.faults[i].clone();
    if let Err(e) = faults::heal(c, &f, manifest) {
        h.errors.push((
            ms(t0),
            format!("healing {} on {}: {e}", f.kind.name(), faults::node(f.host)),
        ));
    }
    let end = ms(t0);
    h.faults[i].end_ms = Some(end);
    h.last_heal_ms = h.last_heal_ms.max(end);
}

/// Draws the next fault, or `None` when the kind drawn fits nowhere now.
fn draw(
    rng: &mut Rng,
    kinds: &[Kind],
    past: &[Fault],
    o: &super::Options,
    now: u64,
    c: &Cluster,
) -> Option<Fault> {
    let kind = *rng.pick(kinds);
    let (lo, hi) = kind.lasts();
    let length = rng.range(lo, hi);
    let host = rng.range(0, o.hosts as u64 - 1) as usize;
    let other = (host + rng.range(1, o.hosts as u64 - 1) as usize) % o.hosts;
    let param = match kind {
        Kind::Loss => rng.range(20, 60),
        Kind::Move => rng.range(0, 1),
        _ => 0,
    };
    let busy = |i: usize| past.iter().any(|f| f.end_ms.is_none() && f.host == i);
    // Within two dead windows of its end, a fault still counts for the rules below.
    let dead = o.timers().dead;
    let near = |f: &Fault| f.end_ms.is_none_or(|e| e + 2 * dead > now);
    let host = if matches!(kind, Kind::UnitCrash | Kind::StuckStop) {
        // The unit is killed where it runs, as the checker sees it.
        let cgs = super::watch::cgroups(&c.bed.config().prefix, o.hosts);
        (0..o.hosts).find(|i| super::watch::host_seen(&cgs[*i], &[]).unit)?
    } else {
        host
    };
    if busy(host) {
        return None;
    }
    // A stuck stop's move goes to a host other than the holder the draw ended on.
    let other = if other == host {
        (host + 1) % o.hosts
    } else {
        other
    };
    let active = || past.iter().filter(|f| f.end_ms.is_none());
    if active().any(|f| f.kind.global()) || (kind.global() && active().next().is_some()) {
        return None;
    }
    if kind.agentless() && past.iter().any(|f| f.kind.hides() && near(f)) {
        return None;
    }
    if kind.hides() && past.iter().any(|f| f.kind.agentless() && near(f)) {
        return None;
    }
    let ping_decides = o.hosts == 2 && !o.unsafe_mode;
    if ping_decides && kind.hides() && past.iter().any(|f| f.kind.hides() && f.end_ms.is_none()) {
        return None;
    }
    Some(Fault {
        kind,
        host,
        other: matches!(kind, Kind::OneWay | Kind::Move | Kind::StuckStop).then_some(other),
        param,
        lasts_ms: length,
        start_ms: now,
        end_ms: None,
        pid: None,
    })
}
