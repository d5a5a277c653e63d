//! Two validated manifests compared key by key: what `haagentctl validate --against` prints
//! when status says a peer's manifest differs. The comparison is over the validated model,
//! the same one whose digest the heartbeats carry, so defaults filled in count, spelling and
//! key order do not, and "identical" here means "the same digest" there.

use std::path::Path;

use serde_json::{Value, json};

use super::check::{self, EXIT_DIFFERS, EXIT_VALID, Outcome};
use super::{Manifest, parse_bytes, read};

/// One key whose value differs, with both values as compact JSON (`None`: absent there).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// The key's path: `groups.web.failback`, `groups.web.resources[1].unit`.
    pub path: String,
    /// Its value in the first manifest.
    pub this: Option<String>,
    /// Its value in the other.
    pub other: Option<String>,
}

/// Most differences listed; the count says how many more there were.
pub const MAX_LISTED: usize = 200;

/// Every key whose value differs between `a` and `b`, in key order.
pub fn differences(a: &Manifest, b: &Manifest) -> Vec<Difference> {
    let (a, b) = (to_value(a), to_value(b));
    let mut out = Vec::new();
    walk(String::new(), Some(&a), Some(&b), &mut out);
    out
}

fn to_value(m: &Manifest) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Null)
}

fn walk(path: String, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Difference>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                walk(join(&path, k), x.get(k), y.get(k), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                walk(format!("{path}[{i}]"), x.get(i), y.get(i), out);
            }
        }
        _ if a == b => {}
        _ => out.push(Difference {
            path,
            this: a.map(Value::to_string),
            other: b.map(Value::to_string),
        }),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The differences as text lines (`path: this | other`), at most [`MAX_LISTED`].
pub fn render(diffs: &[Difference], this: &str, other: &str) -> String {
    let mut s = String::new();
    for d in diffs.iter().take(MAX_LISTED) {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        s.push_str(&format!(
            "  {}: {} in {this}, {} in {other}\n",
            d.path,
            show(&d.this),
            show(&d.other)
        ));
    }
    if diffs.len() > MAX_LISTED {
        s.push_str(&format!("  ... and {} more\n", diffs.len() - MAX_LISTED));
    }
    s
}

/// `haagentctl validate THIS --against OTHER`: each file checked as `validate` checks it
/// (an unreadable or invalid one ends it with that file's report and exit code), then the
/// differences by key; exit code 0 when there are none, [`EXIT_DIFFERS`] otherwise.
pub fn run_against(this: &Path, other: &Path, json: bool) -> Outcome {
    let mut models = Vec::new();
    for file in [this, other] {
        let name = file.display().to_string();
        let bytes = match read(file) {
            Ok(b) => b,
            Err(e) => return check::unreadable(&name, &e, json),
        };
        let report = parse_bytes(&bytes);
        match report.manifest {
            Some(m) if report.errors() == 0 => models.push(m),
            _ => return check::outcome(&name, &report, None, None, json),
        }
    }
    let diffs = differences(&models[0], &models[1]);
    let (a, b) = (this.display().to_string(), other.display().to_string());
    let code = if diffs.is_empty() {
        EXIT_VALID
    } else {
        EXIT_DIFFERS
    };
    let output = if json {
        let listed: Vec<&Difference> = diffs.iter().take(MAX_LISTED).collect();
        format!(
            "{}\n",
            json!({ "file": a, "against": b, "identical": diffs.is_empty(),
                    "count": diffs.len(), "differences": listed })
        )
    } else if diffs.is_empty() {
        format!("{a} and {b}: the same cluster (nothing differs once validated)\n")
    } else {
        format!(
            "{a} and {b} differ in {} key(s):\n{}",
            diffs.len(),
            render(&diffs, &a, &b)
        )
    };
    Outcome { output, code }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "cluster: c\nnodes:\n  alpha: { address: 10.0.0.1 }\n  beta: { address: 10.0.0.2 }\n  gamma: { address: 10.0.0.3 }\nheartbeat: { interval: 100ms, warn_after: 300ms, dead_after: 500ms }\nauth: { key_file: /k }\ngroups:\n  web:\n    nodes: [alpha, beta]\n    resources:\n      - { vip: 10.0.0.10/24, interface: eth0 }\n      - unit: app.service\n";

    fn m(text: &str) -> Manifest {
        let r = crate::manifest::parse(text);
        r.manifest.unwrap_or_else(|| panic!("{:?}", r.problems))
    }

    #[test]
    fn the_same_model_from_other_spellings_has_no_difference() {
        let respelled = BASE.replace("interval: 100ms", "interval: 0.1s");
        assert_eq!(differences(&m(BASE), &m(&respelled)), []);
    }

    #[test]
    fn a_changed_key_an_added_item_and_a_new_group_are_named_by_path() {
        let other = BASE
            .replace(
                "    nodes: [alpha, beta]\n",
                "    nodes: [alpha, beta]\n    failback: true\n",
            )
            .replace(
                "      - unit: app.service\n",
                "      - unit: app.service\n      - unit: extra.service\n",
            )
            + "  db:\n    nodes: [beta]\n    on_quorum_loss: keep\n    resources:\n      - { vip: 10.0.0.11/24, interface: eth0 }\n";
        let d = differences(&m(BASE), &m(&other));
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert!(paths.contains(&"groups.web.failback"), "{paths:?}");
        assert!(paths.contains(&"groups.web.resources[2]"), "{paths:?}");
        assert!(paths.contains(&"groups.db"), "{paths:?}");
        let added = d
            .iter()
            .find(|d| d.path == "groups.web.resources[2]")
            .unwrap();
        assert_eq!(added.this, None);
        assert!(added.other.as_deref().unwrap().contains("extra.service"));
        let text = render(&d, "a.yaml", "b.yaml");
        assert!(text.contains("groups.db: (absent) in a.yaml"), "{text}");
    }

    #[test]
    fn a_long_list_is_cut_with_a_count() {
        let diffs: Vec<Difference> = (0..MAX_LISTED + 5)
            .map(|i| Difference {
                path: format!("k{i}"),
                this: Some("1".into()),
                other: Some("2".into()),
            })
            .collect();
        let text = render(&diffs, "a", "b");
        assert_eq!(text.lines().count(), MAX_LISTED + 1);
        assert!(text.ends_with("... and 5 more\n"), "{text}");
    }
}
