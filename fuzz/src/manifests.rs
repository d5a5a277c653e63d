//! The manifests the engine target runs: one cluster (`fz`) in several shapes, so that a reload
//! from one to another is a change an operator could make (groups changed, added or removed,
//! fencing dropped, a node removed). Nodes `n1` and `n2` are in every shape, so either may be
//! the node under test.

use std::sync::OnceLock;

use haagent::manifest::{self, Manifest};

const HEAD: &str = "cluster: fz\nauth: { key_file: /etc/haagent/authkey }\n";

/// Three nodes, fencing required, a stateful group of a VIP and two units and a VIP-only group.
const THREE_FENCED: &str = "\
nodes:
  n1: { address: 10.9.0.1 }
  n2: { address: 10.9.0.2 }
  n3: { address: 10.9.0.3 }
heartbeat: { interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }
fencing: { unit: fence@%i.service }
groups:
  db:
    nodes: [n1, n2, n3]
    resources:
      - { vip: 10.9.0.50/24, interface: eth0 }
      - unit: data.mount
      - { unit: db.service, after: [data.mount] }
  web:
    nodes: [n2, n1]
    failback: true
    resources:
      - { vip: 10.9.0.60/24, interface: eth0 }
";

/// The same nodes on two links without fencing and without `wait_for_all`; `db` changed, `web`
/// gone, `cache` new, with a witness.
const THREE_CHANGED: &str = "\
nodes:
  n1: { address: 10.9.0.1, addresses: { back: 10.8.0.1 } }
  n2: { address: 10.9.0.2, addresses: { back: 10.8.0.2 } }
  n3: { address: 10.9.0.3, addresses: { back: 10.8.0.3 }, witness: true }
heartbeat:
  interval: 200ms
  dead_after: 1s
  links:
    - { name: lan, transport: unicast, interface: eth0 }
    - { name: back, transport: unicast, interface: eth1, port: 695 }
quorum: { wait_for_all: false }
groups:
  db:
    nodes: [n2, n1]
    resources:
      - unit: data.mount
      - { unit: db.service, after: [data.mount] }
  cache:
    nodes: [n1, n2]
    stateful: true
    on_quorum_loss: release
    resources:
      - { vip: 10.9.0.70/24, interface: eth0 }
";

/// Two nodes with a ping tie-breaker.
const TWO_PING: &str = "\
nodes:
  n1: { address: 10.9.0.1 }
  n2: { address: 10.9.0.2 }
heartbeat: { interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }
quorum: { two_node: { tie_breaker: ping } }
connectivity: { ping: [10.9.0.254] }
groups:
  db:
    nodes: [n1, n2]
    resources:
      - { vip: 10.9.0.50/24, interface: eth0 }
      - unit: db.service
  web:
    nodes: [n2, n1]
    on_quorum_loss: keep
    resources:
      - { vip: 10.9.0.60/24, interface: eth0 }
";

/// The shapes, validated once.
pub fn all() -> &'static [Manifest] {
    static ALL: OnceLock<Vec<Manifest>> = OnceLock::new();
    ALL.get_or_init(|| {
        [THREE_FENCED, THREE_CHANGED, TWO_PING]
            .iter()
            .map(|body| {
                let report = manifest::parse(&format!("{HEAD}{body}"));
                match report.manifest {
                    Some(m) => m,
                    None => panic!("a fuzz manifest is invalid: {:?}", report.problems),
                }
            })
            .collect()
    })
}
