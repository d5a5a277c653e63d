//! The manifest reference (`docs/manifest.md`), written from the JSON Schema so that the
//! documentation, the editor hints and the parser can never disagree.

use std::fmt::Write as _;

use serde_json::Value;

use super::duration::format as fmt_d;
use super::limits::{DURATIONS, SCALE};
use super::raw::DURATION_PATTERN;
use super::schema::{expand, generate};

/// The reference as Markdown.
pub fn markdown() -> String {
    let schema: Value = serde_json::from_str(&generate()).expect("the generated schema parses");
    let mut out = String::from(
        "# Manifest reference\n\n\
         Generated from `schema/haagent.schema.json` (itself generated from the code) by\n\
         `UPDATE_SCHEMA=1 cargo test`; do not edit by hand. Durations are written `200ms`, `2s`,\n\
         `1m`, decimals such as `1.5s` (whole milliseconds) or sums such as `1m30s`. Every key is\n\
         optional unless the text says otherwise; `haagentctl validate` explains what is missing.\n",
    );
    section(&schema, &schema, "", &mut out);
    limits(&mut out);
    out
}

/// The scale limits and duration bounds of `limits.rs`, which validation enforces.
fn limits(out: &mut String) {
    out.push_str(
        "\n## Limits\n\nA manifest beyond any of these is refused, with the limit named at the \
         first entry beyond it.\n\n| what | at most |\n|---|---|\n",
    );
    for l in SCALE {
        let _ = writeln!(out, "| {} | {} |", l.what, l.max);
    }
    out.push_str(
        "\nEach duration lies within its bounds (`0ms` never: a zero interval would spin).\n\n\
         | key | from | to | why |\n|---|---|---|---|\n",
    );
    for b in DURATIONS {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            b.field,
            fmt_d(b.min),
            fmt_d(b.max),
            b.why.replace('|', "\\|")
        );
    }
}

fn section(root: &Value, node: &Value, label: &str, out: &mut String) {
    let Some(props) = node.get("properties").and_then(Value::as_object) else {
        return;
    };
    let title = if label.is_empty() {
        "Top level".to_owned()
    } else {
        format!("`{label}`")
    };
    let _ = write!(out, "\n## {title}\n\n");
    if let Some(d) = node.get("description").and_then(Value::as_str) {
        let _ = write!(out, "{d}\n\n");
    }
    out.push_str("| key | value | meaning |\n|---|---|---|\n");
    let mut nested = Vec::new();
    for (key, prop) in props {
        let desc = prop
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .replace('\n', " ");
        let _ = writeln!(
            out,
            "| `{key}` | {} | {} |",
            value_kind(root, prop),
            desc.replace('|', "\\|")
        );
        let prefix = if label.is_empty() {
            key.clone()
        } else {
            format!("{label}.{key}")
        };
        nested.extend(children(root, prop, &prefix));
    }
    for (child, label) in nested {
        section(root, child, &label, out);
    }
}

/// Objects reachable from a property: directly, as list items or as map values.
fn children<'a>(root: &'a Value, prop: &'a Value, prefix: &str) -> Vec<(&'a Value, String)> {
    let mut found = Vec::new();
    for alt in expand(root, prop) {
        if alt.get("properties").is_some() {
            found.push((alt, prefix.to_owned()));
        }
        if let Some(items) = alt.get("items") {
            found.extend(
                expand(root, items)
                    .into_iter()
                    .filter(|i| i.get("properties").is_some())
                    .map(|i| (i, format!("{prefix}[]"))),
            );
        }
        if let Some(values) = alt.get("additionalProperties").filter(|v| v.is_object()) {
            found.extend(
                expand(root, values)
                    .into_iter()
                    .filter(|v| v.get("properties").is_some())
                    .map(|v| (v, format!("{prefix}.NAME"))),
            );
        }
    }
    found
}

/// A short description of a property's value: `duration`, `number`, ``"a" | "b"``, `list of text`...
fn value_kind(root: &Value, prop: &Value) -> String {
    let alts: Vec<&Value> = expand(root, prop)
        .into_iter()
        .filter(|a| a.get("type") != Some(&Value::from("null")))
        .collect();
    let consts: Vec<String> = alts
        .iter()
        .flat_map(|a| expand(root, a))
        .filter_map(|a| a.get("const").and_then(Value::as_str))
        .map(|c| format!("`{c}`"))
        .collect();
    if !consts.is_empty() {
        return consts.join(" \\| ");
    }
    let Some(alt) = alts.first() else {
        return "any".into();
    };
    let pattern = alt.get("pattern").and_then(Value::as_str);
    if pattern == Some(DURATION_PATTERN) {
        return "duration".into();
    }
    if pattern.is_some_and(|p| p.contains("off")) {
        return "duration or `off`".into();
    }
    let types: Vec<&str> = match alt.get("type") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    };
    match types.first().copied() {
        Some("array") => format!(
            "list of {}",
            alt.get("items")
                .map_or("any".into(), |i| value_kind(root, i))
        ),
        Some("object") if alt.get("properties").is_none() => {
            format!(
                "map of name to {}",
                alt.get("additionalProperties")
                    .map_or("any".into(), |v| value_kind(root, v))
            )
        }
        Some("object") => "mapping (below)".into(),
        Some("string") if alt.get("format") == Some(&Value::from("ip")) => "IP address".into(),
        Some("string") => "text".into(),
        Some("integer") => match (alt.get("minimum"), alt.get("maximum")) {
            (Some(lo), Some(hi)) => format!("number {lo}-{hi}"),
            _ => "number".into(),
        },
        Some("boolean") => "`true` \\| `false`".into(),
        _ => "mapping (below)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_covers_every_section_with_kinds() {
        let md = markdown();
        for needle in [
            "## `heartbeat.links[]`",
            "## `nodes.NAME`",
            "## `groups.NAME.resources[]`",
            "## `groups.NAME.resources[].announce`",
            "| `interval` | duration |",
            "| `transport` | `unicast` \\| `multicast` \\| `broadcast` |",
            "| `port` | number 1-65535 |",
            "| `refresh` | duration or `off` |",
            "| `ping` | list of text |",
            "## Limits",
            "| nodes in a cluster, witnesses included | 32 |",
            "| `heartbeat.interval` | 10ms | 1m |",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
    }
}
