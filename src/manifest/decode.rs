//! The serde layer: the raw manifest, every unknown key (with a suggestion), and, when the
//! deserializer stops at a wrong type, every wrong type (the shape check), each given a YAML
//! path and a position.

use std::collections::HashMap;

use serde_json::Value;

use super::diag::Diagnostic;
use super::raw::RawManifest;
use super::tree::{Seg, Tree, YamlPath};
use super::{schema, shape, syntax};
use crate::text::{Suggester, quoted_list};

/// The serde layer: the raw manifest, plus every unknown key and every shape error.
/// `tree` is the same text read as plain YAML, or why it could not be.
pub(super) fn decode(
    text: &str,
    tree: Result<&Tree, &serde_saphyr::Error>,
) -> (Option<RawManifest>, Vec<Diagnostic>) {
    if text.trim().is_empty() {
        let d = Diagnostic::error(YamlPath::root(), "the manifest is empty")
            .hint("start from /usr/share/doc/haagent/examples/two-node-web.yaml");
        return (None, vec![d]);
    }
    let mut unknown = Vec::new();
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_ignored::deserialize(de, |p| unknown.push(yaml_path(&p)))
    });
    // The schema answers "what is allowed here"; only built when something went wrong.
    let schema = (!unknown.is_empty() || result.is_err())
        .then(schema::value)
        .unwrap_or_default();
    let mut explain = UnknownKeys::new(&schema);
    let e = match result {
        Ok(raw) => {
            let problems = unknown.into_iter().map(|p| explain.explain(p)).collect();
            return (Some(raw), problems);
        }
        Err(e) => e,
    };
    let mut problems = match tree {
        // The tree read, so the text is YAML: what stopped the deserializer is a value of the
        // wrong type, and the shape check finds all of them (and every unknown key).
        Ok(t) => shape::check(&schema, t, text, &mut explain),
        Err(_) => unknown.into_iter().map(|p| explain.explain(p)).collect(),
    };
    // When the text is not YAML (or breaks a parser limit), that is the error to report,
    // whatever the deserializer tripped on first.
    let (e, tree) = match tree {
        Ok(t) => (&e, Some(t)),
        Err(yaml) => (yaml, None),
    };
    let parser = syntax::parser_error(e, text, tree, shape_hint(&schema, e, tree));
    if !problems
        .iter()
        .any(|p| p.pos.is_some() && p.pos == parser.pos)
    {
        problems.push(parser);
    }
    (None, problems)
}

/// The hint for an error the shape check did not explain.
fn shape_hint(schema: &Value, e: &serde_saphyr::Error, tree: Option<&Tree>) -> String {
    let pos = e
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| super::tree::Pos {
            line: u32::try_from(l.line()).unwrap_or(u32::MAX),
            column: u32::try_from(l.column()).unwrap_or(u32::MAX),
        });
    let path = match (tree, pos) {
        (Some(t), Some(p)) => t.path_at(p),
        _ => YamlPath::root(),
    };
    match schema::kind_at(schema, &path) {
        Some(kind) if !path.0.is_empty() => {
            format!("`{path}` takes {kind}; the rest of the file is checked once this reads")
        }
        _ => "fix the YAML here; the rest of the file is checked once it reads".to_owned(),
    }
}

/// Explains unknown keys: the Heartbeat name a key stands for, the nearest known key, or the
/// keys allowed there (looked up once per mapping, as a file may hold thousands of unknown keys).
pub(super) struct UnknownKeys<'s> {
    schema: &'s Value,
    suggester: Suggester,
    allowed: HashMap<YamlPath, (Vec<String>, String)>,
}

impl<'s> UnknownKeys<'s> {
    pub(super) fn new(schema: &'s Value) -> Self {
        Self {
            schema,
            suggester: Suggester::default(),
            allowed: HashMap::new(),
        }
    }

    /// The error for the unknown key at `path`.
    pub(super) fn explain(&mut self, path: YamlPath) -> Diagnostic {
        let mut parent = path.clone();
        let key = match parent.0.pop() {
            Some(Seg::Key(k)) => k,
            _ => String::new(),
        };
        let schema = self.schema;
        let (allowed, listed) = self.allowed.entry(parent).or_insert_with_key(|parent| {
            let keys = schema::keys_at(schema, parent);
            let listed = quoted_list(&keys);
            (keys, listed)
        });
        let hint = match (
            heartbeat_name(&key),
            self.suggester
                .closest(&key, allowed.iter().map(String::as_str)),
        ) {
            (Some(ours), _) => format!("Heartbeat's `{key}` is `{ours}` here"),
            (None, Some(near)) => format!("did you mean `{near}`?"),
            (None, None) => format!("keys allowed here: {listed}"),
        };
        Diagnostic::error(path, format!("unknown key `{key}`"))
            .at_key()
            .hint(hint)
    }
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
