//! Golden scenarios: the classic cases of a failover cluster, each as inputs in and the actions
//! the engines emit out, on the simulated world driven by hand (`script.rs`). The assertions
//! are on what a node does (`Acquire`/`Release` events, `AddVip` before `StartUnit`, nothing
//! started before a given moment), so a changed rule fails them.

mod checks;
mod failover;
mod in_place;
mod leave;
mod lost_state;
mod maintenance;
mod observe;
mod operator;
mod pause;
mod restart;
mod split;
mod startup;
mod stray;
mod wire_drops;

use crate::manifest::Manifest;

/// Parses a manifest written for a test.
pub fn manifest(text: &str) -> Manifest {
    let report = crate::manifest::parse(text);
    report
        .manifest
        .unwrap_or_else(|| panic!("{:?}", report.problems))
}

/// Two nodes, 100 ms heartbeats, a ping tie-breaker, one stateful group `web` (VIP + unit).
pub fn two_node(extra_group: &str) -> Manifest {
    manifest(&format!(
        "cluster: c\nnodes:\n  alpha: {{ address: 10.0.0.1 }}\n  beta: {{ address: 10.0.0.2 }}\n\
         heartbeat: {{ interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }}\n\
         auth: {{ key_file: /k }}\nquorum: {{ two_node: {{ tie_breaker: ping }} }}\n\
         connectivity: {{ ping: [10.0.0.254], interval: 100ms }}\n\
         groups:\n  web:\n    nodes: [alpha, beta]\n{extra_group}    resources:\n\
         \x20     - {{ vip: 10.0.0.10/24, interface: eth0 }}\n      - unit: app.service\n"
    ))
}
