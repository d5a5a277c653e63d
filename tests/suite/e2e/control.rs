//! The operator's commands on real hosts: given on any node, they act cluster-wide; names are
//! checked; exit codes tell health; the D-Bus interface has its properties and signals; an
//! agent that holds its bus name but does not answer is reported within the call timeout.

use std::time::{Duration, Instant};

use super::*;

fn ctl_ok(c: &Cluster, node: &str, args: &[&str]) -> String {
    let out = c.ctl(node, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "haagentctl {args:?} on {node}: {text}"
    );
    text
}

#[test]
fn operator_commands_act_cluster_wide_and_are_checked() {
    let spec = Spec::two("e2o", 53);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    c.sh(
        "alpha",
        "systemd-run --quiet --unit=mon busctl monitor --match \"type='signal',interface='org.haagent.Agent1'\"",
    )
    .unwrap();

    // Given on beta, about alpha: alpha gives the group up.
    ctl_ok(&c, "beta", &["standby", "alpha"]);
    wait_holder(&c, "beta", Duration::from_secs(5));
    let status = ctl_ok(&c, "alpha", &["status"]);
    assert!(status.contains("standby"), "{status}");
    ctl_ok(&c, "alpha", &["online"]);
    wait_holder(&c, "alpha", Duration::from_secs(5));

    // No group: everything leaves this node (hb_standby), and waits until it has.
    let said = ctl_ok(&c, "alpha", &["failover"]);
    assert!(said.contains("alpha is in standby"), "{said}");
    wait_holder(&c, "beta", Duration::from_secs(5));
    let role = c
        .sh(
            "beta",
            "busctl get-property org.haagent.Agent1 /org/haagent/Agent1 org.haagent.Agent1 Role",
        )
        .unwrap();
    assert_eq!(role.trim(), "s \"active\"");

    // Both in standby: nothing may run web, and status says so with exit code 1.
    ctl_ok(&c, "alpha", &["standby", "beta"]);
    cluster::wait_for("web stopped", Duration::from_secs(5), || {
        c.unit_holders("web.service").is_empty()
    })
    .unwrap();
    cluster::wait_for("status to see it", Duration::from_secs(3), || {
        c.ctl("alpha", &["status"]).status.code() == Some(1)
    })
    .unwrap();
    ctl_ok(&c, "beta", &["online", "beta"]);
    ctl_ok(&c, "beta", &["online", "alpha"]);
    wait_holder(&c, "alpha", Duration::from_secs(5));
    assert_eq!(c.ctl("alpha", &["status"]).status.code(), Some(0));

    // Unknown names are refused with what exists.
    let out = c.ctl("alpha", &["failover", "nosuch", "--to", "beta"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`web`"));
    let out = c.ctl("alpha", &["standby", "gamma"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown node `gamma`"));

    // Every ownership change was signalled on the bus.
    let mon = c.sh("alpha", "journalctl -u mon -o cat").unwrap();
    assert!(
        mon.contains("Changed") && mon.contains("\"acquire\""),
        "{mon}"
    );

    // Without an agent, haagentctl says so with exit code 3.
    c.sh("beta", "systemctl stop haagent").unwrap();
    let out = c.ctl("beta", &["status"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Timers that leave a frozen agent alone for a while: its watchdog bound is
/// (dead_after - warn_after) / 2 = 5 s.
const PATIENT: Timers = Timers {
    interval_ms: 500,
    warn_ms: 2000,
    dead_ms: 12_000,
    initial_ms: 12_000,
};

/// Continues a stopped process when dropped, even if the test fails.
struct Thaw<'a>(&'a Cluster, &'a str, u32);

impl Drop for Thaw<'_> {
    fn drop(&mut self) {
        let _ = self.0.sh(self.1, &format!("kill -CONT {}", self.2));
    }
}

#[test]
fn a_frozen_agent_is_reported_within_the_call_timeout() {
    let spec = Spec {
        timers: PATIENT,
        ..Spec::two("ctf", 65)
    };
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let pid = main_pid(&c, "alpha", "haagent");
    assert!(pid > 0, "the agent runs no process");
    c.sh("alpha", &format!("kill -STOP {pid}")).unwrap();
    let thaw = Thaw(&c, "alpha", pid);

    // It still holds org.haagent.Agent1, so only a time limit ends the call.
    let started = Instant::now();
    let out = c.ctl("alpha", &["--call-timeout", "1", "status"]);
    let took = started.elapsed();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(5), "{said}");
    assert!(
        said.contains("did not answer") && said.contains("within 1s"),
        "{said}"
    );
    assert!(took < Duration::from_millis(2500), "took {took:?}: {said}");

    let out = c.ctl("alpha", &["status", "--json", "--call-timeout", "0.5"]);
    assert_eq!(out.status.code(), Some(5));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["kind"], "timeout", "{e}");
    assert!(e["error"].as_str().unwrap().contains("did not answer"));

    // Thawed before its watchdog fired, it answers again, unrestarted.
    drop(thaw);
    cluster::wait_for("status to answer", Duration::from_secs(3), || {
        c.ctl("alpha", &["status"]).status.code() == Some(0)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    assert_eq!(
        main_pid(&c, "alpha", "haagent"),
        pid,
        "the agent was restarted"
    );
}
