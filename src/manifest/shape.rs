//! The shape check: the whole YAML tree against the JSON Schema, reporting every value of the
//! wrong type and every unknown key at once, each at its own line and column. The deserializer
//! stops at the first wrong type; this runs when it did, so an operator fixing a file sees all
//! of them in one run. Each node is visited once (and the tree is at most 64 levels deep).

use serde_json::Value;

use super::diag::Diagnostic;
use super::schema::expand;
use super::tree::{Node, Pos, Scalar, Tree, YamlPath};
use super::unknown::UnknownKeys;
use crate::text::clip;

/// Every wrong type and unknown key of `tree`, read from `text`.
pub(super) fn check(
    schema: &Value,
    tree: &Tree,
    text: &str,
    unknown: &mut UnknownKeys<'_>,
) -> Vec<Diagnostic> {
    let mut walk = Walk {
        schema,
        text,
        unknown,
        found: Vec::new(),
    };
    walk.node(tree, expand(schema, schema), &YamlPath::root());
    walk.found
}

struct Walk<'a, 'u> {
    schema: &'a Value,
    text: &'a str,
    unknown: &'a mut UnknownKeys<'u>,
    found: Vec<Diagnostic>,
}

impl<'a> Walk<'a, '_> {
    fn node(&mut self, tree: &Tree, alts: Vec<&'a Value>, path: &YamlPath) {
        if alts.is_empty() {
            return;
        }
        if !fits(&tree.node(), &alts) {
            self.wrong_type(tree, &alts, path);
            return;
        }
        match tree.node() {
            Node::Scalar(_) => {}
            Node::Seq(items) => {
                let item_alts: Vec<&Value> = alts
                    .iter()
                    .filter_map(|a| a.get("items"))
                    .flat_map(|i| expand(self.schema, i))
                    .collect();
                for (i, item) in items.iter().enumerate() {
                    self.node(item, item_alts.clone(), &path.index(i));
                }
            }
            Node::Map(entries) => {
                for (key, key_pos, value) in entries {
                    self.entry(&alts, path, key, *key_pos, value);
                }
            }
        }
    }

    /// One mapping entry: a known key, a map value, or an unknown key.
    fn entry(&mut self, alts: &[&'a Value], path: &YamlPath, key: &str, pos: Pos, value: &Tree) {
        let child = path.key(key);
        let known: Vec<&Value> = alts
            .iter()
            .filter_map(|a| {
                a.get("properties")
                    .and_then(|p| p.get(key))
                    .or_else(|| a.get("additionalProperties").filter(|v| v.is_object()))
            })
            .flat_map(|v| expand(self.schema, v))
            .collect();
        if known.is_empty() {
            let mut d = self.unknown.explain(child);
            d.pos = Some(pos);
            self.found.push(d);
        } else {
            self.node(value, known, &child);
        }
    }

    fn wrong_type(&mut self, tree: &Tree, alts: &[&Value], path: &YamlPath) {
        let kind = expected(alts);
        let found = match (tree.node(), tree.text(self.text)) {
            (Node::Seq(_), _) => "a list".to_owned(),
            (Node::Map(_), _) => "a mapping".to_owned(),
            (Node::Scalar(Scalar::Null), _) => "nothing".to_owned(),
            (Node::Scalar(_), Some(t)) => format!("`{}`", clip(t.trim())),
            (Node::Scalar(_), None) => "a value of another type".to_owned(),
        };
        let mut d = Diagnostic::error(path.clone(), format!("expected {kind}, found {found}"))
            .hint(format!(
                "`{path}` takes {kind}; the rest of the file is checked once every value has the right type"
            ));
        d.pos = Some(tree.pos());
        self.found.push(d);
    }
}

/// The JSON types the alternatives allow.
fn types<'v>(alts: &[&'v Value]) -> Vec<&'v str> {
    alts.iter()
        .filter_map(|a| a.get("type"))
        .flat_map(|t| match t {
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>(),
            Value::String(s) => vec![s.as_str()],
            _ => Vec::new(),
        })
        .collect()
}

/// Whether the deserializer reads `node` as one of the types the alternatives allow (its
/// rules: any scalar is text, quoted numbers and booleans count as such, `~` fills an
/// optional field).
fn fits(node: &Node<'_>, alts: &[&Value]) -> bool {
    let types = types(alts);
    if types.is_empty() {
        return true;
    }
    types.iter().any(|t| match (*t, node) {
        ("null", Node::Scalar(Scalar::Null)) => true,
        ("string", Node::Scalar(s)) => *s != Scalar::Null,
        ("integer", Node::Scalar(Scalar::Number { u32 } | Scalar::Text { u32, .. })) => *u32,
        ("boolean", Node::Scalar(Scalar::Bool | Scalar::Text { bool: true, .. })) => true,
        ("array", Node::Seq(_)) | ("object", Node::Map(_)) => true,
        _ => false,
    })
}

/// What the alternatives expect, in words: "a number from 1 to 65535", "a list"...
fn expected(alts: &[&Value]) -> String {
    let range = |a: &Value| {
        let lo = a.get("minimum")?.as_u64()?;
        let hi = a
            .get("maximum")
            .and_then(Value::as_u64)
            .unwrap_or(u64::from(u32::MAX));
        Some(format!("a whole number from {lo} to {hi}"))
    };
    for t in types(alts) {
        let words = match t {
            "integer" => alts
                .iter()
                .find_map(|a| range(a))
                .unwrap_or_else(|| "a whole number".into()),
            "string" => "text".into(),
            "boolean" => "true or false".into(),
            "array" => "a list".into(),
            "object" => "a mapping of keys to values".into(),
            _ => continue,
        };
        return words;
    }
    "another kind of value".into()
}

#[cfg(test)]
mod tests {
    use super::super::schema;
    use super::*;

    fn problems(text: &str) -> Vec<(u32, u32, String)> {
        let tree = Tree::parse(text).expect("YAML");
        let schema = schema::value();
        let found = check(&schema, &tree, text, &mut UnknownKeys::new(&schema));
        found
            .into_iter()
            .map(|d| {
                let at = d.locate(Some(&tree));
                (at.line, at.column, at.message)
            })
            .collect()
    }

    #[test]
    fn every_wrong_type_is_found_at_its_place() {
        let text = "\
cluster: [web]
nodes:
  a: { address: 10.0.0.1, witness: 3 }
  b: []
heartbeat:
  port: 1.5
  interval: [1s]
  links: { transport: unicast }
groups:
  g: { nodes: alpha, failback: maybe, resources: [{ after: x }] }
";
        let found = problems(text);
        let expect = [
            (1, 10, "expected text, found a list"),
            (3, 36, "expected true or false, found `3`"),
            (4, 6, "expected a mapping of keys to values, found a list"),
            (6, 9, "expected a whole number from 1 to 65535, found `1.5`"),
            (7, 13, "expected text, found a list"),
            (8, 10, "expected a list, found a mapping"),
            (10, 15, "expected a list, found `alpha`"),
            (10, 32, "expected true or false, found `maybe`"),
            (10, 60, "expected a list, found `x`"),
        ];
        for (line, column, message) in expect {
            assert!(
                found
                    .iter()
                    .any(|(l, c, m)| (*l, *c, m.as_str()) == (line, column, message)),
                "missing {line}:{column} {message} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expect.len(), "{found:#?}");
    }

    #[test]
    fn what_the_deserializer_accepts_is_not_reported() {
        let text = "cluster: 123\nheartbeat: { port: \"694\", interval: ~ }\nnodes: { a: { witness: yes }, 7: {} }\n";
        assert_eq!(problems(text), []);
    }

    #[test]
    fn unknown_keys_are_reported_with_the_types() {
        let found = problems("cluster: web\nheartbeat: { intervall: 1s, port: x }\n");
        let messages: Vec<&str> = found.iter().map(|f| f.2.as_str()).collect();
        assert_eq!(
            messages,
            [
                "unknown key `intervall`",
                "expected a whole number from 1 to 65535, found `x`"
            ]
        );
    }
}
