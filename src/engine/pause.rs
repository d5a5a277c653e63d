//! A node that did not run for a while (a paused VM, a frozen host, a process stopped by a
//! debugger) comes back to a cluster that may have moved on: peers may have declared it dead
//! and started its groups. Before it acts on or announces anything, it stops every group that
//! must never run twice, and rejoins as a restarted node does: its peers count as unheard
//! until they are heard again (or `initial_dead` passes), so nothing is claimed on the
//! strength of views from before the pause. The loop reports the pause (it knows when it meant
//! to wake, on the boot clock); the engine decides what it means.

use super::runner::Phase;
use super::{Action, Engine, EventKind, Time};

impl Engine {
    /// The agent was paused for `ms` beyond its planned wake-up.
    pub(super) fn resumed(&mut self, now: Time, ms: u64, out: &mut Vec<Action>) {
        out.push(self.event(
            EventKind::QuorumLost,
            None,
            format!("this node was paused for {ms} ms: peers may have moved on; stopping what must not run twice and rejoining"),
        ));
        self.quorate = false;
        self.quorate_since = None;
        // Pings from before the pause prove nothing now: the tie-breaker waits for new ones.
        self.ping_ok_since = None;
        self.claims.clear();
        self.adopted.clear();
        self.members.rejoin(now);
        let m = std::sync::Arc::clone(&self.m);
        for (name, g) in &m.groups {
            if !(g.stateful || g.release_on_quorum_loss) {
                continue;
            }
            let Some(r) = self.runners.get_mut(name) else {
                continue;
            };
            if !matches!(r.phase, Phase::Running | Phase::Starting) {
                continue;
            }
            let (actions, outcome) = r.stop(name, g);
            out.push(self.event(
                EventKind::Release,
                Some(name),
                format!("paused for {ms} ms: a peer may run it now"),
            ));
            out.extend(actions);
            self.forget_refresh(name);
            self.outcome(now, name, outcome, out);
        }
    }
}
