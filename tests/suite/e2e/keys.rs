//! Key rotation on a running cluster, as the README tells operators to do it: a new key in
//! front on every node and a reload each, then the old key dropped and a reload each, a second
//! between nodes; no datagram is dropped (a node signs with the new key only once its peers
//! accept it). A key file that does not parse is refused on reload.

use std::time::Duration;

use super::*;

/// Writes `key` and reloads on each node, a second apart: several heartbeats go out while
/// the nodes disagree on the keys.
fn reload_everywhere(c: &Cluster, key: &str) {
    for node in ["alpha", "beta"] {
        c.bed
            .host(node)
            .write_file("/etc/haagent/authkey", key.as_bytes(), 0o600)
            .unwrap();
        c.sh(node, "systemctl reload haagent").unwrap();
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn dropped(c: &Cluster, node: &str) -> serde_json::Value {
    let out = c.ctl(node, &["status", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    s["dropped"].clone()
}

#[test]
fn keys_rotate_on_a_running_cluster_without_losing_a_heartbeat() {
    let spec = Spec::two("e2y", 56);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let old = c.sh("alpha", "cat /etc/haagent/authkey").unwrap();

    c.sh("alpha", "haagentctl keygen --rotate /etc/haagent/authkey")
        .unwrap();
    let both = c.sh("alpha", "cat /etc/haagent/authkey").unwrap();
    reload_everywhere(&c, &both);
    let new_only: String = both
        .lines()
        .filter(|l| !old.lines().any(|o| o == *l))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!new_only.trim().is_empty() && new_only != both, "{both}");
    std::thread::sleep(Duration::from_millis(500));
    reload_everywhere(&c, &new_only);
    assert_eq!(never_twice(&c, Duration::from_secs(2)), ["alpha"]);
    for node in ["alpha", "beta"] {
        let log = c.journal(node);
        assert_eq!(log.matches("keys reloaded").count(), 2, "{log}");
        assert!(
            !log.contains("peer_late") && !log.contains("quorum_lost"),
            "{log}"
        );
        assert_eq!(
            dropped(&c, node),
            serde_json::json!({}),
            "nothing dropped on {node}"
        );
    }

    c.bed
        .host("beta")
        .write_file("/etc/haagent/authkey", b"1 not-hex\n", 0o600)
        .unwrap();
    c.sh("beta", "systemctl reload haagent").unwrap();
    cluster::wait_for("the refusal", Duration::from_secs(5), || {
        c.journal("beta").contains("reload refused")
    })
    .unwrap();
    assert_eq!(never_twice(&c, Duration::from_secs(1)), ["alpha"]);
    assert_eq!(
        dropped(&c, "alpha"),
        serde_json::json!({}),
        "beta still signs with the new key"
    );
}
