//! The committed schema is the one the types generate, and it is strict.

use super::root;

#[test]
fn committed_schema_is_up_to_date() {
    let path = root().join("schema/haagent.schema.json");
    let fresh = haagent::manifest::schema::generate();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "schema/haagent.schema.json is stale: run `UPDATE_SCHEMA=1 cargo test committed_schema` and commit it"
    );
}

#[test]
fn committed_manifest_reference_is_up_to_date() {
    let path = root().join("docs/manifest.md");
    let fresh = haagent::manifest::reference::markdown();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "docs/manifest.md is stale: run `UPDATE_SCHEMA=1 cargo test committed_` and commit it"
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
