//! Restart in place (Pacemaker's `migration-threshold`): a unit of a group running here that
//! fails is started again here, up to the group's `max_restarts` within `restart_window`;
//! past that, or with `on_failure: move`, the group fails over as before. A unit that
//! systemd restarts itself (`systemctl restart`, `Restart=`) never reaches this: it is no
//! failure (`observe.rs`).
//!
//! Only a group that runs here whole restarts in place: a group starting or stopping fails as
//! before. Nor does one this node is about to release for want of quorum (the unit died just
//! as quorum went, before the decision that releases it). That is no safety rule: the release
//! that follows would wait for the start and then stop it, within the same budget (removing
//! the check, 2,000 seeds of every example find no violation); it saves a start that would be
//! undone at once.

use std::collections::VecDeque;

use super::runner::Phase;
use super::{Action, Engine, EventKind, ResourceRef, Time};
use crate::manifest::model::ResourceKind;

/// Most restart times kept per group: `max_restarts` is bounded far below.
const KEPT: usize = crate::manifest::limits::MAX_RESTARTS as usize + 1;

impl Engine {
    /// Restarts resource `res`, a unit lost (or, `running`, still running but failing its
    /// check) while its group runs here, if the group's budget allows; true if it did (the
    /// caller then does not fail the group).
    pub(super) fn restart_in_place(
        &mut self,
        now: Time,
        res: &ResourceRef,
        detail: &str,
        running: bool,
        out: &mut Vec<Action>,
    ) -> bool {
        let Some(g) = self.shared.get(&res.group).cloned() else {
            return false;
        };
        if !matches!(
            g.resources.get(res.index).map(|r| &r.kind),
            Some(ResourceKind::Unit(_))
        ) {
            return false;
        }
        let held = self
            .runners
            .get(&res.group)
            .is_some_and(|r| r.phase == Phase::Running)
            && !self.retiring.contains_key(&res.group);
        let quorum_ok = self.quorate || !(g.stateful || g.release_on_quorum_loss);
        if !held || !quorum_ok || self.shutting_down {
            return false;
        }
        let times = self.restarts.entry(res.group.clone()).or_default();
        while times
            .front()
            .is_some_and(|t| now.since(*t) >= g.restart_window)
        {
            times.pop_front();
        }
        let used = u32::try_from(times.len()).unwrap_or(u32::MAX);
        if used >= g.max_restarts {
            let reason = format!(
                "{detail}: {used} restart(s) in place within {}s already, the group moves",
                g.restart_window.as_secs()
            );
            out.push(self.event(EventKind::ResourceFailed, Some(&res.group), reason));
            return false;
        }
        if times.len() >= KEPT {
            times.pop_front();
        }
        times.push_back(now);
        let reason = format!(
            "{detail}: restarting it in place ({} of {} within {}s)",
            used.saturating_add(1),
            g.max_restarts,
            g.restart_window.as_secs()
        );
        out.push(self.event(EventKind::ResourceFailed, Some(&res.group), reason));
        if let Some(r) = self.runners.get_mut(&res.group) {
            out.extend(r.restart(&res.group, &g, res.index, running));
        }
        true
    }

    /// Forgets the restarts counted for `group` (an operator's `clear`, a release).
    pub(super) fn forget_restarts(&mut self, group: &str) {
        self.restarts.remove(group);
    }
}

/// The restart times of a group, oldest first.
pub(super) type Restarts = VecDeque<Time>;
