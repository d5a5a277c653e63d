//! Raw manifest -> validated [`Manifest`], collecting every problem instead of stopping at the
//! first: an operator fixing a file wants the whole list in one run.
//!
//! Each section has its own file; this one holds the shared checks (names, durations, choices)
//! and the order in which sections are read, since later ones refer to earlier ones.

mod checks;
mod cluster;
mod cross;
mod edges;
mod graph;
mod groups;
mod heartbeat;
mod names;
mod vips;

use std::collections::BTreeMap;
use std::time::Duration;

use super::diag::Diagnostic;
use super::duration::{self, DurationError, format as fmt_d};
use super::limits::{Bounds, MAX_NAME};
use super::model::Manifest;
use super::raw::RawManifest;
use super::tree::YamlPath;
use crate::text::{Suggester, clip, quoted_list, quoted_some};

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
    cross::check(
        &mut cx,
        raw,
        &nodes,
        &heartbeat.links,
        &connectivity,
        &groups,
    );
    let quorum = cluster::quorum(&mut cx, raw, &nodes, &connectivity);
    let fencing_required = cluster::fencing(&mut cx, raw, &mut nodes, &groups, &quorum);
    let notify = edges::notify(&mut cx, raw);
    let metrics = edges::metrics(&mut cx, raw);

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
            notify,
            metrics,
        }),
        _ => None,
    };
    (manifest, cx.problems)
}

/// Collects problems while the sections are read.
#[derive(Default)]
pub(super) struct Ctx {
    pub problems: Vec<Diagnostic>,
    /// "Did you mean" work left for this run: thousands of typos cost a bounded amount.
    suggester: Suggester,
    /// For each group, where each of its validated resources is written in its `resources`
    /// list (entries with errors are left out of the group, so the two can differ).
    pub written_at: BTreeMap<String, Vec<usize>>,
}

impl Ctx {
    pub fn push(&mut self, d: Diagnostic) {
        self.problems.push(d);
    }

    /// The candidate `word` is probably a typo of, within this run's suggestion budget.
    pub fn closest<'a>(
        &mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        self.suggester.closest(word, candidates)
    }

    /// Reports a collection with more than `max` entries at its first entry beyond the limit.
    pub fn limit(
        &mut self,
        first_beyond: YamlPath,
        count: usize,
        max: usize,
        what: &str,
        fix: &str,
    ) {
        if count > max {
            self.push(
                Diagnostic::error(
                    first_beyond,
                    format!("{count} {what}, more than the limit of {max}"),
                )
                .hint(fix),
            );
        }
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
        if !self.name_length(
            path,
            name,
            what,
            &format!("shorten it to at most {MAX_NAME} bytes"),
        ) {
            return false;
        }
        let ok = !name.is_empty()
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

    /// The path of resource `i` of validated group `group`.
    pub fn resource_path(&self, group: &str, i: usize) -> YamlPath {
        let written = self.written_at.get(group).and_then(|w| w.get(i)).copied();
        YamlPath::root()
            .key("groups")
            .key(group)
            .key("resources")
            .index(written.unwrap_or(i))
    }

    /// A name within [`MAX_NAME`] bytes; a longer one is reported naming the limit.
    pub fn name_length(&mut self, path: &YamlPath, name: &str, what: &str, fix: &str) -> bool {
        if name.len() <= MAX_NAME {
            return true;
        }
        self.push(
            Diagnostic::error(
                path.clone(),
                format!(
                    "{what} `{}` is {} bytes, more than the limit of {MAX_NAME}",
                    clip(name),
                    name.len()
                ),
            )
            .hint(fix),
        );
        false
    }

    /// An optional duration with its default; a bad one, or one outside `bounds`, is reported
    /// and the default used, so that later checks still run.
    pub fn duration(
        &mut self,
        path: YamlPath,
        text: Option<&String>,
        default: Duration,
        bounds: &Bounds,
    ) -> Duration {
        let Some(text) = text else { return default };
        match duration::parse(text) {
            Ok(d) if self.within(&path, d, bounds) => d,
            Ok(_) => default,
            Err(why) => {
                self.push(
                    Diagnostic::error(path, why.to_string()).hint(duration_hint(&why, bounds)),
                );
                default
            }
        }
    }

    /// Whether `d` lies within `bounds`; reports it at `path` if not.
    pub fn within(&mut self, path: &YamlPath, d: Duration, bounds: &Bounds) -> bool {
        let key = match path.0.last() {
            Some(super::tree::Seg::Key(k)) => k.as_str(),
            _ => "duration",
        };
        let (min, max) = (fmt_d(bounds.min), fmt_d(bounds.max));
        let message = if d < bounds.min {
            format!("{key} {} is below the {min} minimum", fmt_d(d))
        } else if d > bounds.max {
            format!("{key} {} is above the {max} maximum", fmt_d(d))
        } else {
            return true;
        };
        self.push(
            Diagnostic::error(path.clone(), message)
                .hint(format!("use `{min}` to `{max}`: {}", bounds.why)),
        );
        false
    }

    /// One of a closed set of lowercase words.
    pub fn choice(&mut self, path: YamlPath, text: &str, choices: &[&str]) -> Option<usize> {
        let found = choices.iter().position(|c| *c == text);
        if found.is_none() {
            let mut d = Diagnostic::error(
                path,
                format!("`{text}` is not one of {}", quoted_list(choices)),
            );
            if let Some(near) = self.closest(text, choices.iter().copied()) {
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
        let hint = match self.closest(name, known.clone()) {
            Some(near) => format!("did you mean `{near}`? nodes are declared under `nodes:`"),
            None => format!(
                "declare it under `nodes:` or use one of {}",
                quoted_some(&known.collect::<Vec<_>>())
            ),
        };
        self.push(Diagnostic::error(path, format!("unknown node `{name}`")).hint(hint));
        false
    }
}

/// The hint for a duration that does not parse.
fn duration_hint(why: &DurationError, bounds: &Bounds) -> String {
    match why {
        DurationError::TooLarge(_) => format!("use at most `{}`", fmt_d(bounds.max)),
        DurationError::TooPrecise(_) => {
            "durations are counted in whole milliseconds: write e.g. `1500ms` or `1.5s`".into()
        }
        _ => "write a number and a unit, e.g. `500ms`, `1.5s`, `3s`, `1m`".into(),
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
mod bounds_tests;
#[cfg(test)]
mod scale_tests;
#[cfg(test)]
mod stray_tests;
#[cfg(test)]
mod tests;
