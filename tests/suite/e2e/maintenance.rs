//! Maintenance on real hosts, the upgrade procedure of the README: `maintenance on`, the
//! holder's agent restarted (`systemctl restart haagent`, as a package upgrade does), then
//! `maintenance off`. The web unit keeps its process, the client sees no gap, and `off`
//! changes nothing.

use super::*;

/// Whether `node`'s status says the whole cluster is in maintenance (`want`).
fn says_maintenance(c: &Cluster, node: &str, want: bool) -> bool {
    let out = c.ctl(node, &["status", "--json"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .is_ok_and(|v| v["maintenance"] == serde_json::json!(want))
}

#[test]
fn an_agent_restarted_in_maintenance_leaves_its_service_alone_and_off_changes_nothing() {
    let spec = Spec::two("opm", 115);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let pid = main_pid(&c, "alpha", "web.service");
    assert!(pid > 0, "{pid}");
    ctl_stdout(&c, "beta", &["maintenance", "on"]);
    for node in ["alpha", "beta"] {
        cluster::wait_for("maintenance on", Duration::from_secs(5), || {
            says_maintenance(&c, node, true)
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    }
    let text = ctl_stdout(&c, "alpha", &["status"]);
    assert!(text.contains("MAINTENANCE"), "{text}");
    let p = probe(&c);
    std::thread::sleep(Duration::from_millis(300));
    let restarted = Instant::now();
    c.sh("alpha", "systemctl restart haagent").unwrap();
    // Back, in maintenance from its checkpoint, and again running web (adopted).
    cluster::wait_for("alpha's agent back", Duration::from_secs(10), || {
        says_maintenance(&c, "alpha", true)
            && ctl_stdout(&c, "alpha", &["status"]).contains("running on alpha")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    let back = restarted.elapsed();
    // Past a dead window: beta may have counted alpha dead meanwhile; it took nothing.
    let seen = never_twice(&c, Duration::from_millis(spec.timers.dead_ms * 2));
    assert_eq!(seen, ["alpha"]);
    ctl_stdout(&c, "alpha", &["maintenance", "off"]);
    for node in ["alpha", "beta"] {
        cluster::wait_for("maintenance off", Duration::from_secs(5), || {
            says_maintenance(&c, node, false)
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    }
    let seen = never_twice(&c, Duration::from_millis(spec.timers.dead_ms * 2));
    assert_eq!(seen, ["alpha"]);
    let r = p.stop().unwrap();
    eprintln!("maintenance: agent back in {back:?}; client: {}", said(&r));
    assert_eq!(
        main_pid(&c, "alpha", "web.service"),
        pid,
        "web.service was restarted"
    );
    assert!(
        r.longest_gap <= Duration::from_millis(50),
        "{}\n{}",
        said(&r),
        journals(&c)
    );
    assert_eq!(r.by_host.len(), 1, "{}", said(&r));
    let alpha = c.journal("alpha");
    assert!(alpha.contains("left running, untouched"), "{alpha}");
    assert!(alpha.contains("adopted"), "{alpha}");
    // Nothing was started or stopped by either agent after the first start.
    let beta = c.journal("beta");
    assert!(!beta.contains("web: acquire:"), "{beta}");
    wait_holder(&c, "alpha", Duration::from_secs(1));
}
