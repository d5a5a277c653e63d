//! Raw manifest -> validated [`Manifest`], collecting every problem instead of stopping at the
//! first: an operator fixing a file wants the whole list in one run.
//!
//! Each section has its own file; this one holds the shared checks (names, durations, choices)
//! and the order in which sections are read, since later ones refer to earlier ones.

mod cluster;
mod graph;
mod groups;
mod heartbeat;
mod names;

use std::collections::BTreeMap;
use std::time::Duration;

use super::diag::Diagnostic;
use super::duration;
use super::model::Manifest;
use super::raw::RawManifest;
use super::tree::YamlPath;
use crate::text::{closest, quoted_list};

/// Validates `raw`; returns the manifest when there was no error, and every problem found.
pub fn validate(raw: &RawManifest) -> (Option<Manifest>, Vec<Diagnostic>) {
    let mut cx = Ctx::default();
    let root = YamlPath::root();
    let cluster = cx.required(&root, "cluster", raw.cluster.as_ref(), "cluster: web");
    if let Some(name) = cluster {
        cx.name(&root.key("cluster"), name, "cluster name");
    }
    let heartbeat = heartbeat::heartbeat(&mut cx, raw);
    let mut nodes = cluster::nodes(&mut cx, raw, &heartbeat.links);
    let auth = cluster::auth(&mut cx, raw);
    let connectivity = cluster::connectivity(&mut cx, raw);
    let groups = groups::groups(&mut cx, raw, &nodes);
    let quorum = cluster::quorum(&mut cx, raw, &nodes, &connectivity);
    let fencing_required = cluster::fencing(&mut cx, raw, &mut nodes, &groups, &quorum);

    let has_errors = cx
        .problems
        .iter()
        .any(|d| d.severity == super::diag::Severity::Error);
    let manifest = match (has_errors, cluster, auth) {
        (false, Some(cluster), Some(auth)) => Some(Manifest {
            cluster: cluster.clone(),
            nodes,
            heartbeat,
            auth,
            quorum,
            fencing_required,
            connectivity,
            groups,
        }),
        _ => None,
    };
    (manifest, cx.problems)
}

/// Collects problems while the sections are read.
#[derive(Default)]
pub(super) struct Ctx {
    pub problems: Vec<Diagnostic>,
}

impl Ctx {
    pub fn push(&mut self, d: Diagnostic) {
        self.problems.push(d);
    }

    /// A key that must be present; reports it missing with an example to copy.
    pub fn required<'a, T>(
        &mut self,
        parent: &YamlPath,
        key: &str,
        value: Option<&'a T>,
        example: &str,
    ) -> Option<&'a T> {
        if value.is_none() {
            self.push(
                Diagnostic::error(parent.key(key), format!("missing `{key}`"))
                    .hint(format!("add `{example}`")),
            );
        }
        value
    }

    /// Node, group, link and cluster names: they appear in logs, unit names and journal fields,
    /// so they are kept to what a hostname may contain.
    pub fn name(&mut self, path: &YamlPath, name: &str, what: &str) -> bool {
        let ok = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && name.as_bytes()[0].is_ascii_alphanumeric();
        if !ok {
            self.push(
                Diagnostic::error(path.clone(), format!("invalid {what} `{name}`")).hint(
                    "use 1 to 63 letters, digits, `-`, `_` or `.`, starting with a letter or digit",
                ),
            );
        }
        ok
    }

    /// An optional duration with its default; a bad one is reported and the default used, so
    /// that later checks still run.
    pub fn duration(
        &mut self,
        path: YamlPath,
        text: Option<&String>,
        default: Duration,
    ) -> Duration {
        let Some(text) = text else { return default };
        match duration::parse(text) {
            Ok(d) => d,
            Err(why) => {
                self.push(
                    Diagnostic::error(path, why)
                        .hint("write a number and a unit, e.g. `500ms`, `3s`, `1m`"),
                );
                default
            }
        }
    }

    /// One of a closed set of lowercase words.
    pub fn choice(&mut self, path: YamlPath, text: &str, choices: &[&str]) -> Option<usize> {
        let found = choices.iter().position(|c| *c == text);
        if found.is_none() {
            let mut d = Diagnostic::error(
                path,
                format!("`{text}` is not one of {}", quoted_list(choices)),
            );
            if let Some(near) = closest(text, choices.iter().copied()) {
                d = d.hint(format!("did you mean `{near}`?"));
            }
            self.push(d);
        }
        found
    }

    /// A reference to a node by name.
    pub fn node_ref(
        &mut self,
        path: YamlPath,
        name: &str,
        nodes: &BTreeMap<String, super::model::Node>,
    ) -> bool {
        if nodes.contains_key(name) {
            return true;
        }
        let known = nodes.keys().map(String::as_str);
        let hint = match closest(name, known.clone()) {
            Some(near) => format!("did you mean `{near}`? nodes are declared under `nodes:`"),
            None => format!(
                "declare it under `nodes:` or use one of {}",
                quoted_list(&known.collect::<Vec<_>>())
            ),
        };
        self.push(Diagnostic::error(path, format!("unknown node `{name}`")).hint(hint));
        false
    }
}

/// Interface names as the kernel accepts them (IFNAMSIZ - 1 bytes, no `/`, `:` or space).
pub(super) fn interface_name(cx: &mut Ctx, path: YamlPath, name: &str) {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace());
    if !ok {
        cx.push(
            Diagnostic::error(path, format!("invalid interface name `{name}`"))
                .hint("use the name `ip link` shows: at most 15 bytes, no `/`, `:` or spaces"),
        );
    }
}

#[cfg(test)]
mod tests;
