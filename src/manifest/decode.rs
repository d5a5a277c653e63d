//! The serde layer: the raw manifest, every unknown key (with a suggestion), and the first
//! shape error (wrong type, bad YAML), each given a YAML path.

use serde_json::Value;

use super::diag::Diagnostic;
use super::raw::RawManifest;
use super::schema;
use super::tree::{Pos, Seg, Tree, YamlPath};
use crate::text::{closest, quoted_list};

/// The serde layer: the raw manifest, plus every unknown key and the first shape error.
pub(super) fn decode(text: &str, tree: Option<&Tree>) -> (Option<RawManifest>, Vec<Diagnostic>) {
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
    let mut problems: Vec<Diagnostic> = unknown
        .into_iter()
        .map(|p| unknown_key(&schema, p))
        .collect();
    match result {
        Ok(raw) => (Some(raw), problems),
        Err(e) => {
            problems.push(shape_error(&schema, &e, tree));
            (None, problems)
        }
    }
}

fn shape_error(schema: &Value, e: &serde_saphyr::Error, tree: Option<&Tree>) -> Diagnostic {
    let pos = e.location().filter(|l| l.line() > 0).map(|l| Pos {
        line: l.line() as u32,
        column: l.column() as u32,
    });
    // A syntax error leaves no tree; a type error does, and its position names the key.
    let path = match (tree, pos) {
        (Some(t), Some(p)) => t.path_at(p),
        _ => YamlPath::root(),
    };
    let hint = match schema::kind_at(schema, &path) {
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

fn unknown_key(schema: &Value, path: YamlPath) -> Diagnostic {
    let mut parent = path.clone();
    let key = match parent.0.pop() {
        Some(Seg::Key(k)) => k,
        _ => String::new(),
    };
    let allowed = schema::keys_at(schema, &parent);
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
