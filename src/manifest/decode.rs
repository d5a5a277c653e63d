//! The serde layer: the raw manifest, every unknown key (with a suggestion), and, when the
//! deserializer stops at a wrong type, every wrong type (the shape check), each given a YAML
//! path and a position.

use serde_json::Value;

use super::diag::Diagnostic;
use super::raw::RawManifest;
use super::tree::{Tree, YamlPath};
use super::unknown::UnknownKeys;
use super::{schema, shape, syntax};

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
