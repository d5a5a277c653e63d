//! Operating in production, on real hosts: the README's notification unit runs once per
//! acquisition with the right instance; the metrics endpoint answers with the listed series;
//! `haagentctl history` lists a failover from the journal.

use haagent_testbed::Config;

use super::scrape::{METRICS_PORT, samples, scrape};
use super::*;

const NOTIFY_UNIT: &str = include_str!("../../../examples/notify/haagent-notify@.service");
const NOTIFY_SCRIPT: &str = include_str!("../../../examples/notify/haagent-notify");

/// The two-node cluster with the README's notify unit installed as it says, and the manifest
/// asking for notifications and metrics.
fn production_cluster(spec: &Spec) -> Option<Cluster> {
    let vip = Ipv4Addr::new(10, 98, spec.subnet, VIP_LAST);
    let cfg = Config::new(spec.prefix, [10, 98, spec.subnet], spec.nodes.len())
        .named(spec.nodes)
        .unit("web.service", &echo_unit(vip), false)
        .unit("haagent-notify@.service", NOTIFY_UNIT, false);
    let c = cluster_of(cfg, |bed| {
        format!(
            "{}notify: {{ unit: haagent-notify@.service }}\nmetrics: {{ listen: '0.0.0.0:{METRICS_PORT}' }}\n",
            manifest(spec, bed)
        )
    })?;
    // Each host has a copy-on-write root: /usr/local is its own.
    for h in c.bed.hosts() {
        h.write_file(
            "/usr/local/lib/haagent/haagent-notify",
            NOTIFY_SCRIPT.as_bytes(),
            0o755,
        )
        .unwrap();
    }
    Some(c)
}

/// The notifications `node` ran: each unit's name and what the script said, in order.
fn notified(c: &Cluster, node: &str) -> Vec<(String, String)> {
    let out = c
        .sh(node, "journalctl --no-pager -o json -u 'haagent-notify@*'")
        .unwrap();
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let msg = v["MESSAGE"].as_str()?;
            let unit = v["_SYSTEMD_UNIT"].as_str()?;
            msg.starts_with("haagent: ")
                .then(|| (unit.to_owned(), msg.to_owned()))
        })
        .collect()
}

fn of_event<'a>(seen: &'a [(String, String)], event: &str) -> Vec<&'a (String, String)> {
    let prefix = format!("haagent: {event} ");
    seen.iter()
        .filter(|(_, m)| m.starts_with(&prefix))
        .collect()
}

/// Waits until `node` has run `n` notifications of `event`, then a while more (a second one
/// would come within it), and returns them.
fn wait_notified(c: &Cluster, node: &str, event: &str, n: usize) -> Vec<(String, String)> {
    cluster::wait_for(
        &format!("{n} {event} notifications on {node}"),
        Duration::from_secs(10),
        || of_event(&notified(c, node), event).len() >= n,
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", notified(c, node), journals(c)));
    std::thread::sleep(Duration::from_secs(1));
    notified(c, node)
}

/// Waits for `node`'s acquire notification of web and checks it is the only one, its unit an
/// instance named after the event, group and node; returns its unit and what it logged.
fn one_acquire_notified(c: &Cluster, node: &str) -> (String, String) {
    let seen = wait_notified(c, node, "acquire", 1);
    let acquired = of_event(&seen, "acquire");
    assert_eq!(acquired.len(), 1, "{seen:?}");
    let (unit, said) = acquired[0].clone();
    assert!(
        unit.starts_with(&format!("haagent-notify@acquire-web-{node}-")),
        "{seen:?}"
    );
    (unit, said)
}

#[test]
fn a_notify_unit_runs_once_per_acquire_with_its_instance() {
    let spec = Spec::two("ntf", 120);
    let Some(c) = production_cluster(&spec) else {
        return;
    };
    start_on(&c, &["alpha", "beta"], "alpha");
    let (unit, said) = one_acquire_notified(&c, "alpha");
    assert!(unit.ends_with(".service"), "{unit}");
    assert!(
        said.starts_with("haagent: acquire group=web node=alpha: "),
        "{said}"
    );
    assert!(of_event(&notified(&c, "beta"), "acquire").is_empty());

    // A planned move: one release on alpha, one acquire on beta, nothing more.
    let out = c.ctl("alpha", &["failover", "web", "--to", "beta"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_holder(&c, "beta", Duration::from_secs(10));
    one_acquire_notified(&c, "beta");
    // A release is notified when it begins (`release`, with its cause) and when it is done
    // (`released`).
    let on_alpha = wait_notified(&c, "alpha", "released", 1);
    let said = |event| -> Vec<String> {
        of_event(&on_alpha, event)
            .iter()
            .map(|(_, m)| m.clone())
            .collect()
    };
    assert_eq!(
        said("release"),
        ["haagent: release group=web node=alpha: moved to beta by an operator"],
        "{on_alpha:?}"
    );
    assert_eq!(
        said("released"),
        ["haagent: released group=web node=alpha: all resources are stopped"],
        "{on_alpha:?}"
    );
    assert_eq!(of_event(&on_alpha, "acquire").len(), 1, "{on_alpha:?}");
    // An agent stopped while it holds the group still gets its release notified: the queue is
    // handed to systemd before it exits.
    c.sh("beta", "systemctl stop haagent").unwrap();
    let on_beta = wait_notified(&c, "beta", "released", 1);
    assert_eq!(of_event(&on_beta, "release").len(), 1, "{on_beta:?}");
    assert_eq!(of_event(&on_beta, "released").len(), 1, "{on_beta:?}");
    // Nothing was dropped or failed on the way.
    let j = c.journal("alpha") + &c.journal("beta");
    assert!(
        !j.contains("notification dropped") && !j.contains("notification unit failed"),
        "{j}"
    );
}

#[test]
fn the_metrics_endpoint_answers_with_the_listed_series() {
    let spec = Spec::two("mtr", 121);
    let Some(c) = production_cluster(&spec) else {
        return;
    };
    start_on(&c, &["alpha", "beta"], "alpha");
    let mut digests = Vec::new();
    for node in ["alpha", "beta"] {
        let (text, _) = scrape(&c, node);
        let s = samples(&text);
        let want = |series: &str, v: f64| {
            assert_eq!(s.get(series), Some(&v), "{series} on {node} in\n{text}");
        };
        want("haagent_quorate", 1.0);
        want("haagent_group_owner{group=\"web\",node=\"alpha\"}", 1.0);
        want("haagent_group_owner{group=\"web\",node=\"beta\"}", 0.0);
        want("haagent_group_state{group=\"web\",state=\"running\"}", 1.0);
        want(
            "haagent_group_held{group=\"web\"}",
            f64::from(node == "alpha"),
        );
        want(
            "haagent_group_acquisitions_total{group=\"web\"}",
            f64::from(node == "alpha"),
        );
        want(
            "haagent_group_acquire_duration_seconds_count{group=\"web\"}",
            f64::from(node == "alpha"),
        );
        let peer = if node == "alpha" { "beta" } else { "alpha" };
        want(
            &format!("haagent_node_state{{node=\"{peer}\",state=\"up\"}}"),
            1.0,
        );
        want(
            &format!("haagent_link_up{{node=\"{peer}\",link=\"link0\"}}"),
            1.0,
        );
        want("haagent_notifications_dropped_total", 0.0);
        want("haagent_reloads_total{result=\"ok\"}", 0.0);
        assert!(
            s.get("haagent_loop_held_seconds_count")
                .is_some_and(|n| *n > 0.0),
            "{text}"
        );
        assert!(
            s.contains_key("haagent_loop_held_worst_seconds{window=\"minute\"}"),
            "{text}"
        );
        assert!(
            s.contains_key(&format!(
                "haagent_node_last_heard_seconds{{node=\"{peer}\"}}"
            )),
            "{text}"
        );
        assert!(
            text.contains("# TYPE haagent_dropped_datagrams_total counter"),
            "{text}"
        );
        digests.extend(
            s.keys()
                .filter(|k| k.starts_with("haagent_manifest_digest_info"))
                .cloned(),
        );
    }
    assert!(
        digests.len() == 2 && digests[0] == digests[1],
        "{digests:?}"
    );

    // A reload is counted, with its time and result.
    let out = c.ctl("alpha", &["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(http_fresh());
    let (text, _) = scrape(&c, "alpha");
    let s = samples(&text);
    assert_eq!(
        s.get("haagent_reloads_total{result=\"ok\"}"),
        Some(&1.0),
        "{text}"
    );
    assert_eq!(s.get("haagent_last_reload_success"), Some(&1.0), "{text}");

    // What a scrape costs, for the record: curl's own measure, connect to last byte.
    let url = format!("http://{}:{METRICS_PORT}/metrics", c.bed.ip("beta"));
    let mut took: Vec<f64> = (0..10)
        .map(|_| {
            std::thread::sleep(http_fresh());
            let out = c.bed.client(&[
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{time_total}",
                &url,
            ]);
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        })
        .collect();
    took.sort_by(f64::total_cmp);
    eprintln!(
        "metrics scrape (curl time_total): median {} s, worst {} s",
        took[5], took[9]
    );
    let (text, _) = scrape(&c, "beta");
    eprintln!(
        "loop latency on beta: {:?}",
        text.lines()
            .filter(|l| l.starts_with("haagent_loop_held_worst"))
            .collect::<Vec<_>>()
    );
}

/// A little more than the endpoint serves a rendering again.
fn http_fresh() -> Duration {
    Duration::from_millis(600)
}

#[test]
fn status_watch_and_history_follow_a_failover() {
    let spec = Spec::two("hst", 122);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    c.sh(
        "alpha",
        "systemd-run --quiet --unit=watch haagentctl status --watch",
    )
    .unwrap();
    cluster::wait_for("the watch's first drawing", Duration::from_secs(5), || {
        c.sh("alpha", "journalctl -u watch -o cat")
            .unwrap()
            .contains("running on alpha")
    })
    .unwrap();
    let out = c.ctl("alpha", &["failover", "web", "--to", "beta"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_holder(&c, "beta", Duration::from_secs(10));

    // The watch redrew on the signals, well before its 5 s refresh.
    cluster::wait_for("the watch to show the move", Duration::from_secs(3), || {
        c.sh("alpha", "journalctl -u watch -o cat")
            .unwrap()
            .contains("running on beta")
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n{}",
            c.sh("alpha", "journalctl -u watch -o cat").unwrap()
        )
    });
    c.sh("alpha", "systemctl stop watch").unwrap();

    // Status: the operator's move, each resource here, who may run the group and why not.
    let status = ctl_stdout(&c, "alpha", &["status"]);
    for want in [
        "moved to beta by an operator, until `haagentctl clear web`",
        "why: running on beta: an operator moved it there",
        "resources here: ",
        "web.service down",
        "eligible, in preference order: ",
    ] {
        assert!(status.contains(want), "no {want:?} in\n{status}");
    }

    // History: alpha acquired, ran, released; beta acquired and runs; with durations.
    let on_alpha = ctl_stdout(&c, "alpha", &["history", "web"]);
    let events: Vec<&str> = on_alpha
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(3))
        .collect();
    assert_eq!(
        events,
        ["acquire", "running", "release", "released"],
        "{on_alpha}"
    );
    assert!(
        on_alpha.contains("took ") && on_alpha.contains("held "),
        "{on_alpha}"
    );
    let json = ctl_stdout(&c, "beta", &["history", "--since", "-1h", "--json"]);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let beta: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["event"].as_str().unwrap(), r["node"].as_str().unwrap()))
        .collect();
    assert_eq!(beta, [("acquire", "beta"), ("running", "beta")], "{json}");
    let took = rows[1]["duration_ms"].as_u64().unwrap();
    assert!(took < 5000, "{json}");
    eprintln!("history on alpha:\n{on_alpha}\nstatus on alpha:\n{status}");
    // For comparison with the metrics test: this cluster has neither metrics nor notify.
    let loop_json = ctl_stdout(&c, "beta", &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&loop_json).unwrap();
    eprintln!(
        "loop latency on beta without metrics or notify: {}",
        v["loop"]
    );
    let none = ctl_stdout(&c, "beta", &["history", "nosuch"]);
    assert!(none.starts_with("no acquisition"), "{none}");
}

#[test]
fn a_vip_only_cluster_notifies_over_a_connection_made_for_it() {
    // No unit to manage, so the agent opens no bus connection at start; the notifier makes
    // its own for the first notification.
    let spec = Spec::two("ntv", 123);
    let cfg = Config::new(spec.prefix, [10, 98, spec.subnet], 2)
        .named(spec.nodes)
        .unit("haagent-notify@.service", NOTIFY_UNIT, false);
    let Some(c) = cluster_of(cfg, |bed| {
        let text = manifest(&spec, bed).replace("      - unit: web.service\n", "");
        format!("{text}notify: {{ unit: haagent-notify@.service }}\n")
    }) else {
        return;
    };
    for h in c.bed.hosts() {
        h.write_file(
            "/usr/local/lib/haagent/haagent-notify",
            NOTIFY_SCRIPT.as_bytes(),
            0o755,
        )
        .unwrap();
    }
    c.start(&["alpha", "beta"]).unwrap();
    let v = vip(&c.bed);
    cluster::wait_for("the VIP on alpha", Duration::from_secs(20), || {
        c.vip_holders(v) == ["alpha"]
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    one_acquire_notified(&c, "alpha");
}
