//! Why a group runs where it runs, said from this node's view when another node holds it: the
//! holder's heartbeats say only what it does, and the operator asks why it is there and not on
//! the node they expected. Pure: built from the engine's snapshot of the group.

use crate::engine::snapshot::GroupSnapshot;

/// The reason shown for group `name` held by `owner`, another node.
pub fn held_elsewhere(name: &str, owner: &str, g: &GroupSnapshot) -> String {
    let mut why = format!("{} on {owner}", g.state);
    let first = g.preference.iter().find(|n| !g.ineligible.contains_key(*n));
    if g.moved_to.as_deref() == Some(owner) {
        why.push_str(&format!(
            ": an operator moved it there (`haagentctl clear {name}` forgets the move)"
        ));
    } else {
        match first {
            Some(f) if f == owner => why.push_str(": the first eligible node in its preference"),
            Some(f) => why.push_str(&format!(
                ": {f} comes first among eligible nodes, but a running group stays where it is \
                 unless failback is on"
            )),
            None => why.push_str(": no node is eligible by this node's view"),
        }
    }
    let before = g.preference.iter().take_while(|n| *n != owner);
    for n in before {
        if let Some(r) = g.ineligible.get(n) {
            why.push_str(&format!("; {n} is not eligible: {r}"));
        }
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(ineligible: &[(&str, &str)], moved_to: Option<&str>) -> GroupSnapshot {
        GroupSnapshot {
            owner: Some("beta".into()),
            state: "running".into(),
            preference: vec!["alpha".into(), "beta".into(), "gamma".into()],
            ineligible: ineligible
                .iter()
                .map(|(n, r)| ((*n).to_owned(), (*r).to_owned()))
                .collect(),
            moved_to: moved_to.map(str::to_owned),
            ..GroupSnapshot::default()
        }
    }

    #[test]
    fn a_holder_after_an_ineligible_first_node_names_why_it_is_not_there() {
        let g = group(&[("alpha", "failed here 40 s ago")], None);
        assert_eq!(
            held_elsewhere("web", "beta", &g),
            "running on beta: the first eligible node in its preference; alpha is not eligible: failed here 40 s ago"
        );
    }

    #[test]
    fn an_operator_move_and_a_sticky_holder_are_told_apart() {
        let moved = group(&[], Some("beta"));
        assert!(
            held_elsewhere("web", "beta", &moved).contains("`haagentctl clear web`"),
            "{}",
            held_elsewhere("web", "beta", &moved)
        );
        let sticky = group(&[], None);
        assert!(held_elsewhere("web", "beta", &sticky).contains("alpha comes first"));
    }
}
