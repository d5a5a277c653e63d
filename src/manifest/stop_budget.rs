//! Stop time in the safety budget: a stateful group cut off from its peers must be stopped
//! before a peer may take it over. Its node loses quorum at most the proof window after its
//! last acknowledged heartbeat, and no peer takes over before `dead_after` of silence: that
//! leaves the watchdog bound, `(dead_after - warn_after) / 2`, for the stop. A group's units
//! stop one after the other, each within its stop timeout (systemd's `TimeoutStopSec`), so
//! their sum is the worst case. Beyond the budget, only fencing keeps the promise.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Manifest;
use super::model::ResourceKind;

/// One stateful group of `me` whose units may take longer to stop than the timers allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverBudget {
    /// The group.
    pub group: String,
    /// The sum of its units' stop timeouts (`None`: one of them never times out).
    pub worst: Option<Duration>,
    /// What the timers allow.
    pub budget: Duration,
}

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let worst = self.worst.map_or("no limit (infinity)".to_owned(), |d| {
            format!("{} ms", d.as_millis())
        });
        write!(
            f,
            "stateful group `{}`: its units may take {worst} to stop, more than the {} ms the timers leave ((dead_after - warn_after) / 2): cut off, it could still run when a peer starts it. Fix: raise `dead_after`, lower the units' `TimeoutStopSec`, or configure fencing",
            self.group,
            self.budget.as_millis()
        )
    }
}

/// The stateful groups of `me` over budget, given each unit's stop timeout (`None`: infinite;
/// a unit missing from `timeouts` is not counted). Fencing covers any stop time: none then.
pub fn over_budget(
    m: &Manifest,
    me: &str,
    timeouts: &BTreeMap<String, Option<Duration>>,
) -> Vec<OverBudget> {
    if m.fencing_required {
        return Vec::new();
    }
    let budget = m.heartbeat.watchdog();
    let mut out = Vec::new();
    for (name, g) in &m.groups {
        if !g.stateful || !g.nodes.iter().any(|n| n == me) {
            continue;
        }
        let mut worst = Some(Duration::ZERO);
        for r in &g.resources {
            if let ResourceKind::Unit(u) = &r.kind
                && let Some(t) = timeouts.get(u)
            {
                worst = match (worst, t) {
                    (Some(w), Some(t)) => w.checked_add(*t),
                    _ => None,
                };
            }
        }
        if worst.is_none_or(|w| w > budget) {
            out.push(OverBudget {
                group: name.clone(),
                worst,
                budget,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(fencing: &str) -> Manifest {
        let text = format!(
            "cluster: c\nnodes:\n  a: {{ address: 10.0.0.1 }}\n  b: {{ address: 10.0.0.2 }}\n  w: {{ address: 10.0.0.3, witness: true }}\nheartbeat: {{ interval: 100ms, warn_after: 300ms, dead_after: 700ms }}\nauth: {{ key_file: /k }}\n{fencing}groups:\n  db:\n    nodes: [a, b]\n    resources:\n      - unit: pg.service\n      - unit: srv.mount\n"
        );
        let report = crate::manifest::parse(&text);
        report
            .manifest
            .unwrap_or_else(|| panic!("{:?}", report.problems))
    }

    #[test]
    fn a_group_whose_units_stop_slower_than_the_watchdog_bound_is_named() {
        let ms = |n| Some(Duration::from_millis(n));
        let t = |a, b| BTreeMap::from([("pg.service".into(), a), ("srv.mount".into(), b)]);
        let m = m("");
        assert!(
            over_budget(&m, "a", &t(ms(100), ms(100))).is_empty(),
            "200 ms fits"
        );
        let over = over_budget(&m, "a", &t(ms(150), ms(90)));
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].worst, ms(240));
        assert_eq!(over[0].budget, Duration::from_millis(200));
        assert!(
            over[0].to_string().contains("TimeoutStopSec"),
            "{}",
            over[0]
        );
        assert_eq!(over_budget(&m, "a", &t(None, ms(1)))[0].worst, None);
        assert!(
            over_budget(&m, "w", &t(None, None)).is_empty(),
            "not its group"
        );
        let fenced = super::tests::m("fencing: { unit: fence@%i.service }\n");
        assert!(over_budget(&fenced, "a", &t(None, None)).is_empty());
    }
}
