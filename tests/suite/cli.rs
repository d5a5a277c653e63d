//! The command lines: exit codes, host checks, `haagent --check-config`, `keygen`,
//! `validate --against`.

use std::os::unix::fs::PermissionsExt;

use super::{TempDir, root, run, stdout};

const MANIFEST: &str = "\
cluster: t
nodes:
  alpha: { address: 127.0.0.1 }
  beta: { address: 127.0.0.2 }
heartbeat: { links: [{ transport: unicast, interface: lo }] }
auth: { key_file: KEYFILE }
quorum: { two_node: { tie_breaker: ping } }
connectivity: { ping: [127.0.0.3] }
groups:
  g:
    nodes: [alpha, beta]
    resources:
      - { vip: 192.0.2.9/24, interface: IFACE }
";

fn setup(tmp: &TempDir, iface: &str) -> String {
    let key = tmp.0.join("authkey");
    let out = run("haagentctl", &tmp.0, &["keygen", key.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = MANIFEST
        .replace("KEYFILE", key.to_str().unwrap())
        .replace("IFACE", iface);
    std::fs::write(tmp.0.join("cluster.yaml"), text).unwrap();
    "cluster.yaml".into()
}

#[test]
fn unreadable_manifest_exits_2() {
    let out = run(
        "haagentctl",
        root(),
        &["validate", "/nonexistent/cluster.yaml"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("cannot read the manifest"));
    let out = run(
        "haagent",
        root(),
        &["--check-config", "--manifest", "/nonexistent/cluster.yaml"],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn host_checks_run_for_the_named_node() {
    let tmp = TempDir::new("host-ok");
    let file = setup(&tmp, "lo");
    let out = run(
        "haagentctl",
        &tmp.0,
        &["validate", &file, "--node", "alpha"],
    );
    let text = stdout(&out);
    // Only root can own a root-owned key file; other users see the ownership error, as they should.
    let is_root = std::fs::metadata(tmp.0.join("authkey"))
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(if is_root { 0 } else { 1 }),
        "{text}"
    );
    assert!(!text.contains("host checks skipped"), "{text}");
}

#[test]
fn host_checks_find_a_missing_interface_and_an_open_key_file() {
    let tmp = TempDir::new("host-bad");
    let file = setup(&tmp, "nosuchif0");
    std::fs::set_permissions(
        tmp.0.join("authkey"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let out = run("haagentctl", &tmp.0, &["validate", &file, "--node", "beta"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("cluster.yaml:13:41: error: this host has no interface `nosuchif0`"),
        "{text}"
    );
    assert!(
        text.contains("is readable by others (mode 0640)") && text.contains("hint: run `chmod 600"),
        "{text}"
    );
}

#[test]
fn an_unknown_node_name_is_an_error_only_when_asked_for() {
    let tmp = TempDir::new("host-node");
    let file = setup(&tmp, "lo");
    let out = run(
        "haagentctl",
        &tmp.0,
        &["validate", &file, "--node", "gamma"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("error: node `gamma` (from --node) is not in the manifest"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn check_config_prints_what_validate_prints() {
    let tmp = TempDir::new("check-config");
    let file = setup(&tmp, "nosuchif0");
    let a = run(
        "haagentctl",
        &tmp.0,
        &["validate", &file, "--node", "alpha"],
    );
    let b = run(
        "haagent",
        &tmp.0,
        &["--check-config", "--manifest", &file, "--node", "alpha"],
    );
    assert_eq!(a.status.code(), Some(1));
    assert_eq!(a.status.code(), b.status.code());
    assert_eq!(stdout(&a), stdout(&b));
}

#[test]
fn validate_against_names_each_differing_key_and_exits_3() {
    let tmp = TempDir::new("against");
    let this = setup(&tmp, "lo");
    let text = std::fs::read_to_string(tmp.0.join(&this)).unwrap();
    // Respelled only: the same validated model.
    let same = text.replace("cluster: t", "cluster: \"t\"  # quoted");
    std::fs::write(tmp.0.join("same.yaml"), &same).unwrap();
    let out = run(
        "haagentctl",
        &tmp.0,
        &["validate", &this, "--against", "same.yaml"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("the same cluster"),
        "{}",
        stdout(&out)
    );
    let other = text
        .replace(
            "    nodes: [alpha, beta]\n",
            "    nodes: [alpha, beta]\n    failback: true\n",
        )
        .replace("192.0.2.9/24", "192.0.2.10/24");
    std::fs::write(tmp.0.join("other.yaml"), &other).unwrap();
    let out = run(
        "haagentctl",
        &tmp.0,
        &["validate", &this, "--against", "other.yaml"],
    );
    let said = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("differ in 3 key(s)"), "{said}");
    assert!(
        said.contains("groups.g.failback: false in cluster.yaml, true in other.yaml"),
        "{said}"
    );
    assert!(
        said.contains("groups.g.resources[0].kind.vip.address: \"192.0.2.9\""),
        "{said}"
    );
    let out = run(
        "haagentctl",
        &tmp.0,
        &["validate", &this, "--against", "other.yaml", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["identical"], false);
    assert_eq!(v["count"], 3);
    // An invalid other manifest is reported as `validate` reports it, exit code 1.
    std::fs::write(
        tmp.0.join("bad.yaml"),
        text.replace("cluster: t", "cluster: ["),
    )
    .unwrap();
    let out = run(
        "haagentctl",
        &tmp.0,
        &["validate", &this, "--against", "bad.yaml"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("bad.yaml"), "{}", stdout(&out));
}

#[test]
fn keygen_writes_a_private_file_and_refuses_to_overwrite() {
    let tmp = TempDir::new("keygen");
    let key = tmp.0.join("authkey");
    let k = key.to_str().unwrap();
    assert!(run("haagentctl", &tmp.0, &["keygen", k]).status.success());
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = run("haagentctl", &tmp.0, &["keygen", k]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--rotate"));
    assert!(
        run("haagentctl", &tmp.0, &["keygen", "--rotate", k])
            .status
            .success()
    );
    let text = std::fs::read_to_string(&key).unwrap();
    let ids: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| &l[..1])
        .collect();
    assert_eq!(ids, ["2", "1"]);
}

#[test]
fn simulate_reports_schedules_violations_and_failover_times_as_json() {
    let out = run(
        "haagentctl",
        root(),
        &[
            "simulate",
            "examples/two-node-web.yaml",
            "--seeds",
            "6",
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["schedules"], 6);
    assert_eq!(v["violations"], serde_json::json!([]));
    let web = &v["groups"]["web"];
    for key in ["p50", "p99", "max"] {
        assert!(web["failover_ms"][key].is_u64(), "{web}");
    }
    assert!(web["overlap_ms"].is_u64());
    let bad = run(
        "haagentctl",
        root(),
        &[
            "simulate",
            "examples/two-node-web.yaml",
            "--faults",
            "meteor",
        ],
    );
    // A usage error (exit 2), naming the value and the kinds there are.
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("invalid value 'meteor'"), "{err}");
    assert!(err.contains("possible values: crash,"), "{err}");
}
