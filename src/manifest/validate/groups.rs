//! The `groups:` section: eligible nodes, resources (systemd units here, VIPs in `vips.rs`),
//! the `after` dependency graph, the per-group limits, and the stateful / quorum-loss rules.

use std::collections::{BTreeMap, BTreeSet};

use super::super::diag::Diagnostic;
use super::super::limits::{self, MAX_GROUPS, MAX_RESOURCES_PER_GROUP, MAX_VIPS_PER_GROUP};
use super::super::model::{Group, Node, OnStray, Resource, ResourceKind};
use super::super::raw::{RawGroup, RawManifest, RawResource};
use super::super::tree::YamlPath;
use super::Ctx;
use super::names::unit_name;
use super::vips::vip;
use crate::text::quoted_some;

pub(super) fn groups(
    cx: &mut Ctx,
    raw: &RawManifest,
    nodes: &BTreeMap<String, Node>,
) -> BTreeMap<String, Group> {
    let path = YamlPath::root().key("groups");
    let raw_groups = raw.groups.as_ref();
    if let Some(first_beyond) = raw_groups.and_then(|g| g.keys().nth(MAX_GROUPS)) {
        cx.limit(
            path.key(first_beyond),
            raw_groups.map_or(0, BTreeMap::len),
            MAX_GROUPS,
            "groups",
            "merge groups that always move together, or split the cluster",
        );
    }
    let mut out = BTreeMap::new();
    for (name, g) in raw_groups.into_iter().flatten() {
        let gpath = path.key(name);
        cx.name(&gpath, name, "group name");
        let (group, written_at) = group(cx, &gpath, g, nodes);
        cx.written_at.insert(name.clone(), written_at);
        out.insert(name.clone(), group);
    }
    out
}

/// The group, and where each of its resources is written in its `resources` list.
fn group(
    cx: &mut Ctx,
    gpath: &YamlPath,
    g: &RawGroup,
    nodes: &BTreeMap<String, Node>,
) -> (Group, Vec<usize>) {
    let members = members(cx, gpath, g, nodes);
    let (resources, written_at) = resources(cx, gpath, g);
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
    let on_stray = on_stray(cx, gpath, g, stateful);
    let (max_restarts, restart_window) = on_failure(cx, gpath, g);
    let group = Group {
        nodes: members,
        failback: g.failback.unwrap_or(false),
        stateful,
        release_on_quorum_loss: release,
        on_stray,
        max_restarts,
        restart_window,
        resources,
    };
    (group, written_at)
}

/// `on_stray`: `stop` by default for a stateful group, `warn` otherwise. A stateful group told
/// to only warn may run twice by an operator's hand: allowed (it is their call), warned about.
fn on_stray(cx: &mut Ctx, gpath: &YamlPath, g: &RawGroup, stateful: bool) -> OnStray {
    let Some(text) = &g.on_stray else {
        return if stateful {
            OnStray::Stop
        } else {
            OnStray::Warn
        };
    };
    let choice = cx.choice(gpath.key("on_stray"), text, &["stop", "warn"]);
    if choice == Some(1) {
        if stateful {
            cx.push(
                Diagnostic::warning(gpath.key("on_stray"), "stateful group only warns about a stray copy of its units: a unit started by hand on a node that does not hold the group runs beside the holder's copy")
                    .hint("use `on_stray: stop` (the default), or `stateful: false` if the units may safely run on two nodes"),
            );
        }
        return OnStray::Warn;
    }
    OnStray::Stop
}

/// `on_failure`, `max_restarts` and `restart_window`: how many restarts in place within what
/// window (none with `on_failure: move`).
fn on_failure(cx: &mut Ctx, gpath: &YamlPath, g: &RawGroup) -> (u32, std::time::Duration) {
    let window = cx.duration(
        gpath.key("restart_window"),
        g.restart_window.as_ref(),
        super::super::model::default_restart_window(),
        &limits::RESTART_WINDOW,
    );
    let moves = g
        .on_failure
        .as_deref()
        .and_then(|text| cx.choice(gpath.key("on_failure"), text, &["restart", "move"]))
        == Some(1);
    let max = match g.max_restarts {
        Some(n) if n > limits::MAX_RESTARTS => {
            cx.push(
                Diagnostic::error(
                    gpath.key("max_restarts"),
                    format!(
                        "max_restarts {n} is above the {} maximum",
                        limits::MAX_RESTARTS
                    ),
                )
                .hint("a unit that fails that often belongs on another node: lower it"),
            );
            1
        }
        Some(n) => n,
        None => 1,
    };
    if moves && g.max_restarts.is_some_and(|n| n > 0) {
        cx.push(
            Diagnostic::warning(
                gpath.key("max_restarts"),
                "max_restarts is ignored with `on_failure: move`",
            )
            .hint("remove it, or use `on_failure: restart`"),
        );
    }
    (if moves { 0 } else { max }, window)
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
    let mut seen = BTreeSet::new();
    for (i, name) in list.iter().enumerate() {
        let npath = gpath.key("nodes").index(i);
        if !cx.node_ref(npath.clone(), name, nodes) {
            continue;
        }
        if !seen.insert(name) {
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

/// The group's valid resources, and where each is written in the list.
fn resources(cx: &mut Ctx, gpath: &YamlPath, g: &RawGroup) -> (Vec<Resource>, Vec<usize>) {
    let rpath = gpath.key("resources");
    let Some(list) = cx.required(
        gpath,
        "resources",
        g.resources.as_ref(),
        "resources: [{ vip: 192.0.2.10/24, interface: eth0 }]",
    ) else {
        return (Vec::new(), Vec::new());
    };
    if list.is_empty() {
        cx.push(
            Diagnostic::error(rpath.clone(), "the group has no resources")
                .hint("add a `- vip: ...` or `- unit: ...` entry"),
        );
    }
    resource_counts(cx, &rpath, list);
    let mut out: Vec<Resource> = Vec::new();
    // Where each entry of `list` landed in `out`, and each name's index in `out`.
    let mut placed: Vec<Option<usize>> = Vec::with_capacity(list.len());
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    for (i, r) in list.iter().enumerate() {
        let path = rpath.index(i);
        let Some(res) = resource(cx, &path, r) else {
            placed.push(None);
            continue;
        };
        if by_name.contains_key(&res.name) {
            cx.push(
                Diagnostic::error(path, format!("duplicate resource name `{}`", res.name))
                    .hint("give one of them a distinct `name:`"),
            );
            placed.push(None);
            continue;
        }
        by_name.insert(res.name.clone(), out.len());
        placed.push(Some(out.len()));
        out.push(res);
    }
    let names: Vec<&str> = out.iter().map(|r| r.name.as_str()).collect();
    let mut deps = Vec::with_capacity(out.len());
    for (i, r) in list.iter().enumerate() {
        if let Some(pos) = placed[i] {
            deps.push((pos, after(cx, &rpath.index(i), r, pos, &by_name, &names)));
        }
    }
    for (pos, after) in deps {
        out[pos].after = after;
    }
    let written_at: Vec<usize> = placed
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|_| i))
        .collect();
    no_cycle(cx, &rpath, &out, &written_at);
    (out, written_at)
}

/// The per-group limits on resources and VIPs, reported at the first entry beyond each.
fn resource_counts(cx: &mut Ctx, rpath: &YamlPath, list: &[RawResource]) {
    cx.limit(
        rpath.index(MAX_RESOURCES_PER_GROUP),
        list.len(),
        MAX_RESOURCES_PER_GROUP,
        "resources in one group",
        "move some resources to another group",
    );
    let vips: Vec<usize> = list
        .iter()
        .enumerate()
        .filter(|(_, r)| r.vip.is_some())
        .map(|(i, _)| i)
        .collect();
    if let Some(&first_beyond) = vips.get(MAX_VIPS_PER_GROUP) {
        cx.limit(
            rpath.index(first_beyond).key("vip"),
            vips.len(),
            MAX_VIPS_PER_GROUP,
            "VIPs in one group",
            "move some VIPs to another group (the cluster may hold 4000)",
        );
    }
}

fn no_cycle(cx: &mut Ctx, rpath: &YamlPath, out: &[Resource], written_at: &[usize]) {
    let deps: Vec<Vec<usize>> = out.iter().map(|r| r.after.clone()).collect();
    let Some(cycle) = super::graph::find_cycle(&deps) else {
        return;
    };
    let names: Vec<&str> = cycle.iter().map(|&i| out[i].name.as_str()).collect();
    let first = written_at.get(cycle[0]).copied().unwrap_or(0);
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
    match (&r.name, &name) {
        (Some(n), _) => {
            cx.name(&path.key("name"), n, "resource name");
        }
        // A unit's name is the resource's name unless `name:` says otherwise; units may be
        // longer than a name may be (255 bytes), so the long ones need a `name:`.
        (None, Some(n)) if r.unit.is_some() => {
            let fix = format!(
                "add a `name:` of at most {} bytes to this resource; the unit keeps its name",
                limits::MAX_NAME
            );
            cx.name_length(&path.key("unit"), n, "resource name", &fix);
        }
        _ => {}
    }
    let kind = match (&r.vip, &r.unit) {
        (Some(v), None) => {
            if r.check.is_some() {
                cx.push(
                    Diagnostic::error(path.key("check"), "`check` applies only to units")
                        .hint("move the check to the unit that serves this VIP"),
                );
            }
            ResourceKind::Vip(vip(cx, path, v, r)?)
        }
        (None, Some(u)) => {
            for key in [
                ("interface", r.interface.is_some()),
                ("label", r.label.is_some()),
                ("announce", r.announce.is_some()),
                ("track_interface", r.track_interface.is_some()),
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
    let check = match &r.check {
        Some(c) => Some(super::checks::check(cx, &path.key("check"), c)?),
        None => None,
    };
    Some(Resource {
        name: name?,
        kind,
        after: Vec::new(),
        check,
    })
}

/// The indices `r` starts after: its `after` list, or else the resource before it.
fn after(
    cx: &mut Ctx,
    path: &YamlPath,
    r: &RawResource,
    own: usize,
    by_name: &BTreeMap<String, usize>,
    names: &[&str],
) -> Vec<usize> {
    let Some(list) = &r.after else {
        // haresources order: each resource waits for the one written before it.
        return own.checked_sub(1).into_iter().collect();
    };
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, dep) in list.iter().enumerate() {
        let dpath = path.key("after").index(i);
        match by_name.get(dep) {
            Some(&d) if seen.insert(d) => out.push(d),
            Some(_) => cx.push(
                Diagnostic::error(dpath, format!("`after` names `{dep}` twice"))
                    .hint("list each dependency once"),
            ),
            None => {
                let hint = match cx.closest(dep, names.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("resources of this group are {}", quoted_some(names)),
                };
                cx.push(
                    Diagnostic::error(dpath, format!("`after` names unknown resource `{dep}`"))
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
