//! Cycle detection in the `after` graph of a group's resources.

/// Returns one cycle as a list of node indices (first repeated at the end), if any.
/// `deps[i]` lists the nodes that `i` must come after. Iterative, so that a chain of a thousand
/// resources cannot exhaust the stack; each node and edge is visited once.
pub(super) fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    // 0 = unvisited, 1 = on the current path, 2 = finished
    let mut mark = vec![0u8; deps.len()];
    for start in 0..deps.len() {
        if mark[start] == 0
            && let Some(cycle) = visit(start, deps, &mut mark)
        {
            return Some(cycle);
        }
    }
    None
}

/// Depth-first search from `start`; the stack holds each node on the path with the index of
/// its next edge to follow.
fn visit(start: usize, deps: &[Vec<usize>], mark: &mut [u8]) -> Option<Vec<usize>> {
    let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
    mark[start] = 1;
    while let Some(&mut (n, ref mut edge)) = stack.last_mut() {
        let Some(&d) = deps[n].get(*edge) else {
            mark[n] = 2;
            stack.pop();
            continue;
        };
        *edge += 1;
        match mark[d] {
            0 => {
                mark[d] = 1;
                stack.push((d, 0));
            }
            1 => {
                let from = stack.iter().position(|&(s, _)| s == d).unwrap_or(0);
                let mut cycle: Vec<usize> = stack[from..].iter().map(|&(s, _)| s).collect();
                cycle.push(d);
                return Some(cycle);
            }
            _ => {}
        }
    }
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

    #[test]
    fn long_chains_need_no_deep_stack() {
        let n = 200_000;
        let mut deps: Vec<Vec<usize>> = (0..n).map(|i| (i + 1..n).take(1).collect()).collect();
        assert_eq!(find_cycle(&deps), None);
        deps[n - 1].push(0);
        assert_eq!(find_cycle(&deps).map(|c| c.len()), Some(n + 1));
    }
}
