//! Every file in `examples/` validates, through the real binary and against the JSON Schema,
//! with exactly the warnings it is known for.

use super::{files, root, run, stdout};

#[test]
fn every_example_validates_with_exit_0() {
    let examples = files(&root().join("examples"), "yaml");
    assert!(
        examples.len() >= 5,
        "expected the five documented examples, found {examples:?}"
    );
    for path in examples {
        let out = run(
            "haagentctl",
            root(),
            &["validate", "--json", path.to_str().unwrap()],
        );
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(out.status.code(), Some(0), "{}: {report:#}", path.display());
        assert_eq!(report["valid"], true, "{}", path.display());
        assert_eq!(report["errors"], 0, "{}", path.display());
        // Two nodes deciding a split by ping alone are warned about (a cut between them that
        // leaves both reaching the targets lets both run the group); no other warning.
        let name = path.file_name().unwrap().to_str().unwrap();
        let warnings: Vec<(&str, &str)> = report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["path"].as_str().unwrap(), p["message"].as_str().unwrap()))
            .collect();
        match name {
            "two-node-web.yaml" | "lvs-director.yaml" => {
                assert_eq!(warnings.len(), 1, "{name}: {warnings:?}");
                assert_eq!(warnings[0].0, "quorum.two_node.tie_breaker", "{name}");
                assert!(
                    warnings[0].1.contains("relies on the ping tie-breaker alone: a cut between the two nodes that leaves both reaching the ping targets"),
                    "{name}: {warnings:?}"
                );
            }
            _ => assert_eq!(warnings, [], "{name}"),
        }
    }
}

#[test]
fn the_two_node_web_example_reads_as_documented() {
    let text = std::fs::read_to_string(root().join("examples/two-node-web.yaml")).unwrap();
    let m = haagent::manifest::parse(&text).manifest.expect("valid");
    assert_eq!(m.cluster, "web");
    assert_eq!(m.groups["web"].nodes, ["alpha", "beta"]);
    assert!(m.groups["web"].failback && m.groups["web"].stateful);
    assert_eq!(m.heartbeat.dead_after.as_secs(), 3);
}

#[test]
fn every_example_matches_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/haagent.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    for path in files(&root().join("examples"), "yaml") {
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}
