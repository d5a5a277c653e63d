//! Unit tests of the semantic checks, on small inline manifests.

use std::net::IpAddr;
use std::time::Duration;

use crate::manifest::model::{KeySource, ResourceKind, TieBreaker, Transport};
use crate::manifest::{Located, Severity, parse};

pub(super) const BASE: &str = "\
cluster: web
nodes:
  alpha: { address: 10.0.0.1 }
  beta: { address: 10.0.0.2 }
auth: { key_file: /etc/haagent/authkey }
quorum: { two_node: { tie_breaker: ping } }
connectivity: { ping: [10.0.0.254] }
groups:
  web:
    nodes: [alpha, beta]
    resources:
      - vip: 10.0.0.10/24
        interface: eth0
      - unit: nginx.service
";

/// The warning every two-node cluster with a ping tie-breaker alone gets, `BASE` included.
const PING_ALONE: &str = "stateful group `web` relies on the ping tie-breaker alone: a cut between the two nodes that leaves both reaching the ping targets lets both run it";

fn problems(text: &str, severity: Severity) -> Vec<Located> {
    parse(text)
        .problems
        .into_iter()
        .filter(|p| p.severity == severity)
        .collect()
}

/// Error messages of `BASE` with `from` replaced by `to`.
pub(super) fn errors_with(from: &str, to: &str) -> Vec<String> {
    assert!(BASE.contains(from), "test bug: {from:?} not in BASE");
    messages(&BASE.replace(from, to))
}

/// Each error's message and hint, joined.
fn messages(text: &str) -> Vec<String> {
    problems(text, Severity::Error)
        .into_iter()
        .map(|p| format!("{} | {}", p.message, p.hint.unwrap_or_default()))
        .collect()
}

pub(super) fn assert_error(from: &str, to: &str, needle: &str) {
    let errors = errors_with(from, to);
    assert!(
        errors.iter().any(|e| e.contains(needle)),
        "expected an error containing {needle:?}, got {errors:#?}"
    );
}

#[test]
fn base_manifest_is_valid_with_defaults() {
    let report = parse(BASE);
    let messages: Vec<&str> = report.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(messages, [PING_ALONE], "only the ping tie-breaker warning");
    let m = report.manifest.unwrap();
    assert_eq!(m.heartbeat.interval, Duration::from_millis(500));
    assert_eq!(m.heartbeat.dead_after, Duration::from_secs(3));
    assert_eq!(m.heartbeat.warn_after, Duration::from_millis(1750));
    assert_eq!(m.heartbeat.initial_dead, Duration::from_secs(6));
    assert_eq!(m.heartbeat.links.len(), 1);
    assert_eq!(m.heartbeat.links[0].port, 694);
    assert_eq!(
        m.nodes["beta"].addresses["link0"],
        "10.0.0.2".parse::<IpAddr>().unwrap()
    );
    assert_eq!(m.auth, KeySource::KeyFile("/etc/haagent/authkey".into()));
    assert_eq!(m.quorum.tie_breaker, Some(TieBreaker::Ping));
    assert!(m.quorum.wait_for_all);
    let web = &m.groups["web"];
    assert!(web.stateful && web.release_on_quorum_loss && !web.failback);
    assert_eq!(
        web.resources[1].after,
        vec![0],
        "haresources order by default"
    );
    let ResourceKind::Vip(vip) = &web.resources[0].kind else {
        panic!()
    };
    assert_eq!(
        (vip.prefix, vip.announce.count, vip.announce.refresh),
        (24, 5, Some(Duration::from_secs(10)))
    );
}

#[test]
fn timer_relations() {
    assert_error(
        "cluster: web\n",
        "cluster: web\nheartbeat: { interval: 1s, dead_after: 2s }\n",
        "must be more than twice interval",
    );
    assert_error(
        "cluster: web\n",
        "cluster: web\nheartbeat: { dead_after: 3s, initial_dead: 2s }\n",
        "initial_dead (2s) must be at least dead_after (3s)",
    );
    assert_error(
        "cluster: web\n",
        "cluster: web\nheartbeat: { warn_after: 4s }\n",
        "warn_after (4s) must lie between",
    );
    assert_error(
        "cluster: web\n",
        "cluster: web\nheartbeat: { interval: 5ms, dead_after: 1s }\n",
        "below the 10ms minimum",
    );
    assert_error(
        "cluster: web\n",
        "cluster: web\nheartbeat: { interval: 100ms, warn_after: 150ms, dead_after: 300ms }\n",
        "warn_after (150ms) and dead_after (300ms) are too close to interval (100ms): together they must be at least 5 intervals",
    );
    for ok in [
        "interval: 20ms, warn_after: 40ms, dead_after: 60ms",
        "interval: 250ms, warn_after: 500ms, dead_after: 1500ms",
        "interval: 1s, dead_after: 3s",
    ] {
        let text = BASE.replace(
            "cluster: web\n",
            &format!("cluster: web\nheartbeat: {{ {ok} }}\n"),
        );
        assert!(problems(&text, Severity::Error).is_empty(), "{ok}");
    }
    assert_error(
        "cluster: web\n",
        "cluster: web\nheartbeat: { interval: 500 }\n",
        "has no unit",
    );
    let warnings = problems(
        &BASE.replace(
            "cluster: web\n",
            "cluster: web\nheartbeat: { interval: 1s, dead_after: 3s }\n",
        ),
        Severity::Warning,
    );
    assert!(
        warnings[0].message.contains("only 3 heartbeats fit"),
        "{warnings:?}"
    );
}

#[test]
fn links_and_transports() {
    let mcast = "cluster: web\nheartbeat:\n  links:\n    - { transport: multicast, interface: eth1, ttl: 2 }\n    - { name: backup, transport: broadcast, interface: eth2 }\n";
    let m = parse(&BASE.replace("cluster: web\n", mcast))
        .manifest
        .unwrap();
    assert_eq!(
        m.heartbeat.links[0].transport,
        Transport::Multicast {
            group: "239.0.0.94".parse().unwrap(),
            ttl: 2
        }
    );
    assert_eq!(m.heartbeat.links[1].transport, Transport::Broadcast);
    assert!(
        m.nodes["alpha"].addresses.is_empty(),
        "no unicast link, no addresses needed"
    );
    let link = |l: &str| format!("cluster: web\nheartbeat:\n  links:\n    - {l}\n");
    assert_error(
        "cluster: web\n",
        &link("{ transport: multicast, group: 10.1.1.1 }"),
        "not a multicast address",
    );
    assert_error(
        "cluster: web\n",
        &link("{ transport: multicast, group: ff02::94 }"),
        "IPv6 multicast link needs an interface",
    );
    assert_error(
        "cluster: web\n",
        &link("{ transport: broadcast }"),
        "broadcast link needs an interface",
    );
    assert_error(
        "cluster: web\n",
        &link("{ transport: unicast, ttl: 3 }"),
        "`ttl` applies only to multicast links",
    );
    assert_error(
        "cluster: web\n",
        &link("{ port: 70000 }"),
        "port 70000 is out of range",
    );
    assert_error(
        "cluster: web\n",
        &link("{ interface: this-name-is-too-long0 }"),
        "invalid interface name",
    );
    assert_error(
        "cluster: web\n",
        "cluster: web\nheartbeat: { links: [{name: a}, {name: a}] }\n",
        "duplicate link name `a`",
    );
}

#[test]
fn node_addresses_per_link() {
    let two_links = "cluster: web\nheartbeat: { links: [{ name: lan }, { name: san }] }\n";
    let text = BASE.replace("cluster: web\n", two_links).replace(
        "beta: { address: 10.0.0.2 }",
        "beta: { address: 10.0.0.2, addresses: { san: 10.9.0.2 } }",
    );
    let m = parse(&text).manifest.unwrap();
    assert_eq!(m.nodes["beta"].addresses["san"].to_string(), "10.9.0.2");
    assert_eq!(m.nodes["alpha"].addresses["san"].to_string(), "10.0.0.1");
    assert_error(
        "beta: { address: 10.0.0.2 }",
        "beta: { addresses: { link9: 10.0.0.2 } }",
        "unknown link `link9`",
    );
    assert_error(
        "beta: { address: 10.0.0.2 }",
        "beta: { witness: false }",
        "no address for unicast link `link0`",
    );
    assert_error(
        "beta: { address: 10.0.0.2 }",
        "beta: { address: 'fd00::2' }",
        "mixes IPv4 and IPv6",
    );
    assert_error(
        "beta: { address: 10.0.0.2 }",
        "beta: { address: 10.0.0.2/24 }",
        "is not an IP address",
    );
    assert_error("  beta:", "  be ta:", "invalid node name `be ta`");
}

#[test]
fn group_references() {
    assert_error(
        "nodes: [alpha, beta]",
        "nodes: [alpha, gamma]",
        "unknown node `gamma`",
    );
    assert_error(
        "nodes: [alpha, beta]",
        "nodes: [alpha, alpha]",
        "listed twice",
    );
    assert_error(
        "      - unit: nginx.service\n",
        "      - unit: nginx.service\n        after: [nope]\n",
        "unknown resource `nope`",
    );
    assert_error(
        "        interface: eth0\n",
        "        interface: eth0\n        after: [nginx.service]\n",
        "`after` forms a cycle: 10.0.0.10 -> nginx.service -> 10.0.0.10",
    );
    assert_error(
        "      - unit: nginx.service\n",
        "      - unit: nginx.service\n      - unit: nginx.service\n",
        "duplicate resource name `nginx.service`",
    );
}

#[test]
fn explicit_after_allows_parallel_starts() {
    let text = BASE.replace("      - unit: nginx.service\n", "      - unit: a.service\n        after: []\n      - unit: b.service\n        after: [10.0.0.10]\n");
    let m = parse(&text).manifest.unwrap();
    let web = &m.groups["web"];
    assert!(web.resources[1].after.is_empty());
    assert_eq!(web.resources[2].after, vec![0]);
    assert_eq!(web.start_order(), vec![0, 1, 2]);
}

#[test]
fn vips() {
    let vip = |v: &str| BASE.replace("vip: 10.0.0.10/24", &format!("vip: {v}"));
    assert!(parse(&vip("'2001:db8::10/64'")).manifest.is_some());
    assert!(parse(&vip("10.0.0.10/32")).manifest.is_some());
    let err = |v: &str, needle: &str| {
        let errors = messages(&vip(v));
        assert!(errors.iter().any(|e| e.contains(needle)), "{v}: {errors:?}");
    };
    err("10.0.0.10", "has no prefix length");
    err("10.0.0.0/24", "network address");
    err("10.0.0.255/24", "broadcast address");
    err("224.0.0.5/24", "multicast");
    err("10.0.0.10/33", "is not a prefix length");
    assert_error(
        "        interface: eth0\n",
        "        interface: eth0\n        label: eth0:a-very-long-label\n",
        "the kernel allows 1 to 15",
    );
    assert_error("        interface: eth0\n", "", "has no interface");
    assert_error(
        "      - unit: nginx.service\n",
        "      - unit: nginx.service\n        interface: eth0\n",
        "`interface` applies only to VIPs",
    );
    assert_error(
        "      - unit: nginx.service\n",
        "      - unit: nginx.service\n      - vip: 10.0.0.10/24\n        interface: eth1\n        name: second\n",
        "VIP 10.0.0.10 is already in group `web`",
    );
}

#[test]
fn unit_names() {
    for bad in [
        "nginx",
        "nginx.servic",
        "foo@.service",
        "a b.service",
        "sda.device",
    ] {
        let errors = errors_with("unit: nginx.service", &format!("unit: '{bad}'"));
        assert!(!errors.is_empty(), "{bad} accepted");
    }
    for good in ["getty@tty1.service", "data.mount", "app-x_y.target"] {
        assert!(
            errors_with("unit: nginx.service", &format!("unit: {good}")).is_empty(),
            "{good} refused"
        );
    }
    assert_error(
        "unit: nginx.service",
        "unit: nginx",
        "did you mean `nginx.service`?",
    );
}

#[test]
fn witness_nodes_vote_but_hold_nothing() {
    let text = BASE
        .replace(
            "  beta: { address: 10.0.0.2 }\n",
            "  beta: { address: 10.0.0.2 }\n  judge: { address: 10.0.0.3, witness: true }\n",
        )
        .replace("quorum: { two_node: { tie_breaker: ping } }\n", "");
    let m = parse(&text).manifest.unwrap();
    assert_eq!(m.voters(), 3);
    let bad =
        format!("{text}  other:\n    nodes: [judge]\n    resources: [{{ unit: x.service }}]\n");
    let errors = messages(&bad);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("`judge` is a witness and never holds groups")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("no node that can run it")),
        "{errors:?}"
    );
}

#[test]
fn two_node_safety() {
    let no_tb = BASE.replace("quorum: { two_node: { tie_breaker: ping } }\n", "");
    let errors = messages(&no_tb);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("neither a tie-breaker nor fencing")),
        "{errors:?}"
    );
    assert!(
        parse(&no_tb.replace(
            "cluster: web\n",
            "cluster: web\nfencing: { unit: 'fence-ipmi@%i.service' }\n"
        ))
        .manifest
        .is_some()
    );
    assert!(
        parse(&no_tb.replace(
            "groups:\n  web:\n",
            "groups:\n  web:\n    stateful: false\n"
        ))
        .manifest
        .is_some(),
        "a VIP-only group may run without a tie-breaker"
    );
    assert_error(
        "connectivity: { ping: [10.0.0.254] }\n",
        "",
        "tie_breaker `ping` needs ping targets",
    );
    assert_eq!(
        errors_with("tie_breaker: ping", "tie_breaker: pong"),
        ["`pong` is not one of `ping`, `none` | did you mean `ping`?"]
    );
}

#[test]
fn fencing_units_per_node() {
    let text = BASE
        .replace(
            "cluster: web\n",
            "cluster: web\nfencing: { unit: 'fence-ipmi@%i.service' }\n",
        )
        .replace(
            "beta: { address: 10.0.0.2 }",
            "beta: { address: 10.0.0.2, fence: fence-pdu@port4.service }",
        );
    let m = parse(&text).manifest.unwrap();
    assert!(m.fencing_required);
    assert_eq!(
        m.nodes["alpha"].fence.as_deref(),
        Some("fence-ipmi@alpha.service")
    );
    assert_eq!(
        m.nodes["beta"].fence.as_deref(),
        Some("fence-pdu@port4.service")
    );
    assert_error(
        "cluster: web\n",
        "cluster: web\nfencing: { required: true }\n",
        "node `alpha` has no fence unit",
    );
}

#[test]
fn questionable_settings_warn_but_stay_valid() {
    let one = BASE.replace("nodes: [alpha, beta]", "nodes: [alpha]");
    let report = parse(&one);
    assert!(report.manifest.is_some());
    assert_eq!(
        report.problems[1].message,
        "the group can only run on `alpha`"
    );
    let wfa = BASE.replace(
        "quorum: { two_node: { tie_breaker: ping } }",
        "quorum: { wait_for_all: false, two_node: { tie_breaker: ping } }",
    );
    let warnings = problems(&wfa, Severity::Warning);
    assert_eq!(
        warnings[0].message,
        "wait_for_all is off in a two-node cluster"
    );
    assert_eq!(warnings[0].path, "quorum.wait_for_all");
    let off = BASE.replace(
        "        interface: eth0\n",
        "        interface: eth0\n        announce: { refresh: off }\n",
    );
    let warnings = problems(&off, Severity::Warning);
    assert!(
        warnings
            .iter()
            .any(|w| w.message == "periodic announcements are off"),
        "{warnings:#?}"
    );
}

#[test]
fn quorum_loss_policy() {
    assert_error(
        "    nodes: [alpha, beta]\n",
        "    nodes: [alpha, beta]\n    on_quorum_loss: keep\n",
        "a stateful group cannot keep running without quorum",
    );
    let vip_only = BASE.replace("      - unit: nginx.service\n", "");
    let m = parse(&vip_only).manifest.unwrap();
    assert!(!m.groups["web"].stateful && !m.groups["web"].release_on_quorum_loss);
}

#[test]
fn auth_sources() {
    assert_error(
        "auth: { key_file: /etc/haagent/authkey }",
        "auth: { key_file: authkey }",
        "not an absolute path",
    );
    assert_error(
        "auth: { key_file: /etc/haagent/authkey }",
        "auth: { key_file: /k, credential: c }",
        "both `key_file` and `credential`",
    );
    assert_error(
        "auth: { key_file: /etc/haagent/authkey }",
        "auth: {}",
        "no key source",
    );
    assert_error(
        "auth: { key_file: /etc/haagent/authkey }\n",
        "",
        "missing `auth`",
    );
    let m = parse(&BASE.replace(
        "key_file: /etc/haagent/authkey",
        "credential: haagent-authkey",
    ))
    .manifest
    .unwrap();
    assert_eq!(m.auth, KeySource::Credential("haagent-authkey".into()));
}

#[test]
fn heartbeat_ports_above_1023_are_warned_about() {
    let text = BASE.replace(
        "cluster: web\n",
        "cluster: web\nheartbeat:\n  links:\n    - { name: lan, transport: unicast, port: 5405 }\n    - { name: low, transport: unicast, port: 695 }\n",
    );
    let warnings: Vec<String> = problems(&text, Severity::Warning)
        .into_iter()
        .map(|p| format!("{} at {}", p.message, p.path))
        .collect();
    let high: Vec<&String> = warnings
        .iter()
        .filter(|w| w.contains("above 1023"))
        .collect();
    assert_eq!(high.len(), 1, "{warnings:#?}");
    assert!(high[0].contains("port 5405"), "{}", high[0]);
    assert!(
        high[0].contains("links[0].port") || high[0].contains("links.0.port"),
        "{}",
        high[0]
    );
    assert!(problems(&text, Severity::Error).is_empty());
}
