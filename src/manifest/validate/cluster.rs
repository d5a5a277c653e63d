//! Cluster-wide sections: `nodes`, `auth`, `connectivity`, `quorum` and `fencing`, including the
//! two-node safety rule (a stateful group on two voters needs a tie-breaker or fencing).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::super::diag::Diagnostic;
use super::super::limits::{self, MAX_NODES, MAX_PING_TARGETS};
use super::super::model::{
    Connectivity, Group, KeySource, Link, Node, Quorum, TieBreaker, Transport,
};
use super::super::raw::{RawConnectivity, RawManifest, RawNode, RawQuorum};
use super::super::tree::YamlPath;
use super::Ctx;
use super::names::{ip, unit_name};
use crate::text::quoted_some;

pub(super) fn nodes(cx: &mut Ctx, raw: &RawManifest, links: &[Link]) -> BTreeMap<String, Node> {
    let path = YamlPath::root().key("nodes");
    let Some(raw_nodes) = cx.required(
        &YamlPath::root(),
        "nodes",
        raw.nodes.as_ref(),
        "nodes: { alpha: { address: 192.0.2.1 } }",
    ) else {
        return BTreeMap::new();
    };
    if raw_nodes.is_empty() {
        cx.push(
            Diagnostic::error(path.clone(), "no nodes")
                .hint("declare each node with its address, e.g. `alpha: { address: 192.0.2.1 }`"),
        );
    }
    if let Some(first_beyond) = raw_nodes.keys().nth(MAX_NODES) {
        cx.limit(
            path.key(first_beyond),
            raw_nodes.len(),
            MAX_NODES,
            "nodes (witnesses included)",
            "split the cluster: one manifest describes at most 32 nodes",
        );
    }
    let mut out = BTreeMap::new();
    for (name, n) in raw_nodes {
        let npath = path.key(name);
        cx.name(&npath, name, "node name");
        let node = Node {
            addresses: addresses(cx, &npath, n, links),
            witness: n.witness.unwrap_or(false),
            fence: None,
        };
        out.insert(name.clone(), node);
    }
    if raw_nodes.len() == 1 {
        cx.push(
            Diagnostic::warning(path.clone(), "the cluster has a single node")
                .hint("add a second node: there is nothing to fail over to"),
        );
    }
    for link in links.iter().filter(|l| l.transport == Transport::Unicast) {
        same_family(cx, &path, &link.name, &out);
    }
    out
}

/// A node's address on each unicast link: `addresses.<link>` or else `address`.
fn addresses(
    cx: &mut Ctx,
    npath: &YamlPath,
    n: &RawNode,
    links: &[Link],
) -> BTreeMap<String, IpAddr> {
    let default = n
        .address
        .as_ref()
        .and_then(|a| ip(cx, npath.key("address"), a));
    let mut specific = BTreeMap::new();
    for (link, text) in n.addresses.iter().flatten() {
        let apath = npath.key("addresses").key(link);
        if !links.iter().any(|l| &l.name == link) {
            let mut names: Vec<_> = links.iter().map(|l| l.name.as_str()).collect();
            names.dedup();
            let hint = match cx.closest(link, names.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("links are {}", quoted_some(&names)),
            };
            cx.push(
                Diagnostic::error(apath.clone(), format!("unknown link `{link}`"))
                    .at_key()
                    .hint(hint),
            );
        }
        if let Some(addr) = ip(cx, apath, text) {
            specific.insert(link.clone(), addr);
        }
    }
    let mut out = BTreeMap::new();
    for link in links.iter().filter(|l| l.transport == Transport::Unicast) {
        match specific.get(&link.name).copied().or(default) {
            Some(addr) => {
                out.insert(link.name.clone(), addr);
            }
            None if n.address.is_none() => cx.push(
                Diagnostic::error(
                    npath.clone(),
                    format!("no address for unicast link `{}`", link.name),
                )
                .hint(format!(
                    "add `address: <ip>` or `addresses: {{ {}: <ip> }}`",
                    link.name
                )),
            ),
            None => {} // the bad `address` was already reported
        }
    }
    out
}

fn same_family(cx: &mut Ctx, path: &YamlPath, link: &str, nodes: &BTreeMap<String, Node>) {
    let addrs: Vec<(&String, IpAddr)> = nodes
        .iter()
        .filter_map(|(n, node)| node.addresses.get(link).map(|a| (n, *a)))
        .collect();
    if let Some((first, a)) = addrs.first()
        && let Some((other, _)) = addrs.iter().find(|(_, b)| b.is_ipv6() != a.is_ipv6())
    {
        cx.push(
                Diagnostic::error(path.key(other), format!("link `{link}` mixes IPv4 and IPv6: `{first}` and `{other}` cannot reach each other"))
                    .hint(format!("give every node an address of one family on `{link}` (`addresses: {{ {link}: <ip> }}`)")),
            );
    }
}

pub(super) fn auth(cx: &mut Ctx, raw: &RawManifest) -> Option<KeySource> {
    let path = YamlPath::root().key("auth");
    let auth = cx.required(
        &YamlPath::root(),
        "auth",
        raw.auth.as_ref(),
        "auth: { key_file: /etc/haagent/authkey }",
    )?;
    match (&auth.key_file, &auth.credential) {
        (Some(file), None) => {
            if !file.starts_with('/') {
                cx.push(
                    Diagnostic::error(
                        path.key("key_file"),
                        format!("key_file `{file}` is not an absolute path"),
                    )
                    .hint("write the full path, e.g. `/etc/haagent/authkey`"),
                );
                return None;
            }
            Some(KeySource::KeyFile(PathBuf::from(file)))
        }
        (None, Some(name)) => cx
            .name(&path.key("credential"), name, "credential name")
            .then(|| KeySource::Credential(name.clone())),
        (Some(_), Some(_)) => {
            cx.push(
                Diagnostic::error(path, "both `key_file` and `credential` are set")
                    .hint("keep one: `credential` for a systemd credential, `key_file` otherwise"),
            );
            None
        }
        (None, None) => {
            cx.push(Diagnostic::error(path, "no key source").hint("add `key_file: /etc/haagent/authkey` (create it with `haagentctl keygen`) or `credential: NAME`"));
            None
        }
    }
}

pub(super) fn connectivity(cx: &mut Ctx, raw: &RawManifest) -> Connectivity {
    let empty = RawConnectivity::default();
    let c = raw.connectivity.as_ref().unwrap_or(&empty);
    let path = YamlPath::root().key("connectivity");
    let targets = c.ping.as_deref().unwrap_or_default();
    cx.limit(
        path.key("ping").index(MAX_PING_TARGETS),
        targets.len(),
        MAX_PING_TARGETS,
        "ping targets",
        "two or three targets (the gateways) decide as well as many",
    );
    let ping = targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| ip(cx, path.key("ping").index(i), t))
        .collect();
    let interval = cx.duration(
        path.key("interval"),
        c.interval.as_ref(),
        Duration::from_secs(1),
        &limits::PING_INTERVAL,
    );
    let timeout = cx.duration(
        path.key("timeout"),
        c.timeout.as_ref(),
        Duration::from_secs(3),
        &limits::PING_TIMEOUT,
    );
    if timeout < interval {
        cx.push(Diagnostic::warning(path.key("timeout"), "timeout is shorter than interval").hint("a target is pinged less often than it is timed out; raise timeout to at least interval"));
    }
    Connectivity {
        ping,
        interval,
        timeout,
    }
}

pub(super) fn quorum(
    cx: &mut Ctx,
    raw: &RawManifest,
    nodes: &BTreeMap<String, Node>,
    conn: &Connectivity,
) -> Quorum {
    let empty = RawQuorum::default();
    let q = raw.quorum.as_ref().unwrap_or(&empty);
    let path = YamlPath::root().key("quorum");
    let mut tie_breaker = None;
    if let Some(two) = &q.two_node {
        let tpath = path.key("two_node").key("tie_breaker");
        tie_breaker = match &two.tie_breaker {
            Some(t) => cx.choice(tpath.clone(), t, &["ping", "none"]).map(|i| {
                if i == 0 {
                    TieBreaker::Ping
                } else {
                    TieBreaker::None
                }
            }),
            None => Some(TieBreaker::None),
        };
        if nodes.len() != 2 && !nodes.is_empty() {
            cx.push(
                Diagnostic::warning(
                    path.key("two_node"),
                    format!(
                        "`two_node` is ignored: the cluster has {} voters",
                        nodes.len()
                    ),
                )
                .hint("remove it; a majority of votes decides"),
            );
            tie_breaker = None;
        } else if tie_breaker == Some(TieBreaker::Ping) && conn.ping.is_empty() {
            cx.push(
                Diagnostic::error(tpath, "tie_breaker `ping` needs ping targets")
                    .hint("add `connectivity: { ping: [<gateway address>] }`"),
            );
        }
    }
    let wait_for_all = q.wait_for_all.unwrap_or(true);
    if !wait_for_all && nodes.len() == 2 {
        cx.push(
            Diagnostic::warning(path.key("wait_for_all"), "wait_for_all is off in a two-node cluster")
                .hint("two nodes booting apart (e.g. after a switch failure) may each start the stateful groups; turn it off only for a one-time recovery"),
        );
    }
    Quorum {
        tie_breaker,
        wait_for_all,
    }
}

/// Resolves each node's fence unit and returns whether fencing is required for takeovers.
pub(super) fn fencing(
    cx: &mut Ctx,
    raw: &RawManifest,
    nodes: &mut BTreeMap<String, Node>,
    groups: &BTreeMap<String, Group>,
    quorum: &Quorum,
) -> bool {
    let path = YamlPath::root().key("fencing");
    let template = raw.fencing.as_ref().and_then(|f| f.unit.as_ref());
    for (name, node) in nodes.iter_mut() {
        let own = raw
            .nodes
            .as_ref()
            .and_then(|n| n.get(name))
            .and_then(|n| n.fence.as_ref());
        let (text, upath) = match (own, template) {
            (Some(t), _) => (t, YamlPath::root().key("nodes").key(name).key("fence")),
            (None, Some(t)) => (t, path.key("unit")),
            (None, None) => continue,
        };
        let unit = text.replace("%i", name);
        if unit_name(cx, upath, &unit) {
            node.fence = Some(unit);
        }
    }
    let any_fence = nodes.values().any(|n| n.fence.is_some());
    let required = raw
        .fencing
        .as_ref()
        .and_then(|f| f.required)
        .unwrap_or(any_fence);
    let holders: Vec<&String> = nodes
        .iter()
        .filter(|(_, n)| !n.witness)
        .map(|(k, _)| k)
        .collect();
    let stateful: Vec<&String> = groups
        .iter()
        .filter(|(_, g)| g.stateful)
        .map(|(k, _)| k)
        .collect();
    if required && !stateful.is_empty() {
        for name in holders.iter().filter(|n| nodes[n.as_str()].fence.is_none()) {
            cx.push(Diagnostic::error(path.clone(), format!("fencing is required but node `{name}` has no fence unit")).hint(format!("add `fencing: {{ unit: fence-ipmi@%i.service }}` or `nodes: {{ {name}: {{ fence: <unit> }} }}`, or set `required: false`")));
        }
    }
    // A mistyped tie-breaker was reported already; do not add a second error for it.
    let mistyped = quorum.tie_breaker.is_none()
        && raw
            .quorum
            .as_ref()
            .and_then(|q| q.two_node.as_ref())
            .is_some_and(|t| t.tie_breaker.is_some());
    if !mistyped {
        two_node_safety(cx, nodes, &stateful, quorum, required);
    }
    required
}

/// Two voters cannot form a majority after a split: a stateful group would run on both sides
/// unless ping targets or fencing decide (Pacemaker's rule; keepalived fails open here). Ping
/// alone decides only splits that also cut one node from the targets, hence the warning.
fn two_node_safety(
    cx: &mut Ctx,
    nodes: &BTreeMap<String, Node>,
    stateful: &[&String],
    quorum: &Quorum,
    fenced: bool,
) {
    if nodes.len() != 2 || stateful.is_empty() || fenced {
        return;
    }
    let groups = quoted_some(stateful);
    let (noun, relies, it) = match stateful.len() {
        1 => ("group", "relies", "it"),
        _ => ("groups", "rely", "them"),
    };
    if quorum.tie_breaker != Some(TieBreaker::Ping) {
        cx.push(
            Diagnostic::error(YamlPath::root().key("quorum"), format!("two-node cluster runs stateful {noun} {groups} with neither a tie-breaker nor fencing: after a split both nodes would run {it}"))
                .hint("add `quorum: { two_node: { tie_breaker: ping } }` with `connectivity: { ping: [<gateway>] }`, or `fencing: { unit: fence-ipmi@%i.service }`, or a third (witness) node"),
        );
    } else if !nodes.values().any(|n| n.witness) {
        let path = YamlPath::root()
            .key("quorum")
            .key("two_node")
            .key("tie_breaker");
        cx.push(
            Diagnostic::warning(path, format!("stateful {noun} {groups} {relies} on the ping tie-breaker alone: a cut between the two nodes that leaves both reaching the ping targets lets both run {it}"))
                .hint("add a third node with `witness: true` (it only votes), or configure fencing (`fencing: { unit: fence-ipmi@%i.service }`)"),
        );
    }
}
