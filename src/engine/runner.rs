//! Starting and stopping one group's resources here: each starts once everything it comes
//! `after` is up (independent ones in parallel), and stops once nothing that depends on it is
//! still up (the reverse order). A failed start stops what was started and leaves the group
//! failed on this node. A stray copy (a resource up here while the group is not) is stopped
//! like a release.

use serde::Serialize;

use super::types::{Action, Op, ResourceRef};
use crate::manifest::model::{Group, ResourceKind};
use crate::protocol::wire::GroupState;

/// One resource here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Res {
    /// Not running.
    Down,
    /// Start requested.
    Starting,
    /// Running.
    Up,
    /// Stop requested.
    Stopping,
    /// Its stop failed: it may still run. Retried; never counted as stopped until a stop
    /// works, systemd reports it down, or an operator says it is.
    Stuck,
}

/// What this node is doing with the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Nothing runs here.
    Idle,
    /// Starting resources.
    Starting,
    /// Everything is up.
    Running,
    /// Stopping resources.
    Stopping {
        /// Why.
        why: Why,
    },
    /// A stop failed and nothing more can be stopped until it works: the group may still run
    /// here (Pacemaker's `FAILED (blocked)`).
    Blocked {
        /// Why it was being stopped.
        why: Why,
    },
}

/// Why a group is being stopped here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// It is released (moved, quorum lost, shutdown, found partly up at start-up).
    Release,
    /// A start or a resource failed.
    Failure,
    /// A resource came up here while the group does not run here: a stray copy.
    Stray,
}

/// The group's resources on this node.
#[derive(Clone, Debug)]
pub struct Runner {
    /// The phase.
    pub phase: Phase,
    /// Each resource.
    pub res: Vec<Res>,
}

/// What a finished step changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every resource is up.
    Running,
    /// Every resource is down after a release.
    Released,
    /// Every resource is down after a failure.
    Failed,
    /// A stray copy is stopped.
    StrayStopped,
    /// A stop failed: the group is blocked here until a stop works.
    Blocked,
}

impl Runner {
    /// A group with nothing running.
    pub fn idle(g: &Group) -> Runner {
        Runner {
            phase: Phase::Idle,
            res: vec![Res::Down; g.resources.len()],
        }
    }

    /// What peers are told.
    pub fn advertised(&self) -> Option<GroupState> {
        match self.phase {
            Phase::Idle => None,
            Phase::Starting => Some(GroupState::Starting),
            Phase::Running => Some(GroupState::Running),
            Phase::Stopping { .. } => Some(GroupState::Stopping),
            Phase::Blocked { .. } => Some(GroupState::Blocked),
        }
    }

    /// Begins starting (from idle) and issues the first starts.
    pub fn start(&mut self, name: &str, g: &Group) -> Vec<Action> {
        if self.phase == Phase::Idle {
            self.phase = Phase::Starting;
        }
        self.step(name, g).0
    }

    /// Takes over resources found up here (from idle): the group runs if all are and it may
    /// be adopted, else what is up is stopped (an earlier run died starting or stopping it, or
    /// peers may run it now). Returns the first stops and whether the group was adopted.
    pub fn adopt(
        &mut self,
        name: &str,
        g: &Group,
        up: &[usize],
        allowed: bool,
    ) -> (Vec<Action>, bool) {
        for &i in up {
            self.res[i] = Res::Up;
        }
        if allowed && self.res.iter().all(|r| *r == Res::Up) {
            self.phase = Phase::Running;
            return (Vec::new(), true);
        }
        self.phase = Phase::Stopping { why: Why::Release };
        (self.step(name, g).0, false)
    }

    /// Begins stopping (a release, not a failure) and issues the first stops.
    pub fn stop(&mut self, name: &str, g: &Group) -> (Vec<Action>, Option<Outcome>) {
        if matches!(self.phase, Phase::Starting | Phase::Running) {
            self.phase = Phase::Stopping { why: Why::Release };
        }
        self.step(name, g)
    }

    /// Unit `i`, which failed while the group runs here, is started again in place (restarted
    /// if it still `running`, its check failing): the group stays running (a failed start
    /// then fails it as any start does).
    pub fn restart(&mut self, name: &str, g: &Group, i: usize, running: bool) -> Vec<Action> {
        if self.phase != Phase::Running || self.res.get(i) != Some(&Res::Up) {
            return Vec::new();
        }
        self.res[i] = Res::Starting;
        match (&g.resources[i].kind, running) {
            (ResourceKind::Unit(unit), true) => vec![Action::RestartUnit {
                res: ResourceRef::new(name, i),
                unit: unit.clone(),
            }],
            _ => vec![action(name, g, i, Op::Start)],
        }
    }

    /// A resource of the group running here failed while it still runs (its check): the
    /// group fails here, every resource stopped in reverse order, that one included.
    pub fn fail(&mut self, name: &str, g: &Group) -> (Vec<Action>, Option<Outcome>) {
        if self.phase != Phase::Running {
            return (Vec::new(), None);
        }
        self.phase = Phase::Stopping { why: Why::Failure };
        self.step(name, g)
    }

    /// Resources `up`, found up here (from idle) where the group may not run, are stopped as a
    /// stray copy, in the reverse order of their dependencies.
    pub fn strays(
        &mut self,
        name: &str,
        g: &Group,
        up: &[usize],
    ) -> (Vec<Action>, Option<Outcome>) {
        if self.phase != Phase::Idle {
            return (Vec::new(), None);
        }
        for &i in up {
            if let Some(r) = self.res.get_mut(i) {
                *r = Res::Up;
            }
        }
        self.phase = Phase::Stopping { why: Why::Stray };
        self.step(name, g)
    }

    /// Resource `i`, down as far as this runner knows, came up here although the group does
    /// not run here (or is stopping): it is stopped again.
    pub fn stray(&mut self, name: &str, g: &Group, i: usize) -> (Vec<Action>, Option<Outcome>) {
        if self.res[i] != Res::Down || matches!(self.phase, Phase::Starting | Phase::Running) {
            return (Vec::new(), None);
        }
        self.res[i] = Res::Up;
        if self.phase == Phase::Idle {
            self.phase = Phase::Stopping { why: Why::Stray };
        }
        self.step(name, g)
    }

    /// Records a finished action and issues what can follow.
    pub fn done(
        &mut self,
        name: &str,
        g: &Group,
        i: usize,
        op: Op,
        ok: bool,
    ) -> (Vec<Action>, Option<Outcome>) {
        match (op, ok) {
            (Op::Start, true) => self.res[i] = Res::Up,
            (Op::Start, false) => {
                self.res[i] = Res::Down;
                self.phase = Phase::Stopping { why: Why::Failure };
            }
            (Op::Stop, true) => self.res[i] = Res::Down,
            // A failed stop leaves the resource up as far as anyone can tell.
            (Op::Stop, false) => self.res[i] = Res::Stuck,
        }
        self.step(name, g)
    }

    /// Tries the failed stops again.
    pub fn retry(&mut self, name: &str, g: &Group) -> (Vec<Action>, Option<Outcome>) {
        let Phase::Blocked { why } = self.phase else {
            return (Vec::new(), None);
        };
        self.phase = Phase::Stopping { why };
        let mut out = Vec::new();
        for i in 0..self.res.len() {
            if self.res[i] == Res::Stuck {
                self.res[i] = Res::Stopping;
                out.push(action(name, g, i, Op::Stop));
            }
        }
        let (more, outcome) = self.step(name, g);
        out.extend(more);
        (out, outcome)
    }

    /// Resource `i`, stuck, is down after all (systemd says so, or an operator does).
    pub fn unstuck(&mut self, name: &str, g: &Group, i: usize) -> (Vec<Action>, Option<Outcome>) {
        if self.res[i] != Res::Stuck {
            return (Vec::new(), None);
        }
        self.res[i] = Res::Down;
        if let Phase::Blocked { why } = self.phase {
            self.phase = Phase::Stopping { why };
        }
        self.step(name, g)
    }

    /// A resource went down on its own: a VIP is put back; a unit failing fails the group here.
    pub fn lost(&mut self, name: &str, g: &Group, i: usize) -> (Vec<Action>, Option<Outcome>) {
        if self.res[i] == Res::Stuck {
            return self.unstuck(name, g, i);
        }
        if self.res[i] != Res::Up || !matches!(self.phase, Phase::Running | Phase::Starting) {
            return (Vec::new(), None);
        }
        if let ResourceKind::Vip(vip) = &g.resources[i].kind {
            self.res[i] = Res::Starting;
            return (
                vec![Action::AddVip {
                    res: ResourceRef::new(name, i),
                    vip: vip.clone(),
                }],
                None,
            );
        }
        self.res[i] = Res::Down;
        self.phase = Phase::Stopping { why: Why::Failure };
        self.step(name, g)
    }

    /// Issues every start or stop that is possible now; reports when the phase ends.
    fn step(&mut self, name: &str, g: &Group) -> (Vec<Action>, Option<Outcome>) {
        let mut out = Vec::new();
        match self.phase {
            Phase::Idle | Phase::Running | Phase::Blocked { .. } => {}
            Phase::Starting => {
                for (i, r) in g.resources.iter().enumerate() {
                    if self.res[i] == Res::Down && r.after.iter().all(|&d| self.res[d] == Res::Up) {
                        self.res[i] = Res::Starting;
                        out.push(action(name, g, i, Op::Start));
                    }
                }
                if self.res.iter().all(|r| *r == Res::Up) {
                    self.phase = Phase::Running;
                    return (out, Some(Outcome::Running));
                }
            }
            Phase::Stopping { why } => {
                // Which resources something not yet down depends on: one pass over the
                // dependencies, not one per resource (a thousand VIPs made that a million).
                let mut needed = vec![false; g.resources.len()];
                for (j, r) in g.resources.iter().enumerate() {
                    if self.res.get(j) != Some(&Res::Down) {
                        for &d in &r.after {
                            if let Some(n) = needed.get_mut(d) {
                                *n = true;
                            }
                        }
                    }
                }
                for i in (0..g.resources.len()).rev() {
                    if self.res[i] == Res::Up && !needed[i] {
                        self.res[i] = Res::Stopping;
                        out.push(action(name, g, i, Op::Stop));
                    }
                }
                let in_flight = self
                    .res
                    .iter()
                    .any(|r| matches!(r, Res::Stopping | Res::Starting));
                if !in_flight && self.res.contains(&Res::Stuck) {
                    self.phase = Phase::Blocked { why };
                    return (out, Some(Outcome::Blocked));
                }
                if self.res.iter().all(|r| *r == Res::Down) {
                    self.phase = Phase::Idle;
                    let outcome = match why {
                        Why::Release => Outcome::Released,
                        Why::Failure => Outcome::Failed,
                        Why::Stray => Outcome::StrayStopped,
                    };
                    return (out, Some(outcome));
                }
            }
        }
        (out, None)
    }
}

/// The action that starts or stops resource `i` of group `name`.
pub fn action(name: &str, g: &Group, i: usize, op: Op) -> Action {
    let res = ResourceRef::new(name, i);
    match (&g.resources[i].kind, op) {
        (ResourceKind::Vip(vip), Op::Start) => Action::AddVip {
            res,
            vip: vip.clone(),
        },
        (ResourceKind::Vip(vip), Op::Stop) => Action::RemoveVip {
            res,
            vip: vip.clone(),
        },
        (ResourceKind::Unit(unit), Op::Start) => Action::StartUnit {
            res,
            unit: unit.clone(),
        },
        (ResourceKind::Unit(unit), Op::Stop) => Action::StopUnit {
            res,
            unit: unit.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(resources: &str) -> Group {
        let text = format!(
            "cluster: c\nnodes: {{ a: {{ address: 10.0.0.1 }} }}\nauth: {{ key_file: /k }}\ngroups:\n  g:\n    nodes: [a]\n    resources:\n{resources}"
        );
        crate::manifest::parse(&text)
            .manifest
            .expect("valid")
            .groups["g"]
            .clone()
    }

    fn names(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .map(|a| match a {
                Action::AddVip { res, .. } => format!("+vip{}", res.index),
                Action::RemoveVip { res, .. } => format!("-vip{}", res.index),
                Action::StartUnit { unit, .. } => format!("+{unit}"),
                Action::StopUnit { unit, .. } => format!("-{unit}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    const CHAIN: &str = "      - { vip: 10.0.0.10/24, interface: eth0 }\n      - unit: a.service\n      - unit: b.service\n";

    #[test]
    fn a_chain_starts_in_order_and_stops_in_reverse() {
        let g = group(CHAIN);
        let mut r = Runner::idle(&g);
        assert_eq!(names(&r.start("g", &g)), ["+vip0"]);
        assert_eq!(
            names(&r.done("g", &g, 0, Op::Start, true).0),
            ["+a.service"]
        );
        assert_eq!(
            names(&r.done("g", &g, 1, Op::Start, true).0),
            ["+b.service"]
        );
        assert_eq!(
            r.done("g", &g, 2, Op::Start, true),
            (vec![], Some(Outcome::Running))
        );
        assert_eq!(names(&r.stop("g", &g).0), ["-b.service"]);
        assert_eq!(names(&r.done("g", &g, 2, Op::Stop, true).0), ["-a.service"]);
        assert_eq!(names(&r.done("g", &g, 1, Op::Stop, true).0), ["-vip0"]);
        assert_eq!(
            r.done("g", &g, 0, Op::Stop, true).1,
            Some(Outcome::Released)
        );
        assert_eq!(r.phase, Phase::Idle);
    }

    #[test]
    fn independent_resources_start_together() {
        let g = group(
            "      - { vip: 10.0.0.10/24, interface: eth0 }\n      - { unit: a.service }\n      - { unit: b.service, after: [10.0.0.10] }\n      - { unit: c.service, after: [] }\n",
        );
        let mut r = Runner::idle(&g);
        assert_eq!(names(&r.start("g", &g)), ["+vip0", "+c.service"]);
        assert_eq!(
            names(&r.done("g", &g, 0, Op::Start, true).0),
            ["+a.service", "+b.service"]
        );
    }

    #[test]
    fn a_failed_start_stops_what_was_started() {
        let g = group(CHAIN);
        let mut r = Runner::idle(&g);
        r.start("g", &g);
        r.done("g", &g, 0, Op::Start, true);
        let (actions, outcome) = r.done("g", &g, 1, Op::Start, false);
        assert_eq!((names(&actions), outcome), (vec!["-vip0".to_owned()], None));
        assert_eq!(r.done("g", &g, 0, Op::Stop, true).1, Some(Outcome::Failed));
    }

    #[test]
    fn a_lost_vip_is_restored_and_a_lost_unit_fails_the_group() {
        let g = group(CHAIN);
        let mut r = Runner::idle(&g);
        r.start("g", &g);
        for i in 0..3 {
            r.done("g", &g, i, Op::Start, true);
        }
        assert_eq!(names(&r.lost("g", &g, 0).0), ["+vip0"]);
        r.done("g", &g, 0, Op::Start, true);
        // a.service is down: b (which needs it) and the VIP (which nothing up needs) stop together.
        assert_eq!(names(&r.lost("g", &g, 1).0), ["-b.service", "-vip0"]);
        assert_eq!(r.phase, Phase::Stopping { why: Why::Failure });
    }

    #[test]
    fn a_failed_stop_blocks_the_group_and_a_retry_or_a_report_unblocks_it() {
        let g = group(CHAIN);
        let mut r = Runner::idle(&g);
        r.start("g", &g);
        for i in 0..3 {
            r.done("g", &g, i, Op::Start, true);
        }
        assert_eq!(names(&r.stop("g", &g).0), ["-b.service"]);
        let (actions, outcome) = r.done("g", &g, 2, Op::Stop, false);
        assert_eq!((names(&actions), outcome), (vec![], Some(Outcome::Blocked)));
        assert_eq!(r.phase, Phase::Blocked { why: Why::Release });
        assert_eq!(r.advertised(), Some(GroupState::Blocked));
        assert_eq!(
            r.res,
            [Res::Up, Res::Up, Res::Stuck],
            "what b needs stays up"
        );
        assert_eq!(names(&r.retry("g", &g).0), ["-b.service"]);
        r.done("g", &g, 2, Op::Stop, false);
        assert_eq!(names(&r.unstuck("g", &g, 2).0), ["-a.service"]);
        r.done("g", &g, 1, Op::Stop, true);
        assert_eq!(
            r.done("g", &g, 0, Op::Stop, true).1,
            Some(Outcome::Released)
        );
    }

    #[test]
    fn a_whole_group_is_adopted_and_a_partial_one_stopped() {
        let g = group(CHAIN);
        let mut r = Runner::idle(&g);
        assert_eq!(r.adopt("g", &g, &[0, 1, 2], true), (vec![], true));
        assert_eq!(r.phase, Phase::Running);
        let mut r = Runner::idle(&g);
        let (actions, whole) = r.adopt("g", &g, &[0, 1, 2], false);
        assert_eq!(
            (names(&actions), whole),
            (vec!["-b.service".to_owned()], false),
            "not allowed: stopped"
        );
        let mut r = Runner::idle(&g);
        let (actions, whole) = r.adopt("g", &g, &[0, 1], true);
        assert_eq!(
            (names(&actions), whole),
            (vec!["-a.service".to_owned()], false)
        );
        assert_eq!(
            r.done("g", &g, 1, Op::Stop, true).0.len(),
            1,
            "then the VIP"
        );
        assert_eq!(
            r.done("g", &g, 0, Op::Stop, true).1,
            Some(Outcome::Released)
        );
    }

    #[test]
    fn a_release_during_start_waits_for_pending_starts() {
        let g = group(CHAIN);
        let mut r = Runner::idle(&g);
        r.start("g", &g);
        assert_eq!(
            r.stop("g", &g),
            (vec![], None),
            "the VIP is still being added"
        );
        assert_eq!(names(&r.done("g", &g, 0, Op::Start, true).0), ["-vip0"]);
        assert_eq!(
            r.done("g", &g, 0, Op::Stop, true).1,
            Some(Outcome::Released)
        );
    }
}
