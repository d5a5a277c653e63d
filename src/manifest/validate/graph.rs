//! Cycle detection in the `after` graph of a group's resources.

/// Returns one cycle as a list of node indices (first repeated at the end), if any.
/// `deps[i]` lists the nodes that `i` must come after.
pub(super) fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    // 0 = unvisited, 1 = on the current path, 2 = finished
    let mut mark = vec![0u8; deps.len()];
    let mut stack = Vec::new();
    for start in 0..deps.len() {
        if let Some(cycle) = visit(start, deps, &mut mark, &mut stack) {
            return Some(cycle);
        }
    }
    None
}

fn visit(
    n: usize,
    deps: &[Vec<usize>],
    mark: &mut [u8],
    stack: &mut Vec<usize>,
) -> Option<Vec<usize>> {
    match mark[n] {
        2 => return None,
        1 => {
            let from = stack.iter().position(|&s| s == n).unwrap_or(0);
            let mut cycle = stack[from..].to_vec();
            cycle.push(n);
            return Some(cycle);
        }
        _ => {}
    }
    mark[n] = 1;
    stack.push(n);
    for &d in &deps[n] {
        if let Some(cycle) = visit(d, deps, mark, stack) {
            return Some(cycle);
        }
    }
    stack.pop();
    mark[n] = 2;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_and_diamonds_have_no_cycle() {
        assert_eq!(find_cycle(&[vec![], vec![0], vec![1]]), None);
        assert_eq!(find_cycle(&[vec![], vec![0], vec![0], vec![1, 2]]), None);
    }

    #[test]
    fn finds_loops_of_any_length() {
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0, 0]));
        assert_eq!(find_cycle(&[vec![1], vec![0]]), Some(vec![0, 1, 0]));
        assert_eq!(
            find_cycle(&[vec![], vec![3], vec![1], vec![2]]),
            Some(vec![1, 3, 2, 1])
        );
    }
}
