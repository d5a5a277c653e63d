//! What the drivers see on this node, and what it means. A managed unit's state or a VIP's
//! presence is reported whoever changed it; the engine compares it with what it runs here:
//! - a resource of a group running here that goes down is lost: a VIP is put back, a unit fails
//!   the group, unless systemd is restarting it in place (a `restart` job, or `Restart=`
//!   bringing it back), which is not a failure;
//! - a resource that comes up here while its group does not run here is a stray copy (a unit
//!   started by hand, by a dependency or a timer; a VIP added by hand) and is stopped, or, for
//!   a unit of a group set to `on_stray: warn`, logged once and left (`strays.rs`);
//! - anything else is this node's own doing (its starts and stops report through
//!   [`Input::Done`](super::Input::Done)) and changes nothing.

use super::runner::{Phase, Res};
use super::strays::{StrayAction, running};
use super::{Action, Active, AddrSeen, Engine, JobKind, ResourceRef, Time, UnitSeen};
use crate::manifest::model::ResourceKind;

impl Engine {
    /// A managed unit changed state here.
    pub(super) fn unit_seen(&mut self, now: Time, seen: UnitSeen, out: &mut Vec<Action>) {
        let before = self.units_seen.insert(seen.unit.clone(), seen.clone());
        // A warned-about stray is logged when it starts, not at each of its state changes.
        let was_running = before.as_ref().is_some_and(running);
        let named = |k: &ResourceKind| matches!(k, ResourceKind::Unit(u) if *u == seen.unit);
        for res in self.resources_where(named) {
            // Recorded above; acted on when maintenance ends (`maintenance.rs`).
            if self.maintained(&res.group) {
                continue;
            }
            let Some((_, runner)) = self.group_mut(&res) else {
                continue;
            };
            let (state, phase) = (runner.res[res.index], runner.phase);
            let detail = format!("{} is {} ({})", seen.unit, word(seen.active), seen.sub);
            match state {
                Res::Up if held(phase) && lost(&seen) => self.lost(now, &res, &detail, out),
                Res::Stuck if !seen.active.running() => self.unstuck(now, &res, out),
                Res::Down if phase != Phase::Starting && running(&seen) => {
                    let origin = seen.origin.as_deref();
                    if !self.stray_left_running(&res) {
                        self.stray(now, &res, &detail, origin, out);
                    } else if !was_running {
                        let warn = self.stray_seen(&res, &detail, origin, StrayAction::LeftRunning);
                        out.push(warn);
                    }
                }
                _ => {}
            }
        }
    }

    /// A VIP address of the cluster appeared or vanished here.
    pub(super) fn addr_seen(&mut self, now: Time, seen: &AddrSeen, out: &mut Vec<Action>) {
        let key = (seen.addr, seen.interface.clone());
        if seen.present {
            self.vips_seen.insert(key);
        } else {
            self.vips_seen.remove(&key);
        }
        let at = |k: &ResourceKind| matches!(k, ResourceKind::Vip(v) if v.address == seen.addr && v.interface == seen.interface);
        for res in self.resources_where(at) {
            if self.maintained(&res.group) {
                continue;
            }
            let Some((_, runner)) = self.group_mut(&res) else {
                continue;
            };
            let (state, phase) = (runner.res[res.index], runner.phase);
            match (state, seen.present) {
                (Res::Stuck, false) => self.unstuck(now, &res, out),
                (Res::Up, false) if held(phase) => {
                    let detail = format!(
                        "address {} was removed from the interface ({})",
                        seen.addr, seen.interface
                    );
                    self.lost(now, &res, &detail, out);
                }
                (Res::Down, true) if phase != Phase::Starting => {
                    let detail = format!("address {} appeared on {}", seen.addr, seen.interface);
                    self.stray(now, &res, &detail, None, out);
                }
                _ => {}
            }
        }
    }

    /// A resource whose stop failed is down after all.
    fn unstuck(&mut self, now: Time, res: &ResourceRef, out: &mut Vec<Action>) {
        let Some((g, runner)) = self.group_mut(res) else {
            return;
        };
        let (actions, outcome) = runner.unstuck(&res.group, &g, res.index);
        out.extend(actions);
        self.outcome(now, &res.group, outcome, out);
    }

    /// Stops a stray copy of `res` here.
    fn stray(
        &mut self,
        now: Time,
        res: &ResourceRef,
        detail: &str,
        origin: Option<&str>,
        out: &mut Vec<Action>,
    ) {
        let Some((g, runner)) = self.group_mut(res) else {
            return;
        };
        let (actions, outcome) = runner.stray(&res.group, &g, res.index);
        if actions.is_empty() && outcome.is_none() {
            return;
        }
        out.push(self.stray_seen(res, detail, origin, StrayAction::Stopping));
        out.extend(actions);
        self.outcome(now, &res.group, outcome, out);
    }

    /// Every resource, of the groups in force and of those retiring after a reload, whose
    /// kind matches.
    fn resources_where(&self, matches: impl Fn(&ResourceKind) -> bool) -> Vec<ResourceRef> {
        let current = self.m.groups.iter();
        let retiring = self.retiring.iter().map(|(n, (g, _))| (n, &**g));
        current
            .chain(retiring)
            .flat_map(|(name, g)| {
                g.resources
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| matches(&r.kind))
                    .map(|(i, _)| ResourceRef::new(name, i))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The node that runs `group`, as far as this node knows.
    pub(super) fn holder_of(&self, group: &str) -> Option<String> {
        let g = self.m.groups.get(group)?;
        super::election::holder(group, g, &self.view())
    }
}

/// Whether a group in this phase counts its resources as held (a loss matters).
fn held(phase: Phase) -> bool {
    matches!(phase, Phase::Running | Phase::Starting)
}

/// Whether a held unit in this state is gone: failed, or stopped with no start coming. A unit
/// that systemd restarts in place (`systemctl restart`, a `restart` job passing through
/// `deactivating` and `inactive`; `Restart=` passing through `activating`) is not.
fn lost(seen: &UnitSeen) -> bool {
    let coming_back = matches!(seen.job, Some(JobKind::Restart | JobKind::Start));
    match seen.active {
        Active::Failed | Active::Leftover => true,
        Active::Inactive | Active::Deactivating => !coming_back,
        Active::Active | Active::Activating | Active::Other => false,
    }
}

fn word(a: Active) -> &'static str {
    match a {
        Active::Active => "active",
        Active::Activating => "activating",
        Active::Deactivating => "deactivating",
        Active::Inactive => "inactive",
        Active::Failed => "failed",
        Active::Other => "in another state",
        Active::Leftover => "stopped by systemd's word, with processes left in its control group",
    }
}
