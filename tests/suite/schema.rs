//! The committed schema is the one the types generate, and it is strict.

use super::root;

/// Fails when the committed `file` differs from what the code generates; `UPDATE_SCHEMA=1`
/// rewrites it.
fn assert_fresh(file: &str, fresh: &str) {
    let path = root().join(file);
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{file} is stale: run `UPDATE_SCHEMA=1 cargo test committed_` and commit it"
    );
}

#[test]
fn committed_schema_is_up_to_date() {
    assert_fresh(
        "schema/haagent.schema.json",
        &haagent::manifest::schema::generate(),
    );
}

#[test]
fn committed_manifest_reference_is_up_to_date() {
    assert_fresh(
        "docs/manifest.md",
        &haagent::manifest::reference::markdown(),
    );
}

#[test]
fn schema_rejects_unknown_keys_and_bad_choices() {
    let schema: serde_json::Value =
        serde_json::from_str(&haagent::manifest::schema::generate()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let ok: serde_json::Value = serde_json::json!({"cluster": "c", "heartbeat": {"interval": "500ms", "links": [{"transport": "multicast"}]}});
    assert!(validator.is_valid(&ok));
    for bad in [
        serde_json::json!({"clustr": "c"}),
        serde_json::json!({"heartbeat": {"interval": "500"}}),
        serde_json::json!({"heartbeat": {"links": [{"transport": "carrier-pigeon"}]}}),
        serde_json::json!({"groups": {"g": {"resources": [{"unit": "a.service", "colour": 1}]}}}),
    ] {
        assert!(!validator.is_valid(&bad), "accepted {bad}");
    }
}
