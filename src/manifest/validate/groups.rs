//! The `groups:` section: eligible nodes, resources (VIPs and systemd units), the `after`
//! dependency graph, and the stateful / quorum-loss rules.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::super::diag::Diagnostic;
use super::super::duration;
use super::super::model::{Announce, Group, Node, Resource, ResourceKind, Vip};
use super::super::raw::{RawGroup, RawManifest, RawResource};
use super::super::tree::YamlPath;
use super::names::{ip, unit_name};
use super::{Ctx, interface_name};
use crate::text::{closest, quoted_list};

pub(super) fn groups(
    cx: &mut Ctx,
    raw: &RawManifest,
    nodes: &BTreeMap<String, Node>,
) -> BTreeMap<String, Group> {
    let path = YamlPath::root().key("groups");
    let mut out = BTreeMap::new();
    for (name, g) in raw.groups.iter().flatten() {
        let gpath = path.key(name);
        cx.name(&gpath, name, "group name");
        out.insert(name.clone(), group(cx, &gpath, g, nodes));
    }
    vips_unique(cx, &path, &out);
    out
}

fn group(cx: &mut Ctx, gpath: &YamlPath, g: &RawGroup, nodes: &BTreeMap<String, Node>) -> Group {
    let members = members(cx, gpath, g, nodes);
    let resources = resources(cx, gpath, g);
    let has_unit = resources
        .iter()
        .any(|r| matches!(r.kind, ResourceKind::Unit(_)));
    let stateful = g.stateful.unwrap_or(has_unit);
    let release = match &g.on_quorum_loss {
        Some(text) => cx
            .choice(gpath.key("on_quorum_loss"), text, &["release", "keep"])
            .is_none_or(|i| i == 0),
        None => stateful,
    };
    if stateful && !release {
        cx.push(
            Diagnostic::error(gpath.key("on_quorum_loss"), "a stateful group cannot keep running without quorum: the other side may start it too")
                .hint("use `on_quorum_loss: release`, or `stateful: false` if the units may safely run on two nodes"),
        );
    }
    Group {
        nodes: members,
        failback: g.failback.unwrap_or(false),
        stateful,
        release_on_quorum_loss: release,
        resources,
    }
}

fn members(
    cx: &mut Ctx,
    gpath: &YamlPath,
    g: &RawGroup,
    nodes: &BTreeMap<String, Node>,
) -> Vec<String> {
    let Some(list) = cx.required(gpath, "nodes", g.nodes.as_ref(), "nodes: [alpha, beta]") else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for (i, name) in list.iter().enumerate() {
        let npath = gpath.key("nodes").index(i);
        if !cx.node_ref(npath.clone(), name, nodes) {
            continue;
        }
        if out.contains(name) {
            cx.push(
                Diagnostic::error(npath, format!("node `{name}` is listed twice"))
                    .hint("list each node once, in order of preference"),
            );
        } else if nodes[name].witness {
            cx.push(
                Diagnostic::error(
                    npath,
                    format!("node `{name}` is a witness and never holds groups"),
                )
                .hint(format!("remove `{name}` from this list")),
            );
        } else {
            out.push(name.clone());
        }
    }
    if out.is_empty() && list.iter().all(|n| nodes.contains_key(n)) {
        cx.push(
            Diagnostic::error(gpath.key("nodes"), "the group has no node that can run it")
                .hint("list at least one non-witness node"),
        );
    } else if out.len() == 1 && list.len() == 1 {
        cx.push(
            Diagnostic::warning(
                gpath.key("nodes"),
                format!("the group can only run on `{}`", out[0]),
            )
            .hint("list a second node, or it stops when this node fails"),
        );
    }
    out
}

fn resources(cx: &mut Ctx, gpath: &YamlPath, g: &RawGroup) -> Vec<Resource> {
    let rpath = gpath.key("resources");
    let Some(list) = cx.required(
        gpath,
        "resources",
        g.resources.as_ref(),
        "resources: [{ vip: 192.0.2.10/24, interface: eth0 }]",
    ) else {
        return Vec::new();
    };
    if list.is_empty() {
        cx.push(
            Diagnostic::error(rpath.clone(), "the group has no resources")
                .hint("add a `- vip: ...` or `- unit: ...` entry"),
        );
    }
    let mut out: Vec<Resource> = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let path = rpath.index(i);
        let Some(res) = resource(cx, &path, r) else {
            continue;
        };
        if out.iter().any(|o| o.name == res.name) {
            cx.push(
                Diagnostic::error(path, format!("duplicate resource name `{}`", res.name))
                    .hint("give one of them a distinct `name:`"),
            );
            continue;
        }
        out.push(res);
    }
    let names: Vec<String> = out.iter().map(|r| r.name.clone()).collect();
    for (i, r) in list.iter().enumerate() {
        let Some(pos) = out
            .iter()
            .position(|o| Some(&o.name) == resource_name(r).as_ref())
        else {
            continue;
        };
        out[pos].after = after(cx, &rpath.index(i), r, pos, &names);
    }
    no_cycle(cx, &rpath, &out, list);
    out
}

fn no_cycle(cx: &mut Ctx, rpath: &YamlPath, out: &[Resource], list: &[RawResource]) {
    let deps: Vec<Vec<usize>> = out.iter().map(|r| r.after.clone()).collect();
    let Some(cycle) = super::graph::find_cycle(&deps) else {
        return;
    };
    let names: Vec<&str> = cycle.iter().map(|&i| out[i].name.as_str()).collect();
    let first = list
        .iter()
        .position(|r| resource_name(r).as_deref() == Some(names[0]))
        .unwrap_or(0);
    cx.push(
        Diagnostic::error(
            rpath.index(first).key("after"),
            format!("`after` forms a cycle: {}", names.join(" -> ")),
        )
        .hint("remove one of these dependencies: a cycle can never start"),
    );
}

/// The name a resource is known by in `after` lists.
fn resource_name(r: &RawResource) -> Option<String> {
    if let Some(n) = &r.name {
        return Some(n.clone());
    }
    match (&r.vip, &r.unit) {
        (Some(v), None) => Some(v.split('/').next().unwrap_or(v).to_owned()),
        (None, Some(u)) => Some(u.clone()),
        _ => None,
    }
}

fn resource(cx: &mut Ctx, path: &YamlPath, r: &RawResource) -> Option<Resource> {
    let name = resource_name(r);
    if let Some(n) = &r.name {
        cx.name(&path.key("name"), n, "resource name");
    }
    let kind = match (&r.vip, &r.unit) {
        (Some(v), None) => ResourceKind::Vip(vip(cx, path, v, r)?),
        (None, Some(u)) => {
            for key in [
                ("interface", r.interface.is_some()),
                ("label", r.label.is_some()),
                ("announce", r.announce.is_some()),
            ]
            .iter()
            .filter(|k| k.1)
            .map(|k| k.0)
            {
                cx.push(
                    Diagnostic::error(path.key(key), format!("`{key}` applies only to VIPs"))
                        .hint(format!("remove `{key}` from this unit resource")),
                );
            }
            startable_unit(cx, path.key("unit"), u).then(|| ResourceKind::Unit(u.clone()))?
        }
        (Some(_), Some(_)) => {
            cx.push(
                Diagnostic::error(path.clone(), "a resource has both `vip` and `unit`")
                    .hint("split it into two list entries"),
            );
            return None;
        }
        (None, None) => {
            cx.push(Diagnostic::error(path.clone(), "a resource needs `vip` or `unit`").hint("e.g. `- vip: 192.0.2.10/24` with `interface: eth0`, or `- unit: nginx.service`"));
            return None;
        }
    };
    Some(Resource {
        name: name?,
        kind,
        after: Vec::new(),
    })
}

fn vip(cx: &mut Ctx, path: &YamlPath, text: &str, r: &RawResource) -> Option<Vip> {
    let vpath = path.key("vip");
    let (address, prefix) = vip_address(cx, vpath, text)?;
    let interface = match &r.interface {
        Some(i) => {
            interface_name(cx, path.key("interface"), i);
            i.clone()
        }
        None => {
            cx.push(
                Diagnostic::error(path.clone(), format!("VIP {text} has no interface"))
                    .hint("add `interface: eth0` (the interface facing the VIP's clients)"),
            );
            return None;
        }
    };
    if let Some(label) = &r.label {
        if address.is_ipv6() {
            cx.push(
                Diagnostic::error(path.key("label"), "IPv6 addresses have no labels")
                    .hint("remove `label`"),
            );
        } else if label.is_empty() || label.len() > 15 {
            cx.push(
                Diagnostic::error(
                    path.key("label"),
                    format!(
                        "label `{label}` is {} bytes; the kernel allows 1 to 15",
                        label.len()
                    ),
                )
                .hint(format!("shorten it, e.g. `{interface}:vip`")),
            );
        }
    }
    Some(Vip {
        address,
        prefix,
        interface,
        label: r.label.clone(),
        announce: announce(cx, path, r),
    })
}

fn vip_address(cx: &mut Ctx, vpath: YamlPath, text: &str) -> Option<(IpAddr, u8)> {
    let Some((addr, prefix)) = text.split_once('/') else {
        cx.push(
            Diagnostic::error(vpath, format!("VIP `{text}` has no prefix length")).hint(format!(
                "write it with the subnet's prefix, e.g. `{text}/24` (or /64 for IPv6)"
            )),
        );
        return None;
    };
    let address = ip(cx, vpath.clone(), addr)?;
    let max = if address.is_ipv6() { 128 } else { 32 };
    let Some(prefix) = prefix.parse::<u8>().ok().filter(|p| *p <= max) else {
        cx.push(
            Diagnostic::error(vpath, format!("`/{prefix}` is not a prefix length"))
                .hint(format!("use 0 to {max}")),
        );
        return None;
    };
    if let Some(why) = not_a_host(address, prefix) {
        cx.push(
            Diagnostic::error(
                vpath,
                format!("{address}/{prefix} is {why}, not a host address"),
            )
            .hint("use an unused host address of the clients' subnet"),
        );
        return None;
    }
    Some((address, prefix))
}

fn not_a_host(address: IpAddr, prefix: u8) -> Option<&'static str> {
    if address.is_unspecified() {
        return Some("unspecified");
    }
    if address.is_multicast() {
        return Some("a multicast address");
    }
    if address.is_loopback() {
        return Some("a loopback address");
    }
    if let IpAddr::V4(v4) = address {
        let host_bits = 32 - u32::from(prefix);
        if v4.is_broadcast() {
            return Some("the broadcast address");
        }
        // /31 and /32 have no network or broadcast address (RFC 3021).
        if host_bits >= 2 {
            let mask = (1u32 << host_bits) - 1;
            let bits = u32::from(v4) & mask;
            if bits == 0 {
                return Some("the subnet's network address");
            }
            if bits == mask {
                return Some("the subnet's broadcast address");
            }
        }
    }
    None
}

fn announce(cx: &mut Ctx, path: &YamlPath, r: &RawResource) -> Announce {
    let apath = path.key("announce");
    let a = r.announce.as_ref();
    let count = match a.and_then(|a| a.count) {
        None => 5,
        Some(c @ 1..=100) => c,
        Some(c) => {
            cx.push(
                Diagnostic::error(apath.key("count"), format!("count {c} is out of range"))
                    .hint("send 1 to 100 announcements; 5 is usual"),
            );
            5
        }
    };
    let interval = cx.duration(
        apath.key("interval"),
        a.and_then(|a| a.interval.as_ref()),
        Duration::from_millis(200),
    );
    let refresh = match a.and_then(|a| a.refresh.as_deref()) {
        None => Some(Duration::from_secs(10)),
        Some("off") => {
            cx.push(Diagnostic::warning(apath.key("refresh"), "periodic announcements are off").hint("a switch or client that missed the burst keeps the old MAC until its cache expires"));
            None
        }
        Some(t) => match duration::parse(t) {
            Ok(d) => Some(d),
            Err(why) => {
                cx.push(
                    Diagnostic::error(apath.key("refresh"), why)
                        .hint("write a duration such as `10s`, or `off`"),
                );
                None
            }
        },
    };
    Announce {
        count,
        interval,
        refresh,
    }
}

fn after(
    cx: &mut Ctx,
    path: &YamlPath,
    r: &RawResource,
    own: usize,
    names: &[String],
) -> Vec<usize> {
    let Some(list) = &r.after else {
        // haresources order: each resource waits for the one written before it.
        return own.checked_sub(1).into_iter().collect();
    };
    let mut out = Vec::new();
    for (i, dep) in list.iter().enumerate() {
        match names.iter().position(|n| n == dep) {
            Some(d) => out.push(d),
            None => {
                let hint = match closest(dep, names.iter().map(String::as_str)) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("resources of this group are {}", quoted_list(names)),
                };
                cx.push(
                    Diagnostic::error(
                        path.key("after").index(i),
                        format!("`after` names unknown resource `{dep}`"),
                    )
                    .hint(hint),
                );
            }
        }
    }
    out
}

fn startable_unit(cx: &mut Ctx, path: YamlPath, unit: &str) -> bool {
    if !unit_name(cx, path.clone(), unit) {
        return false;
    }
    let kind = unit.rsplit_once('.').map_or("", |(_, t)| t);
    if ["device", "slice", "scope"].contains(&kind) {
        cx.push(
            Diagnostic::error(
                path,
                format!("a .{kind} unit cannot be started or stopped by a job"),
            )
            .hint("manage the .service (or .mount, .target) that provides it"),
        );
        return false;
    }
    true
}

/// The same VIP in two groups would make two owners fight over one address.
fn vips_unique(cx: &mut Ctx, path: &YamlPath, groups: &BTreeMap<String, Group>) {
    let mut seen: BTreeMap<IpAddr, &String> = BTreeMap::new();
    for (gname, g) in groups {
        for (i, r) in g.resources.iter().enumerate() {
            let ResourceKind::Vip(v) = &r.kind else {
                continue;
            };
            if let Some(first) = seen.insert(v.address, gname) {
                cx.push(
                    Diagnostic::error(
                        path.key(gname).key("resources").index(i).key("vip"),
                        format!("VIP {} is already in group `{first}`", v.address),
                    )
                    .hint("each VIP belongs to exactly one group, once"),
                );
            }
        }
    }
}
