//! Invalid manifests in `tests/fixtures/invalid/`, each paired with the exact output expected
//! from `haagentctl validate` (`NAME.yaml` -> `NAME.expected`). `UPDATE_EXPECT=1` rewrites the
//! expectations; review the diff before committing it.

use super::{files, root, run, stdout};

#[test]
fn invalid_fixtures_fail_with_exit_1_and_the_expected_errors() {
    let dir = root().join("tests/fixtures/invalid");
    let fixtures = files(&dir, "yaml");
    assert!(fixtures.len() >= 8, "{fixtures:?}");
    let mut failures = Vec::new();
    for path in fixtures {
        let name = path.file_name().unwrap().to_str().unwrap();
        let out = run("haagentctl", &dir, &["validate", name]);
        let got = stdout(&out);
        let expected_path = path.with_extension("expected");
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::write(&expected_path, &got).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if out.status.code() != Some(1) || got != expected {
            failures.push(format!(
                "{name}: exit {:?}\n--- expected\n{expected}--- got\n{got}",
                out.status.code()
            ));
        }
        // Every error names its place as FILE:LINE:COLUMN.
        for line in got.lines().filter(|l| l.contains(": error: ")) {
            let mut parts = line.splitn(4, ':');
            let (file, l, c) = (parts.next(), parts.next(), parts.next());
            assert_eq!(file, Some(name), "{line}");
            assert!(
                l.unwrap().parse::<u32>().unwrap() > 0 && c.unwrap().parse::<u32>().unwrap() > 0,
                "{line}"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn four_kinds_of_problem_are_reported_in_one_run() {
    let dir = root().join("tests/fixtures/invalid");
    let got = stdout(&run(
        "haagentctl",
        &dir,
        &["validate", "four-problems.yaml"],
    ));
    for needle in [
        "four-problems.yaml:10:3: error: unknown key `colour`",
        "four-problems.yaml:9:15: error: dead_after (1500ms) must be more than twice interval (1s)",
        "four-problems.yaml:16:20: error: unknown node `gamma`",
        "four-problems.yaml:19:16: error: `after` forms a cycle: a.service -> b.service -> a.service",
    ] {
        assert!(got.contains(needle), "missing {needle:?} in:\n{got}");
    }
}

#[test]
fn json_output_carries_the_same_problems() {
    let dir = root().join("tests/fixtures/invalid");
    let out = run(
        "haagentctl",
        &dir,
        &["validate", "--json", "four-problems.yaml"],
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"], 4);
    let first = &v["problems"][0];
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(9), Some(15))
    );
    assert_eq!(first["path"], "heartbeat.dead_after");
    assert!(first["hint"].as_str().unwrap().contains("raise dead_after"));
}

/// `haagent --check-config` runs as the unit's `ExecStartPre`: on a host that is no node of the
/// manifest the daemon could not start, so the check fails there; `haagentctl validate` (an
/// operator's workstation) only notes that it skipped the host checks.
#[test]
fn check_config_fails_on_a_host_that_is_no_node() {
    let tmp = super::TempDir::new("not-a-node");
    let manifest = "\
cluster: t
nodes:
  node-a-not-this-host: { address: 10.0.0.1 }
  node-b-not-this-host: { address: 10.0.0.2 }
  judge-not-this-host: { address: 10.0.0.3, witness: true }
auth: { key_file: /etc/haagent/authkey }
groups:
  g:
    nodes: [node-a-not-this-host, node-b-not-this-host]
    resources: [{ unit: x.service }]
";
    std::fs::write(tmp.0.join("cluster.yaml"), manifest).unwrap();
    let hostname = haagent::manifest::check::hostname().unwrap_or_default();
    assert!(
        !manifest.contains(&format!("  {hostname}:")),
        "test bug: {hostname}"
    );
    let command = |bin: &str, args: &[&str]| {
        let out = std::process::Command::new(bin)
            .args(args)
            .current_dir(&tmp.0)
            .env_remove("HAAGENT_NODE")
            .output()
            .unwrap();
        (out.status.code(), stdout(&out))
    };
    let (code, text) = command(
        env!("CARGO_BIN_EXE_haagent"),
        &["--check-config", "--manifest", "cluster.yaml"],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "cluster.yaml:2:1: error: this host ({hostname}) is not a node of the manifest: the agent would not start"
        )),
        "{text}"
    );
    assert!(text.contains("hint: run it on one of the nodes (`judge-not-this-host`, `node-a-not-this-host`, `node-b-not-this-host`), or pass --node NAME"), "{text}");
    assert!(
        text.contains("cluster.yaml: invalid: 1 error, 0 warnings"),
        "{text}"
    );
    let (code, text) = command(
        env!("CARGO_BIN_EXE_haagentctl"),
        &["validate", "cluster.yaml"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("note: host checks skipped: this host")
            && text.contains("valid: cluster `t`"),
        "{text}"
    );
}
