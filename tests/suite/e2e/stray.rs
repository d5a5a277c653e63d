//! Stray copies on real hosts (issue 17): `systemctl start web.service` on beta while alpha
//! holds the group. By default (a stateful group) beta's agent stops that copy within one
//! interval plus its stop time, alpha's copy keeps its MainPID, and the journal names the
//! stray start; with `on_stray: warn` the copy runs on and beta's status reports it.

use super::*;

/// The web unit's MainPID on `node`.
/// When systemd on `node` first logged each of `words` about the web unit (its own
/// monotonic clock, µs): the unit's own timestamps are gone once an inactive unit is unloaded.
fn logged(c: &Cluster, node: &str, words: &[&str]) -> Vec<u64> {
    let out = c
        .sh(
            node,
            "journalctl -u web.service -o short-monotonic --no-pager",
        )
        .unwrap();
    let at = |word: &str| {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("{word} web.service")))
            .unwrap_or_else(|| panic!("no {word:?} in\n{out}"));
        let stamp = line.trim_start_matches('[').split(']').next().unwrap_or("");
        let secs: f64 = stamp
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        (secs * 1e6) as u64
    };
    words.iter().map(|w| at(w)).collect()
}

/// Boots a two-node cluster of `spec` whose web group has `extra` in its definition, and
/// starts it on alpha.
fn held_by_alpha(spec: &Spec, extra: &'static str) -> Option<Cluster> {
    let vip = Ipv4Addr::new(10, 98, spec.subnet, VIP_LAST);
    let cfg = Config::new(spec.prefix, [10, 98, spec.subnet], spec.nodes.len())
        .named(spec.nodes)
        .unit("web.service", &echo_unit(vip), false);
    let c = cluster_of(cfg, |bed| {
        manifest(spec, bed).replace(
            "    failback: true\n",
            &format!("    failback: true\n{extra}"),
        )
    })?;
    start_on(&c, &["alpha", "beta"], "alpha");
    Some(c)
}

/// beta's status as JSON: its own list of strays.
fn strays_on_beta(c: &Cluster) -> Vec<serde_json::Value> {
    let out = c.ctl("beta", &["status", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    s["nodes"]["beta"]["strays"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_unit_started_by_hand_where_its_group_is_not_held_is_stopped_within_an_interval() {
    let spec = Spec::two("sty", 110);
    let Some(c) = held_by_alpha(&spec, "") else {
        return;
    };
    let holder_pid = main_pid(&c, "alpha", "web.service");
    // The agent's stop replaces the start job, so `systemctl start` may report it cancelled.
    let said = c
        .sh("beta", "systemctl start web.service 2>&1; echo rc=$?")
        .unwrap();
    cluster::wait_for(
        "the stray copy on beta stopped",
        Duration::from_secs(5),
        || c.unit_state("beta", "web.service") == "inactive",
    )
    .unwrap_or_else(|e| panic!("{e}\n{said}\n{}", journals(&c)));
    // systemd's own clock on beta: from the start to the stop's start, and the stop itself.
    let [began, stop_began, ended] = logged(&c, "beta", &["Started", "Stopping", "Stopped"])[..]
    else {
        unreachable!("three words, three times")
    };
    let stop_began = stop_began.max(began);
    let ms = |us: u64| Duration::from_micros(us);
    let (seen_in, lived) = (
        ms(stop_began.saturating_sub(began)),
        ms(ended.saturating_sub(began)),
    );
    let stop_took = ms(ended.saturating_sub(stop_began));
    eprintln!(
        "stray copy: stop began after {seen_in:?}, ran {lived:?} in all (its stop {stop_took:?}); systemctl said {said:?}"
    );
    let interval = Duration::from_millis(spec.timers.interval_ms);
    assert!(
        began > 0 && ended > began && lived <= interval + stop_took,
        "the stray copy ran {lived:?}, more than one interval ({interval:?}) plus its stop ({stop_took:?})\n{}",
        journals(&c)
    );
    assert_eq!(
        main_pid(&c, "alpha", "web.service"),
        holder_pid,
        "the holder was disturbed"
    );
    assert_eq!(never_twice(&c, Duration::from_secs(1)), ["alpha"]);
    let journal = c.journal("beta");
    assert!(
        journal.contains("web.service is")
            && journal.contains("but this node does not hold it (alpha holds the group)")
            && journal.contains("started by invocation ")
            && journal.contains("stopping this copy")
            && journal.contains("the stray copy is stopped"),
        "{journal}"
    );
    let text = String::from_utf8_lossy(&c.ctl("beta", &["status"]).stdout).to_string();
    eprintln!("{text}");
    assert!(
        text.contains("stray web.service of web") && text.contains(": stopped; alpha held"),
        "{text}"
    );
    let listed = strays_on_beta(&c);
    assert_eq!(
        listed.len(),
        1,
        "{listed:?}\n{}",
        c.sh(
            "beta",
            "journalctl -o short-monotonic --no-pager | tail -30"
        )
        .unwrap()
    );
    assert_eq!(listed[0]["action"], "stopped");
    assert_eq!(listed[0]["holder"], "alpha");
}

#[test]
fn with_on_stray_warn_a_copy_started_by_hand_runs_on_and_is_reported() {
    let spec = Spec::two("stw", 111);
    let Some(c) = held_by_alpha(&spec, "    on_stray: warn\n") else {
        return;
    };
    let holder_pid = main_pid(&c, "alpha", "web.service");
    c.sh("beta", "systemctl start web.service").unwrap();
    // Several intervals: nothing stops it.
    std::thread::sleep(Duration::from_millis(spec.timers.interval_ms * 6));
    assert_eq!(
        c.unit_state("beta", "web.service"),
        "active",
        "{}",
        journals(&c)
    );
    assert_eq!(
        main_pid(&c, "alpha", "web.service"),
        holder_pid,
        "the holder was disturbed"
    );
    let journal = c.journal("beta");
    assert!(
        journal.contains("left running (on_stray: warn)")
            && journal.contains("started by invocation "),
        "{journal}"
    );
    assert_eq!(
        journal.matches("left running (on_stray: warn)").count(),
        1,
        "logged once, not at every state change:\n{journal}"
    );
    let text = String::from_utf8_lossy(&c.ctl("beta", &["status"]).stdout).to_string();
    eprintln!("{text}");
    assert!(text.contains("left running (on_stray: warn)"), "{text}");
    let listed = strays_on_beta(&c);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["action"], "left_running");
    assert_eq!(listed[0]["group"], "web");
}
