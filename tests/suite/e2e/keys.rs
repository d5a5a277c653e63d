//! Key rotation on a running cluster, as the README tells operators to do it: a new key in
//! front on every node and a reload each, then the old key dropped and a reload each, a second
//! between nodes; no datagram is dropped (a node signs with the new key only once its peers
//! accept it). A key file that does not parse is refused on reload. A key file others can read
//! or root does not own is refused at start (by `--check-config` and by the agent itself) and
//! on reload; a key loaded as a systemd credential passes the same checks.

use std::net::Ipv4Addr;
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

/// Drops the unit's `haagent --check-config` (ExecStartPre) on a node, so that what is seen
/// next is the agent's own refusal.
pub fn without_check_config(c: &Cluster, node: &str) {
    c.bed
        .host(node)
        .write_file(
            "/run/systemd/system/haagent.service.d/no-check.conf",
            b"[Service]\nExecStartPre=\n",
            0o644,
        )
        .unwrap();
    c.sh(node, "systemctl daemon-reload").unwrap();
}

/// Starts the agent on `node`, which must fail: `systemctl start` reports it and, once the
/// restarts have hit the start limit, the unit is failed. Returns the agent's journal.
pub fn refused_start(c: &Cluster, node: &str) -> String {
    let started = c.sh(
        node,
        "systemctl reset-failed haagent; systemctl start haagent",
    );
    assert!(started.is_err(), "the agent started on {node}");
    cluster::wait_for("the unit to be failed", Duration::from_secs(20), || {
        c.sh(node, "systemctl is-failed haagent").is_ok()
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.journal(node)));
    let log = c.journal(node);
    assert!(!log.contains("joining the cluster"), "{log}");
    log
}

/// Reloads `node` both ways, `haagentctl reload` and `systemctl reload`, expecting each to be
/// refused for `why` while the running configuration keeps `web` on `home`.
pub fn refused_reload(c: &Cluster, node: &str, home: &str, why: &str) {
    let before = c.journal(node).matches("reload refused").count();
    let out = c.ctl(node, &["reload"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains(why), "{said}");
    c.sh(node, "systemctl reload haagent").unwrap();
    cluster::wait_for("both refusals", Duration::from_secs(5), || {
        c.journal(node).matches("reload refused").count() == before + 2
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.journal(node)));
    let log = c.journal(node);
    assert!(log.matches(why).count() >= 2, "the journal says why: {log}");
    assert_eq!(never_twice(c, Duration::from_secs(2)), [home]);
    for n in ["alpha", "beta"] {
        assert_eq!(
            c.sh(n, "systemctl is-active haagent").unwrap().trim(),
            "active"
        );
    }
}

#[test]
fn a_key_file_others_can_read_is_refused_at_start_and_on_reload() {
    let spec = Spec::two("fg0", 70);
    let Some(c) = cluster(&spec) else { return };
    let key = "/etc/haagent/authkey";
    // As measured before the check existed: nobody's, mode 0644, and the agent joined.
    c.sh("alpha", &format!("chown nobody {key} && chmod 644 {key}"))
        .unwrap();
    let log = refused_start(&c, "alpha");
    for problem in [
        format!("error: key file {key} is owned by uid 65534 (not root)"),
        format!("error: key file {key} is readable by others (mode 0644)"),
    ] {
        assert!(
            log.contains(&problem),
            "--check-config says {problem}: {log}"
        );
    }

    without_check_config(&c, "alpha");
    let log = refused_start(&c, "alpha");
    let why = format!(
        "key file {key}: it is owned by uid 65534 (not root) and readable by others (mode 0644); run `chown root:root {key} && chmod 600 {key}`"
    );
    assert!(log.contains(&format!("haagent: keys: {why}")), "{log}");

    c.sh(
        "alpha",
        &format!("chown root:root {key} && chmod 600 {key}"),
    )
    .unwrap();
    c.sh("alpha", "systemctl reset-failed haagent").unwrap();
    start_on(&c, &["alpha", "beta"], "alpha");

    c.sh("alpha", &format!("chmod 640 {key}")).unwrap();
    refused_reload(&c, "alpha", "alpha", "readable by others (mode 0640)");
    c.sh("alpha", &format!("chmod 600 {key}")).unwrap();
    let out = c.ctl("alpha", &["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_key_loaded_as_a_systemd_credential_passes_the_checks() {
    let spec = Spec::two("fg2", 72);
    let vip = Ipv4Addr::new(10, 98, spec.subnet, VIP_LAST);
    let cfg = Config::new(spec.prefix, [10, 98, spec.subnet], 2)
        .named(spec.nodes)
        .unit("web.service", &echo_unit(vip), false);
    let Some(c) = cluster_of(cfg, |bed| {
        manifest(&spec, bed).replace("key_file: /etc/haagent/authkey", "credential: authkey")
    }) else {
        return;
    };
    for node in ["alpha", "beta"] {
        c.bed
            .host(node)
            .write_file(
                "/run/systemd/system/haagent.service.d/credential.conf",
                b"[Service]\nLoadCredential=authkey:/etc/haagent/authkey\n",
                0o644,
            )
            .unwrap();
        c.sh(node, "systemctl daemon-reload").unwrap();
    }
    start_on(&c, &["alpha", "beta"], "alpha");
    // What systemd 252 made of it, as the agent sees it.
    let seen = c
        .sh(
            "alpha",
            "stat -c '%u %a %F' /run/credentials/haagent.service/authkey",
        )
        .unwrap();
    assert_eq!(seen.trim(), "0 400 regular file");
    c.sh("alpha", "systemctl reload haagent").unwrap();
    cluster::wait_for("the reload", Duration::from_secs(5), || {
        c.journal("alpha")
            .contains("manifest reloaded: nothing changed")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.journal("alpha")));
    assert!(!c.journal("alpha").contains("reload refused"));
}
