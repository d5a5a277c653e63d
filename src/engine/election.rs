//! Quorum and ownership: pure functions of a snapshot of the cluster as this node sees it.
//! Every node runs the same rule on (nearly) the same view, so they agree on one owner per
//! group without a leader; the handoff rule in the engine covers the moments they do not.

use std::collections::BTreeMap;

use crate::manifest::Manifest;
use crate::manifest::model::{Group, TieBreaker};
use crate::protocol::wire::GroupState;

use super::intents::Intents;

/// One node as seen from here (this node included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeView {
    /// Alive (this node always is).
    pub alive: bool,
    /// Has quorum (as it says; this node's own for itself).
    pub quorate: bool,
    /// In standby (its own flag or an operator intent).
    pub standby: bool,
    /// Ping targets it reaches.
    pub connectivity: u16,
    /// What it does with each group.
    pub groups: BTreeMap<String, GroupState>,
    /// The groups it defines otherwise than this node (`drift.rs`).
    pub differs: std::collections::BTreeSet<String>,
}

/// All nodes, by name.
pub type ClusterView = BTreeMap<String, NodeView>;

/// Whether a node in touch with `alive` voters (itself included) has quorum, when `away`
/// voters left the cluster gracefully; `shunned` when a live peer does not hear it.
///
/// A majority of the expected votes: all voters, witnesses included, less those away (they
/// released everything and must rejoin before they act). Two voters cannot form a majority
/// after a split, so a lone node of a two-voter cluster is quorate only if its tie-breaker
/// says so (it reaches a ping target, or fencing will decide before anything stateful moves)
/// and its peer is not alive and deaf to it: that peer is the one that will act.
pub fn quorate(m: &Manifest, alive: usize, away: usize, connectivity: u16, shunned: bool) -> bool {
    let voters = m.nodes.len();
    if voters == 2 && away == 0 && alive < 2 {
        if shunned {
            return false;
        }
        return match m.quorum.tie_breaker {
            Some(TieBreaker::Ping) => connectivity > 0,
            _ => m.fencing_required,
        };
    }
    alive * 2 > voters.saturating_sub(away)
}

/// Whether `node` may run `group`.
pub fn eligible(m: &Manifest, name: &str, g: &Group, view: &ClusterView, node: &str) -> bool {
    why_not(m, name, g, view, node).is_none()
}

/// Why `node` may not run `group` now, in words; `None` when it may.
pub fn why_not(
    m: &Manifest,
    name: &str,
    g: &Group,
    view: &ClusterView,
    node: &str,
) -> Option<String> {
    if !g.nodes.iter().any(|n| n == node) {
        return Some("not one of the group's nodes".into());
    }
    let Some(v) = view.get(node).filter(|v| v.alive) else {
        return Some("not alive".into());
    };
    if v.standby {
        return Some("in standby".into());
    }
    if v.differs.contains(name) {
        return Some("its manifest defines the group otherwise than this node's".into());
    }
    if v.groups.get(name) == Some(&GroupState::Failed) {
        return Some("the group failed there lately".into());
    }
    if (g.stateful || g.release_on_quorum_loss) && !v.quorate {
        return Some("without quorum".into());
    }
    // ipfail's rule: never run on a node that reaches fewer ping targets than another candidate.
    if m.connectivity.ping.is_empty() {
        return None;
    }
    let best = g
        .nodes
        .iter()
        .filter_map(|n| view.get(n))
        .filter(|v| v.alive && !v.standby)
        .map(|v| v.connectivity)
        .max()
        .unwrap_or(0);
    (v.connectivity < best).then(|| {
        format!(
            "reaches {} ping targets, another node {best}",
            v.connectivity
        )
    })
}

/// Where a planned move of `group` goes when no node is named: the most preferred eligible
/// node other than the one running it.
pub fn next_owner(m: &Manifest, name: &str, g: &Group, view: &ClusterView) -> Option<String> {
    let current = holder(name, g, view);
    g.nodes
        .iter()
        .filter(|n| current.as_ref() != Some(*n))
        .find(|n| eligible(m, name, g, view, n))
        .cloned()
}

/// The node currently running (or starting) `group`: the most preferred if, briefly, several.
pub fn holder(name: &str, g: &Group, view: &ClusterView) -> Option<String> {
    g.nodes
        .iter()
        .find(|n| {
            view.get(*n).is_some_and(|v| {
                v.alive
                    && matches!(
                        v.groups.get(name),
                        Some(GroupState::Starting | GroupState::Running)
                    )
            })
        })
        .cloned()
}

/// Who should run `group`: an operator's move if its target is eligible; else the current
/// holder when failback is off (stickiness); else the most preferred eligible node.
pub fn owner(
    m: &Manifest,
    name: &str,
    g: &Group,
    view: &ClusterView,
    intents: &Intents,
) -> Option<String> {
    let ok = |n: &str| eligible(m, name, g, view, n);
    if let Some(to) = intents
        .moved_to(name)
        .filter(|t| g.nodes.iter().any(|n| n == t) && ok(t))
    {
        return Some(to.to_owned());
    }
    if !g.failback
        && let Some(h) = holder(name, g, view).filter(|h| ok(h))
    {
        return Some(h);
    }
    g.nodes.iter().find(|n| ok(n)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::wire::{IntentKind, Stamp};

    fn manifest(extra: &str, nodes: &str) -> Manifest {
        let members = if nodes.contains("  c:") {
            "a, b, c"
        } else {
            "a, b"
        };
        let text = format!(
            "cluster: c\nnodes:\n{nodes}auth: {{ key_file: /k }}\n{extra}groups:\n  g:\n    nodes: [{members}]\n    resources: [{{ unit: x.service }}]\n"
        );
        crate::manifest::parse(&text)
            .manifest
            .unwrap_or_else(|| panic!("{:?}", crate::manifest::parse(&text).problems))
    }

    fn three() -> Manifest {
        manifest(
            "",
            "  a: { address: 10.0.0.1 }\n  b: { address: 10.0.0.2 }\n  c: { address: 10.0.0.3 }\n",
        )
    }

    fn up(groups: &[(&str, GroupState)]) -> NodeView {
        NodeView {
            alive: true,
            quorate: true,
            standby: false,
            connectivity: 0,
            groups: groups.iter().map(|(g, s)| ((*g).to_owned(), *s)).collect(),
            differs: Default::default(),
        }
    }

    fn view(nodes: &[(&str, NodeView)]) -> ClusterView {
        nodes
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn majority_and_two_node_rules() {
        let m = three();
        assert!(quorate(&m, 2, 0, 0, false) && !quorate(&m, 1, 0, 5, false));
        assert!(
            quorate(&m, 1, 2, 0, false) && !quorate(&m, 1, 1, 0, false),
            "two of three left: the last one stands; one left: one of two is no majority"
        );
        let two = manifest(
            "quorum: { two_node: { tie_breaker: ping } }\nconnectivity: { ping: [10.0.0.9] }\n",
            "  a: { address: 10.0.0.1 }\n  b: { address: 10.0.0.2 }\n",
        );
        assert!(quorate(&two, 2, 0, 0, false));
        assert!(
            quorate(&two, 1, 0, 1, false),
            "alone but reaching the ping target"
        );
        assert!(!quorate(&two, 1, 0, 0, false), "alone and cut off");
        assert!(
            !quorate(&two, 1, 0, 1, true),
            "the peer is alive and does not hear us: it acts, we yield"
        );
        assert!(
            quorate(&two, 1, 1, 0, false),
            "the peer left: no tie-breaker needed"
        );
    }

    #[test]
    fn preference_order_and_stickiness() {
        let m = three();
        let g = &m.groups["g"];
        let v = view(&[
            ("a", up(&[])),
            ("b", up(&[("g", GroupState::Running)])),
            ("c", up(&[])),
        ]);
        assert_eq!(
            owner(&m, "g", g, &v, &Intents::default()).as_deref(),
            Some("b"),
            "failback off keeps the holder"
        );
        let mut fb = g.clone();
        fb.failback = true;
        assert_eq!(
            owner(&m, "g", &fb, &v, &Intents::default()).as_deref(),
            Some("a"),
            "failback returns it home"
        );
    }

    #[test]
    fn ineligible_nodes_are_skipped() {
        let m = three();
        let g = &m.groups["g"];
        let mut a = up(&[]);
        a.standby = true;
        let b = NodeView {
            quorate: false,
            ..up(&[])
        };
        let v = view(&[("a", a), ("b", b), ("c", up(&[]))]);
        assert_eq!(
            owner(&m, "g", g, &v, &Intents::default()).as_deref(),
            Some("c")
        );
        let v = view(&[
            ("a", up(&[("g", GroupState::Failed)])),
            (
                "b",
                NodeView {
                    alive: false,
                    ..up(&[])
                },
            ),
            ("c", up(&[])),
        ]);
        assert_eq!(
            owner(&m, "g", g, &v, &Intents::default()).as_deref(),
            Some("c")
        );
        let v = view(&[(
            "a",
            NodeView {
                alive: false,
                ..up(&[])
            },
        )]);
        assert_eq!(owner(&m, "g", g, &v, &Intents::default()), None);
    }

    #[test]
    fn operator_moves_win_while_their_target_is_eligible() {
        let m = three();
        let g = &m.groups["g"];
        let mut i = Intents::default();
        i.issue(
            Stamp {
                clock: 1,
                origin: "a".into(),
            },
            IntentKind::Move {
                group: "g".into(),
                to: Some("c".into()),
            },
        );
        let v = view(&[
            ("a", up(&[("g", GroupState::Running)])),
            ("b", up(&[])),
            ("c", up(&[])),
        ]);
        assert_eq!(owner(&m, "g", g, &v, &i).as_deref(), Some("c"));
        let v = view(&[
            ("a", up(&[("g", GroupState::Running)])),
            ("b", up(&[])),
            (
                "c",
                NodeView {
                    alive: false,
                    ..up(&[])
                },
            ),
        ]);
        assert_eq!(
            owner(&m, "g", g, &v, &i).as_deref(),
            Some("a"),
            "a dead target does not strand the group"
        );
    }

    #[test]
    fn lower_connectivity_is_not_eligible() {
        let m = manifest(
            "connectivity: { ping: [10.0.0.9, 10.0.0.8] }\n",
            "  a: { address: 10.0.0.1 }\n  b: { address: 10.0.0.2 }\n  c: { address: 10.0.0.3 }\n",
        );
        let g = &m.groups["g"];
        let v = view(&[
            (
                "a",
                NodeView {
                    connectivity: 1,
                    ..up(&[])
                },
            ),
            (
                "b",
                NodeView {
                    connectivity: 2,
                    ..up(&[])
                },
            ),
            (
                "c",
                NodeView {
                    connectivity: 2,
                    ..up(&[])
                },
            ),
        ]);
        assert_eq!(
            owner(&m, "g", g, &v, &Intents::default()).as_deref(),
            Some("b")
        );
    }
}
