//! Health checks on real hosts: an `http` check of the web unit that starts failing on the
//! holder moves the group to the peer within `fall x interval + dead_after` (with
//! `on_failure: move`; the default restarts the unit in place first), and `haagentctl status`
//! and the metrics endpoint name the failing check; an `exec` check runs as a transient
//! systemd unit, not as a child of the agent, and moves the group likewise; a VIP whose
//! interface loses its carrier (`track_interface`) moves the group within the carrier poll and
//! the handoff. With the default `on_failure`, a failing check restarts its unit in place
//! and the group stays.

use haagent_testbed::Config;

use super::scrape::{METRICS_PORT, samples, scrape};
use super::*;

/// Check timing of these tests: a run every 500 ms, failing after 3 in a row.
const INTERVAL_MS: u64 = 500;
const FALL: u64 = 3;
/// What the bound leaves out, measured: the first failed run comes up to an interval after the
/// fault, and the stop, the news and the start take a few hundred milliseconds.
const MARGIN_MS: u64 = 1000;

/// A tiny HTTP server on every host (not managed: it runs everywhere), serving `/run/health`.
const HEALTH_UNIT: &str = "[Unit]\nDescription=health endpoint of the web unit\n\n[Service]\nExecStartPre=/bin/mkdir -p /run/health\nExecStartPre=/bin/sh -c 'echo ok > /run/health/ok'\nExecStart=/usr/bin/python3 -m http.server 8081 --bind 127.0.0.1 --directory /run/health\n\n[Install]\nWantedBy=multi-user.target\n";

/// The two-node cluster whose web unit has `check` (YAML flow mapping) and, if given, runs
/// `start_pre` before it starts (`ExecStartPre=`), with the metrics endpoint on and, if
/// `health_server`, [`HEALTH_UNIT`] on every host.
fn checked_cluster(
    spec: &Spec,
    check: &str,
    health_server: bool,
    start_pre: Option<&str>,
) -> Option<Cluster> {
    let vip = Ipv4Addr::new(10, 98, spec.subnet, VIP_LAST);
    let mut web = echo_unit(vip);
    if let Some(cmd) = start_pre {
        web = web.replacen(
            "[Service]\n",
            &format!("[Service]\nExecStartPre={cmd}\n"),
            1,
        );
        assert!(web.contains(cmd), "{web}");
    }
    let mut cfg = Config::new(spec.prefix, [10, 98, spec.subnet], spec.nodes.len())
        .named(spec.nodes)
        .unit("web.service", &web, false);
    if health_server {
        cfg = cfg.unit("health.service", HEALTH_UNIT, true);
    }
    let check = format!("      - unit: web.service\n        check: {check}\n");
    cluster_of(cfg, |bed| {
        let text = manifest(spec, bed).replace("      - unit: web.service\n", &check);
        format!("{text}metrics: {{ listen: '0.0.0.0:{METRICS_PORT}' }}\n")
    })
}

/// Whether `node` holds the VIP and whether it runs the web unit.
fn holds(c: &Cluster, node: &str) -> (bool, bool) {
    let vip = vip(&c.bed);
    (
        c.has_vip(node, vip),
        c.unit_state(node, "web.service") == "active",
    )
}

/// Runs `fault` on alpha, then watches until beta alone holds the group (never both at
/// once); the time it took. Beta is looked at before alpha: a copy seen on alpha after one
/// was seen on beta ran on both at once (the other order would see a handoff that fell
/// between the two looks as an overlap).
fn moved_after(c: &Cluster, fault: &str) -> Duration {
    c.sh("alpha", fault).unwrap();
    let began = Instant::now();
    loop {
        let (on_beta, on_alpha) = (holds(c, "beta"), holds(c, "alpha"));
        let (vip_twice, unit_twice) = (on_beta.0 && on_alpha.0, on_beta.1 && on_alpha.1);
        assert!(
            !vip_twice && !unit_twice,
            "two holders at once: (VIP, unit) on beta {on_beta:?}, on alpha {on_alpha:?}\n{}",
            journals(c)
        );
        if on_beta == (true, true) && on_alpha == (false, false) {
            let took = began.elapsed();
            stopped_before_started(c);
            return took;
        }
        assert!(
            began.elapsed() < Duration::from_secs(15),
            "the group did not move\n{}",
            journals(c)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// When `node`'s systemd last logged a message of web.service starting with `prefix`, in
/// microseconds of the machine's monotonic clock (the hosts share the kernel); 0 if never.
fn logged_at(c: &Cluster, node: &str, prefix: &str) -> u64 {
    let out = c
        .sh(node, "journalctl --no-pager -o json -u web.service")
        .unwrap();
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["MESSAGE"].as_str().is_some_and(|m| m.starts_with(prefix)))
        .filter_map(|v| v["__MONOTONIC_TIMESTAMP"].as_str()?.parse().ok())
        .max()
        .unwrap_or(0)
}

/// systemd on alpha said the unit stopped before systemd on beta said it started (a simple
/// service: its process runs from then): no
/// overlap, by the journal's clock (a message is stamped when journald takes it, a moment
/// after the fact, on both sides alike).
fn stopped_before_started(c: &Cluster) {
    let stopped = logged_at(c, "alpha", "Stopped ");
    let starting = logged_at(c, "beta", "Started ");
    assert!(
        stopped > 0 && stopped <= starting,
        "web.service stopped on alpha at {stopped} us, started on beta at {starting} us\n{}",
        journals(c)
    );
    eprintln!(
        "web.service: stopped on alpha {} ms before it started on beta",
        (starting - stopped) / 1000
    );
}

fn bound(spec: &Spec) -> Duration {
    Duration::from_millis(FALL * INTERVAL_MS + spec.timers.dead_ms)
}

/// Waits until status on `node` shows the check passing.
fn passing_on(c: &Cluster, node: &str) {
    cluster::wait_for(
        &format!("the check passes on {node}"),
        Duration::from_secs(5),
        || ctl_stdout(c, node, &["status"]).contains("): passing, "),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", ctl_stdout(c, node, &["status"])));
}

/// Applies `fault` on the holder and checks the group moved within `fall x interval + dead
/// window` and the margin.
fn moves_within_the_bound(c: &Cluster, spec: &Spec, what: &str, fault: &str) {
    let took = moved_after(c, fault);
    eprintln!(
        "{what}: the group moved in {} ms (bound {} ms + {MARGIN_MS} ms margin)",
        took.as_millis(),
        bound(spec).as_millis()
    );
    assert!(
        took <= bound(spec) + Duration::from_millis(MARGIN_MS),
        "moved in {took:?}\n{}",
        journals(c)
    );
}

#[test]
fn an_http_check_that_starts_failing_moves_the_group_and_status_names_it() {
    let spec = Spec {
        web_extra: "    on_failure: move\n",
        failback: false,
        ..Spec::two("hch", 135)
    };
    let check = format!(
        "{{ http: 'http://127.0.0.1:8081/ok', interval: {INTERVAL_MS}ms, timeout: 250ms, fall: {FALL}, rise: 2 }}"
    );
    let Some(c) = checked_cluster(&spec, &check, true, None) else {
        return;
    };
    start_on(&c, &["alpha", "beta"], "alpha");
    // Passing on alpha after `rise` runs: the group stays.
    passing_on(&c, "alpha");
    assert_eq!(never_twice(&c, Duration::from_secs(2)), ["alpha"]);
    // The service stops serving its health page on alpha: 404 from now on.
    moves_within_the_bound(&c, &spec, "http check", "rm /run/health/ok");
    let status = ctl_stdout(&c, "alpha", &["status"]);
    assert!(
        status.contains("check of web.service (http http://127.0.0.1:8081/ok (expects 200)): failing, 3 failed run(s) in a row; last error: http://127.0.0.1:8081/ok answered 404, not 200"),
        "{status}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ctl_stdout(&c, "alpha", &["status", "--json"])).unwrap();
    let check = &json["groups"]["web"]["checks"][0];
    assert_eq!(check["state"], "failing", "{json}");
    assert_eq!(check["consecutive"], 3, "{json}");
    assert_eq!(check["running"], false, "{json}");
    let log = c.journal("alpha");
    assert!(
        log.contains("web.service failed its check (http http://127.0.0.1:8081/ok (expects 200)) 3 time(s) in a row"),
        "{log}"
    );
    // On beta the page is there: the check passes and runs on.
    passing_on(&c, "beta");
    assert_eq!(never_twice(&c, Duration::from_secs(2)), ["beta"]);
    // The metrics say the same: failing (and stopped) on alpha, passing on beta.
    for (node, state, running) in [("alpha", "failing", 0.0), ("beta", "passing", 1.0)] {
        let (text, _) = scrape(&c, node);
        let s = samples(&text);
        let labels = "group=\"web\",resource=\"web.service\"";
        for st in ["passing", "failing", "unknown", "idle"] {
            let series = format!("haagent_check_state{{{labels},state=\"{st}\"}}");
            let want = f64::from(st == state);
            assert_eq!(s.get(&series), Some(&want), "{series} on {node}:\n{text}");
        }
        let series = format!("haagent_check_running{{{labels}}}");
        assert_eq!(s.get(&series), Some(&running), "{node}:\n{text}");
        let series = format!("haagent_check_consecutive{{{labels}}}");
        assert!(s.get(&series).is_some_and(|n| *n >= 2.0), "{node}:\n{text}");
    }
}

#[test]
fn an_exec_check_runs_as_a_transient_unit_and_moves_the_group() {
    let spec = Spec {
        web_extra: "    on_failure: move\n",
        failback: false,
        ..Spec::two("hce", 136)
    };
    let check = format!(
        "{{ exec: [/usr/bin/test, -e, /run/healthy], interval: {INTERVAL_MS}ms, timeout: 400ms, fall: {FALL} }}"
    );
    let Some(c) = checked_cluster(&spec, &check, false, None) else {
        return;
    };
    for h in c.bed.hosts() {
        h.write_file("/run/healthy", b"", 0o644).unwrap();
    }
    start_on(&c, &["alpha", "beta"], "alpha");
    passing_on(&c, "alpha");
    // Each run is a unit of its own, in systemd's journal, not a process of the agent.
    let runs = c
        .sh(
            "alpha",
            "journalctl --no-pager -o cat | grep -c 'haagent check of web\\[1\\]' || true",
        )
        .unwrap();
    assert!(runs.trim().parse::<u32>().unwrap_or(0) >= 1, "{runs}");
    moves_within_the_bound(&c, &spec, "exec check", "rm /run/healthy");
    let status = ctl_stdout(&c, "alpha", &["status"]);
    assert!(
        status.contains("check of web.service (exec /usr/bin/test -e /run/healthy): failing"),
        "{status}"
    );
    assert!(status.contains("the command failed"), "{status}");
}

// Input: an exec check that fails while /run/wedged exists, with the default `on_failure`
// (restart in place, once in ten minutes); the web unit's start removes the marker, as a
// restart clears a wedged service. The marker appears on alpha, the holder. Output: after
// `fall` failed runs alpha restarts web.service in place (a new MainPID), the check passes
// again, and the group never leaves alpha.
#[test]
fn a_failing_check_restarts_its_unit_in_place_and_the_group_stays() {
    let spec = Spec::two("hcr", 138);
    let check = format!(
        "{{ exec: [/usr/bin/test, '!', -e, /run/wedged], interval: {INTERVAL_MS}ms, timeout: 400ms, fall: {FALL} }}"
    );
    let wedge_cleared = Some("/bin/rm -f /run/wedged");
    let Some(c) = checked_cluster(&spec, &check, false, wedge_cleared) else {
        return;
    };
    start_on(&c, &["alpha", "beta"], "alpha");
    passing_on(&c, "alpha");
    let before = main_pid(&c, "alpha", "web.service");
    c.sh("alpha", "touch /run/wedged").unwrap();
    let began = Instant::now();
    let restarted = |pid: u32| pid != 0 && pid != before;
    cluster::wait_for("web.service restarted on alpha", bound(&spec), || {
        restarted(main_pid(&c, "alpha", "web.service"))
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    eprintln!(
        "exec check: web.service restarted in place {} ms after the fault (fall {FALL} x {INTERVAL_MS} ms)",
        began.elapsed().as_millis()
    );
    passing_on(&c, "alpha");
    assert_eq!(
        never_twice(&c, Duration::from_secs(1)),
        ["alpha"],
        "{}",
        journals(&c)
    );
    let log = c.journal("alpha");
    assert!(
        log.contains(
            "web.service failed its check (exec /usr/bin/test ! -e /run/wedged) 3 time(s) in a row"
        ) && log.contains("restarting it in place (1 of 1 within 600s)"),
        "{log}"
    );
    assert!(!log.contains("web: release:"), "{log}");
}

#[test]
fn a_tracked_interface_without_carrier_moves_the_group() {
    let spec = Spec {
        failback: false,
        ..Spec::two("hct", 137)
    };
    let vip = Ipv4Addr::new(10, 98, spec.subnet, VIP_LAST);
    let cfg = Config::new(spec.prefix, [10, 98, spec.subnet], spec.nodes.len())
        .named(spec.nodes)
        .unit("web.service", &echo_unit(vip), false);
    // A second VIP on one end of a veth pair in each host: the other end down, `dum0` is up
    // without a carrier (NO-CARRIER), as with a cable pulled.
    let tracked = "      - vip: 192.0.2.60/32\n        interface: dum0\n        track_interface: true\n      - unit: web.service\n";
    let Some(c) = cluster_of(cfg, |bed| {
        manifest(&spec, bed).replace("      - unit: web.service\n", tracked)
    }) else {
        return;
    };
    for node in spec.nodes {
        c.sh(
            node,
            "ip link add dum0 type veth peer name dum1 && ip link set dum0 up && ip link set dum1 up",
        )
        .unwrap();
    }
    start_on(&c, &["alpha", "beta"], "alpha");
    assert_eq!(never_twice(&c, Duration::from_secs(1)), ["alpha"]);
    let took = moved_after(&c, "ip link set dum1 down");
    eprintln!(
        "track_interface: the group moved in {} ms (dead_after {} ms)",
        took.as_millis(),
        spec.timers.dead_ms
    );
    assert!(
        took <= Duration::from_millis(spec.timers.dead_ms),
        "moved in {took:?}\n{}",
        journals(&c)
    );
    let status = ctl_stdout(&c, "alpha", &["status"]);
    assert!(
        status.contains("alpha may not run it: interface dum0 has no carrier (track_interface)"),
        "{status}"
    );
    assert!(
        c.journal("alpha")
            .contains("interface dum0 lost its carrier (track_interface): the group moves"),
        "{}",
        c.journal("alpha")
    );
    // The carrier back: nothing moves (no failback).
    c.sh("alpha", "ip link set dum1 up").unwrap();
    assert_eq!(never_twice(&c, Duration::from_secs(2)), ["beta"]);
}
