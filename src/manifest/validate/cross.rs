//! Checks across sections, once nodes, links, ping targets and groups are read: every address
//! has one owner (a node, a group's VIP or a ping target, never two of them), every unit one
//! group, and the cluster's VIPs stay within their limit.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::super::diag::Diagnostic;
use super::super::limits::{MAX_VIPS, name_hash};
use super::super::model::{Connectivity, Group, Link, Node, ResourceKind, Transport};
use super::super::raw::RawManifest;
use super::super::tree::YamlPath;
use super::Ctx;

/// Runs every cross-section check.
pub(super) fn check(
    cx: &mut Ctx,
    raw: &RawManifest,
    nodes: &BTreeMap<String, Node>,
    links: &[Link],
    conn: &Connectivity,
    groups: &BTreeMap<String, Group>,
) {
    let owners = node_addresses(cx, raw, nodes, links);
    vips(cx, groups, &owners, conn);
    units(cx, groups);
    hashes(cx, "nodes", nodes.keys());
    hashes(cx, "groups", groups.keys());
}

/// Refuses two names of one kind that the heartbeat could not tell apart (see
/// [`name_hash`]).
fn hashes<'a>(cx: &mut Ctx, kind: &str, names: impl Iterator<Item = &'a String>) {
    let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
    for n in names {
        if let Some(first) = seen.insert(name_hash(n), n) {
            cx.push(
                Diagnostic::error(
                    YamlPath::root().key(kind).key(n),
                    format!("`{n}` and `{first}` share the heartbeat's 32-bit name hash"),
                )
                .at_key()
                .hint("rename one of them (heartbeats name nodes and groups by this hash)"),
            );
        }
    }
}

/// Where a node's address on `link` is written: `addresses.LINK` if given, else `address`.
fn address_path(raw: &RawManifest, node: &str, link: &str) -> YamlPath {
    let npath = YamlPath::root().key("nodes").key(node);
    let specific = raw
        .nodes
        .as_ref()
        .and_then(|n| n.get(node))
        .and_then(|n| n.addresses.as_ref())
        .is_some_and(|a| a.contains_key(link));
    match specific {
        true => npath.key("addresses").key(link),
        false => npath.key("address"),
    }
}

/// Refuses two nodes with one address on a link; returns which node and link own each address.
fn node_addresses<'a>(
    cx: &mut Ctx,
    raw: &RawManifest,
    nodes: &'a BTreeMap<String, Node>,
    links: &'a [Link],
) -> BTreeMap<IpAddr, (&'a str, &'a str)> {
    let mut owners = BTreeMap::new();
    for link in links.iter().filter(|l| l.transport == Transport::Unicast) {
        let mut on_link: BTreeMap<IpAddr, &str> = BTreeMap::new();
        for (name, node) in nodes {
            let Some(&addr) = node.addresses.get(&link.name) else {
                continue;
            };
            owners
                .entry(addr)
                .or_insert((name.as_str(), link.name.as_str()));
            if let Some(first) = on_link.insert(addr, name) {
                let l = &link.name;
                cx.push(
                    Diagnostic::error(
                        address_path(raw, name, l),
                        format!("nodes `{first}` and `{name}` have the same address {addr} on link `{l}`"),
                    )
                    .hint(format!("give each node its own address on `{l}`: heartbeats for one would reach the other")),
                );
            }
        }
    }
    owners
}

/// Each VIP once in the cluster, never a node's address or a ping target, at most
/// [`MAX_VIPS`] in all.
fn vips(
    cx: &mut Ctx,
    groups: &BTreeMap<String, Group>,
    owners: &BTreeMap<IpAddr, (&str, &str)>,
    conn: &Connectivity,
) {
    let targets: BTreeMap<IpAddr, usize> = conn
        .ping
        .iter()
        .enumerate()
        .map(|(i, a)| (*a, i))
        .rev()
        .collect();
    let mut seen: BTreeMap<IpAddr, &String> = BTreeMap::new();
    let total = groups
        .values()
        .flat_map(|g| &g.resources)
        .filter(|r| matches!(r.kind, ResourceKind::Vip(_)))
        .count();
    for (gname, g) in groups {
        for (i, r) in g.resources.iter().enumerate() {
            let ResourceKind::Vip(v) = &r.kind else {
                continue;
            };
            let path = cx.resource_path(gname, i).key("vip");
            let a = v.address;
            if seen.len() == MAX_VIPS && !seen.contains_key(&a) {
                cx.limit(
                    path.clone(),
                    total,
                    MAX_VIPS,
                    "VIPs in the cluster",
                    "split the cluster: one manifest holds at most 4000 VIPs",
                );
            }
            if let Some(first) = seen.insert(a, gname) {
                cx.push(
                    Diagnostic::error(
                        path.clone(),
                        format!("VIP {a} is already in group `{first}`"),
                    )
                    .hint("each VIP belongs to exactly one group, once"),
                );
            }
            if let Some((node, link)) = owners.get(&a) {
                cx.push(
                    Diagnostic::error(path.clone(), format!("VIP {a} is the address of node `{node}` on link `{link}`"))
                        .hint("use an address no node has: a VIP moves between nodes, a node's own address must stay with it"),
                );
            }
            if let Some(t) = targets.get(&a) {
                cx.push(
                    Diagnostic::error(path, format!("VIP {a} is also a ping target (connectivity.ping[{t}])"))
                        .hint("ping an address outside the cluster, such as the gateway: the node holding the VIP would answer its own pings"),
                );
            }
        }
    }
}

/// Each unit in one group, once: two groups would start and stop it on different nodes.
fn units(cx: &mut Ctx, groups: &BTreeMap<String, Group>) {
    let mut seen: BTreeMap<&str, &String> = BTreeMap::new();
    for (gname, g) in groups {
        for (i, r) in g.resources.iter().enumerate() {
            let ResourceKind::Unit(unit) = &r.kind else {
                continue;
            };
            if let Some(first) = seen.insert(unit, gname) {
                let path = cx.resource_path(gname, i).key("unit");
                cx.push(
                    Diagnostic::error(path, format!("unit `{unit}` is already in group `{first}`"))
                        .hint("a unit belongs to one group, once: two entries would start and stop it independently"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::{Severity, parse};

    const BASE: &str = "\
cluster: web
nodes:
  alpha: { address: 10.0.0.1 }
  beta: { address: 10.0.0.2 }
auth: { key_file: /etc/haagent/authkey }
fencing: { unit: 'fence@%i.service' }
connectivity: { ping: [10.0.0.254] }
groups:
  web:
    nodes: [alpha, beta]
    resources:
      - { vip: 10.0.0.10/24, interface: eth0 }
      - unit: nginx.service
";

    /// (line, column, path, message, hint) of each error of `BASE` with `from` replaced by `to`.
    fn errors(from: &str, to: &str) -> Vec<(u32, u32, String, String, String)> {
        assert!(BASE.contains(from), "test bug: {from:?}");
        parse(&BASE.replace(from, to))
            .problems
            .into_iter()
            .filter(|p| p.severity == Severity::Error)
            .map(|p| {
                (
                    p.line,
                    p.column,
                    p.path,
                    p.message,
                    p.hint.unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn names_the_heartbeat_cannot_tell_apart_are_refused() {
        // FNV-1a collisions known from its test vectors' neighbourhood are rare; find one.
        let mut seen = std::collections::HashMap::new();
        let (a, b) = (0u32..)
            .map(|i| format!("g{i}"))
            .find_map(|n| seen.insert(super::name_hash(&n), n.clone()).map(|m| (m, n)))
            .unwrap();
        let text = BASE.replace(
            "groups:\n  web:",
            &format!("groups:\n  {a}:\n    nodes: [alpha]\n    resources: [{{ unit: a.service }}]\n  {b}:\n    nodes: [alpha]\n    resources: [{{ unit: b.service }}]\n  web:"),
        );
        let r = parse(&text);
        assert!(
            r.problems
                .iter()
                .any(|p| p.message.contains("share the heartbeat's 32-bit name hash")),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn base_is_valid() {
        assert_eq!(errors("", ""), []);
    }

    #[test]
    fn a_vip_may_not_be_a_node_address_on_any_link() {
        let found = errors("vip: 10.0.0.10/24", "vip: 10.0.0.2/24");
        assert_eq!(found.len(), 1, "{found:#?}");
        let (line, column, path, message, hint) = &found[0];
        assert_eq!((*line, *column), (12, 16));
        assert_eq!(path, "groups.web.resources[0].vip");
        assert_eq!(
            message,
            "VIP 10.0.0.2 is the address of node `beta` on link `link0`"
        );
        assert!(hint.starts_with("use an address no node has"), "{hint}");
        // On a second link, given under `addresses`.
        let two_links = BASE
            .replace(
                "auth:",
                "heartbeat: { links: [{ name: lan }, { name: san }] }\nauth:",
            )
            .replace(
                "alpha: { address: 10.0.0.1 }",
                "alpha: { address: 10.0.0.1, addresses: { san: 10.9.0.1 } }",
            )
            .replace("vip: 10.0.0.10/24", "vip: 10.9.0.1/24");
        let report = parse(&two_links);
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.message == "VIP 10.9.0.1 is the address of node `alpha` on link `san`"),
            "{:#?}",
            report.problems
        );
    }

    #[test]
    fn a_vip_may_not_be_a_ping_target() {
        let found = errors("ping: [10.0.0.254]", "ping: [10.0.0.253, 10.0.0.10]");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].2, "groups.web.resources[0].vip");
        assert_eq!(
            found[0].3,
            "VIP 10.0.0.10 is also a ping target (connectivity.ping[1])"
        );
        assert!(found[0].4.contains("would answer its own pings"));
    }

    #[test]
    fn two_nodes_may_not_share_an_address_on_a_link() {
        let found = errors("beta: { address: 10.0.0.2 }", "beta: { address: 10.0.0.1 }");
        assert_eq!(found.len(), 1, "{found:#?}");
        let (line, column, path, message, hint) = &found[0];
        assert_eq!(
            (*line, *column, path.as_str()),
            (4, 20, "nodes.beta.address")
        );
        assert_eq!(
            message,
            "nodes `alpha` and `beta` have the same address 10.0.0.1 on link `link0`"
        );
        assert!(hint.starts_with("give each node its own address on `link0`"));
    }

    #[test]
    fn a_unit_belongs_to_one_group() {
        let other = "  db:\n    nodes: [beta, alpha]\n    resources: [{ unit: nginx.service }]\n";
        let found = errors(
            "      - unit: nginx.service\n",
            &format!("      - unit: nginx.service\n{other}"),
        );
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].2, "groups.web.resources[1].unit");
        assert_eq!(found[0].3, "unit `nginx.service` is already in group `db`");
        // Twice in one group under two names.
        let found = errors(
            "      - unit: nginx.service\n",
            "      - unit: nginx.service\n      - { unit: nginx.service, name: again }\n",
        );
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].3, "unit `nginx.service` is already in group `web`");
    }

    #[test]
    fn a_vip_belongs_to_one_group_and_is_located_past_broken_entries() {
        let other = "  db:\n    nodes: [beta]\n    resources:\n      - { vip: nonsense }\n      - { vip: 10.0.0.10/24, interface: eth1 }\n";
        let found = errors(
            "      - unit: nginx.service\n",
            &format!("      - unit: nginx.service\n{other}"),
        );
        let dup: Vec<_> = found
            .iter()
            .filter(|f| f.3.contains("already in group"))
            .collect();
        assert_eq!(dup.len(), 1, "{found:#?}");
        assert_eq!(dup[0].2, "groups.web.resources[0].vip");
        assert_eq!(dup[0].3, "VIP 10.0.0.10 is already in group `db`");
        // The entry the broken one precedes is the one pointed at.
        let found = errors(
            "      - unit: nginx.service\n",
            "      - unit: nginx.service\n      - { vip: nonsense }\n      - { vip: 10.0.0.10/24, interface: eth1, name: again }\n",
        );
        let dup: Vec<_> = found
            .iter()
            .filter(|f| f.3.contains("already in group"))
            .collect();
        assert_eq!(dup[0].2, "groups.web.resources[3].vip", "{found:#?}");
    }
}
