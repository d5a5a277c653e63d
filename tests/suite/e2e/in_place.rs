//! Restart in place on real hosts: `systemctl restart` of the managed unit on the holder is
//! no failure (the group stays); a unit killed is started again in place once, and killed a
//! second time within the window (default: once in ten minutes) its group moves.

use super::*;

#[test]
fn a_restarted_unit_stays_and_a_killed_one_is_restarted_once_then_moves() {
    let spec = Spec::two("opr", 116);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let first = main_pid(&c, "alpha", "web.service");
    // An operator's restart: deactivating with a restart job queued, then active again.
    c.sh("alpha", "systemctl restart web.service").unwrap();
    let seen = never_twice(&c, Duration::from_millis(spec.timers.dead_ms));
    assert_eq!(seen, ["alpha"], "{}", journals(&c));
    let second = main_pid(&c, "alpha", "web.service");
    assert!(second != 0 && second != first, "{first} -> {second}");
    let log = c.journal("alpha");
    assert!(!log.contains("web: release:"), "{log}");
    assert!(!log.contains("restarting it in place"), "{log}");
    // A crash: the agent starts it again here, once.
    c.sh("alpha", "systemctl kill -s KILL web.service").unwrap();
    cluster::wait_for("web restarted on alpha", Duration::from_secs(5), || {
        let pid = main_pid(&c, "alpha", "web.service");
        pid != 0 && pid != second && c.unit_state("alpha", "web.service") == "active"
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    let seen = never_twice(&c, Duration::from_millis(spec.timers.dead_ms));
    assert_eq!(seen, ["alpha"], "{}", journals(&c));
    let log = c.journal("alpha");
    assert!(log.contains("restarting it in place (1 of 1"), "{log}");
    // A second crash within the window: the group moves to beta, with no overlap.
    std::thread::sleep(Duration::from_millis(300));
    c.sh("alpha", "systemctl kill -s KILL web.service").unwrap();
    wait_holder(&c, "beta", Duration::from_secs(10));
    let log = c.journal("alpha");
    assert!(log.contains("the group moves"), "{log}");
    let seen = never_twice(&c, Duration::from_millis(500));
    assert_eq!(seen, ["beta"]);
}
