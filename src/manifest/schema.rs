//! The JSON Schema of the manifest, generated from the raw types, and the lookup that tells which
//! keys are allowed at a YAML path (for "did you mean" hints on unknown keys).

use serde_json::Value;

use super::raw::RawManifest;
use super::tree::{Seg, YamlPath};

/// The schema as pretty JSON with a trailing newline: the content of `schema/haagent.schema.json`.
pub fn generate() -> String {
    let schema = schemars::schema_for!(RawManifest);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serializes");
    text.push('\n');
    text
}

/// The schema as a JSON value.
pub fn value() -> Value {
    serde_json::to_value(schemars::schema_for!(RawManifest)).expect("a schema always serializes")
}

/// The keys the schema allows in the mapping at `path`, sorted.
pub fn keys_at(schema: &Value, path: &YamlPath) -> Vec<String> {
    let mut keys: Vec<String> = nodes_at(schema, path)
        .iter()
        .filter_map(|n| n.get("properties").and_then(Value::as_object))
        .flat_map(|p| p.keys().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// What the schema expects at `path`, in words: "a number", "a mapping"...
pub fn kind_at(schema: &Value, path: &YamlPath) -> Option<&'static str> {
    let types = nodes_at(schema, path)
        .into_iter()
        .filter_map(|n| n.get("type"))
        .flat_map(|t| match t {
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>(),
            Value::String(s) => vec![s.as_str()],
            _ => Vec::new(),
        });
    let words: Vec<&'static str> = types
        .filter_map(|t| match t {
            "integer" | "number" => Some("a number"),
            "string" => Some("text"),
            "boolean" => Some("true or false"),
            "array" => Some("a list"),
            "object" => Some("a mapping of keys to values"),
            _ => None,
        })
        .collect();
    words.first().copied()
}

/// The schema alternatives that describe the node at `path`.
fn nodes_at<'a>(schema: &'a Value, path: &YamlPath) -> Vec<&'a Value> {
    let mut nodes = expand(schema, schema);
    for seg in &path.0 {
        nodes = nodes
            .iter()
            .filter_map(|n| step(n, seg))
            .flat_map(|n| expand(schema, n))
            .collect();
    }
    nodes
}

/// Follows `$ref` and opens `anyOf` / `oneOf`, giving the concrete alternatives of a node.
pub(super) fn expand<'a>(root: &'a Value, node: &'a Value) -> Vec<&'a Value> {
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/$defs/")
            .and_then(|name| root.get("$defs")?.get(name));
        return target.map(|t| expand(root, t)).unwrap_or_default();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = node.get(key).and_then(Value::as_array) {
            return alts.iter().flat_map(|a| expand(root, a)).collect();
        }
    }
    vec![node]
}

fn step<'a>(node: &'a Value, seg: &Seg) -> Option<&'a Value> {
    match seg {
        Seg::Key(k) => node
            .get("properties")
            .and_then(|p| p.get(k))
            .or_else(|| node.get("additionalProperties").filter(|a| a.is_object())),
        Seg::Index(_) => node.get("items"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(path: YamlPath) -> Vec<String> {
        let schema: Value = serde_json::from_str(&generate()).unwrap();
        keys_at(&schema, &path)
    }

    #[test]
    fn top_level_keys() {
        let k = keys(YamlPath::root());
        assert!(
            k.contains(&"cluster".to_owned()) && k.contains(&"groups".to_owned()),
            "{k:?}"
        );
    }

    #[test]
    fn kinds_in_words() {
        let schema: Value = serde_json::from_str(&generate()).unwrap();
        let r = YamlPath::root();
        assert_eq!(
            kind_at(&schema, &r.key("heartbeat").key("port")),
            Some("a number")
        );
        assert_eq!(
            kind_at(&schema, &r.key("nodes")),
            Some("a mapping of keys to values")
        );
        assert_eq!(
            kind_at(&schema, &r.key("groups").key("g").key("failback")),
            Some("true or false")
        );
        assert_eq!(
            kind_at(&schema, &r.key("groups").key("g").key("nodes")),
            Some("a list")
        );
        assert_eq!(kind_at(&schema, &r.key("nope")), None);
    }

    #[test]
    fn keys_inside_maps_and_lists() {
        let r = YamlPath::root();
        assert!(keys(r.key("nodes").key("anything")).contains(&"address".to_owned()));
        assert!(
            keys(r.key("groups").key("web").key("resources").index(3))
                .contains(&"after".to_owned())
        );
        assert!(keys(r.key("heartbeat").key("links").index(0)).contains(&"ttl".to_owned()));
        assert!(
            keys(
                r.key("groups")
                    .key("web")
                    .key("resources")
                    .index(0)
                    .key("announce")
            )
            .contains(&"refresh".to_owned())
        );
    }
}
