//! The cluster manifest: one YAML file, identical on every node.
//!
//! Read in two layers: [`raw`] mirrors the YAML (serde), [`validate`] turns it into the domain
//! types of [`model`], reporting every problem at once with its line, column, YAML path and a
//! fix. [`check`] adds the checks that only make sense on a node (key file, interfaces) and is
//! shared by `haagentctl validate` and `haagent --check-config`.

pub mod check;
pub mod diag;
pub mod duration;
mod host;
pub mod model;
pub mod raw;
pub mod reference;
pub mod schema;
pub mod tree;
pub mod validate;

use std::io;
use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, Located, Severity};
pub use model::Manifest;
use raw::RawManifest;
use tree::{Pos, Seg, Tree, YamlPath};

use crate::text::{closest, quoted_list};

/// Default manifest location.
pub const DEFAULT_PATH: &str = "/etc/haagent/cluster.yaml";

/// The outcome of reading a manifest text: the manifest if it had no error, and every problem
/// (errors and warnings) in file order.
#[derive(Debug)]
pub struct Report {
    /// The validated manifest, when there was no error.
    pub manifest: Option<Manifest>,
    /// Problems in file order.
    pub problems: Vec<Located>,
}

impl Report {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }
}

/// Why a manifest could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file has errors; each is in `problems`.
    #[error("manifest {path} has {count} error(s)", count = problems.iter().filter(|p| p.severity == Severity::Error).count())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<Located>,
    },
}

/// Reads a manifest file's text.
pub fn read(path: &Path) -> Result<String, ManifestError> {
    std::fs::read_to_string(path).map_err(|source| ManifestError::Unreadable {
        path: path.to_owned(),
        source,
    })
}

/// Reads and validates a manifest file; on success also returns its warnings.
pub fn load(path: &Path) -> Result<(Manifest, Vec<Located>), ManifestError> {
    let report = parse(&read(path)?);
    match report.manifest {
        Some(m) => Ok((m, report.problems)),
        None => Err(ManifestError::Invalid {
            path: path.to_owned(),
            problems: report.problems,
        }),
    }
}

/// Parses and validates a manifest text.
pub fn parse(text: &str) -> Report {
    let tree = Tree::parse(text);
    let (raw, mut problems) = deserialize(text, tree.as_ref());
    let manifest = raw.and_then(|raw| {
        let (manifest, found) = validate::validate(&raw);
        problems.extend(found);
        manifest
    });
    finish(manifest, problems, tree.as_ref())
}

/// Locates and sorts the problems; drops the manifest if any of them is an error.
pub(crate) fn finish(
    manifest: Option<Manifest>,
    problems: Vec<Diagnostic>,
    tree: Option<&Tree>,
) -> Report {
    let mut located: Vec<Located> = problems.into_iter().map(|d| d.locate(tree)).collect();
    diag::sort(&mut located);
    let has_error = located.iter().any(|p| p.severity == Severity::Error);
    Report {
        manifest: manifest.filter(|_| !has_error),
        problems: located,
    }
}

/// The serde layer: the raw manifest, plus every unknown key and the first shape error.
fn deserialize(text: &str, tree: Option<&Tree>) -> (Option<RawManifest>, Vec<Diagnostic>) {
    if text.trim().is_empty() {
        let d = Diagnostic::error(YamlPath::root(), "the manifest is empty")
            .hint("start from /usr/share/doc/haagent/examples/two-node-web.yaml");
        return (None, vec![d]);
    }
    let mut unknown = Vec::new();
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_ignored::deserialize(de, |p| unknown.push(yaml_path(&p)))
    });
    let mut problems: Vec<Diagnostic> = unknown.into_iter().map(unknown_key).collect();
    match result {
        Ok(raw) => (Some(raw), problems),
        Err(e) => {
            problems.push(shape_error(&e, tree));
            (None, problems)
        }
    }
}

fn shape_error(e: &serde_saphyr::Error, tree: Option<&Tree>) -> Diagnostic {
    let pos = e.location().filter(|l| l.line() > 0).map(|l| Pos {
        line: l.line() as u32,
        column: l.column() as u32,
    });
    // A syntax error leaves no tree; a type error does, and its position names the key.
    let path = match (tree, pos) {
        (Some(t), Some(p)) => t.path_at(p),
        _ => YamlPath::root(),
    };
    let schema: serde_json::Value = serde_json::from_str(&schema::generate()).unwrap_or_default();
    let hint = match schema::kind_at(&schema, &path) {
        Some(kind) if !path.0.is_empty() => {
            format!("`{path}` takes {kind}; the rest of the file is checked once this reads")
        }
        _ => "fix the YAML here; the rest of the file is checked once it reads".to_owned(),
    };
    let mut d = Diagnostic::error(path, first_line(&e.without_snippet().to_string()));
    d.pos = pos;
    d.hint(hint)
}

/// The message without the position suffix that the deserializer appends (we print our own).
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    let line = line.split(" at line ").next().unwrap_or(line);
    line.trim().trim_end_matches('.').to_owned()
}

fn unknown_key(path: YamlPath) -> Diagnostic {
    let mut parent = path.clone();
    let key = match parent.0.pop() {
        Some(Seg::Key(k)) => k,
        _ => String::new(),
    };
    let schema: serde_json::Value = serde_json::from_str(&schema::generate()).unwrap_or_default();
    let allowed = schema::keys_at(&schema, &parent);
    let hint = match (
        heartbeat_name(&key),
        closest(&key, allowed.iter().map(String::as_str)),
    ) {
        (Some(ours), _) => format!("Heartbeat's `{key}` is `{ours}` here"),
        (None, Some(near)) => format!("did you mean `{near}`?"),
        (None, None) => format!("keys allowed here: {}", quoted_list(&allowed)),
    };
    Diagnostic::error(path, format!("unknown key `{key}`"))
        .at_key()
        .hint(hint)
}

/// ha.cf / haresources words that operators coming from Heartbeat will type.
fn heartbeat_name(key: &str) -> Option<&'static str> {
    Some(match key {
        "keepalive" => "heartbeat.interval",
        "deadtime" => "heartbeat.dead_after",
        "warntime" => "heartbeat.warn_after",
        "initdead" => "heartbeat.initial_dead",
        "udpport" => "heartbeat.port",
        "bcast" | "mcast" | "ucast" => "heartbeat.links",
        "auto_failback" => "groups.NAME.failback",
        "node" => "nodes",
        "ping" | "ping_group" => "connectivity.ping",
        "stonith" | "stonith_host" => "fencing",
        "authkeys" => "auth.key_file",
        _ => return None,
    })
}

fn yaml_path(p: &serde_ignored::Path<'_>) -> YamlPath {
    use serde_ignored::Path as P;
    match p {
        P::Root => YamlPath::root(),
        P::Seq { parent, index } => yaml_path(parent).index(*index),
        P::Map { parent, key } => yaml_path(parent).key(key),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            yaml_path(parent)
        }
    }
}

#[cfg(test)]
mod tests;
